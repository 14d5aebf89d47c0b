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
    }
]

# --- delegation: the user CA that the cluster's sshd trusts ----------------------------------------
c.CertificateAuthority.ca_key_file = str(demo / "ca" / "user_ca")
c.CertificateAuthority.certificate_lifetime = 300
c.ConnectionPool.max_channels = 64  # the dev sshd allows MaxSessions 100

# --- the hub --------------------------------------------------------------------------------------
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = 8000
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{demo / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(demo / "hub" / "cookie_secret")
c.JupyterHub.pid_file = str(demo / "pids" / "hub.pid")
c.ConfigurableHTTPProxy.pid_file = str(demo / "pids" / "proxy.pid")

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

# Users reach the service with their browser session or with a token of this scope.
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", "access:services!service=firecrest"]},
]

# Scripts and tests make user tokens through the hub's REST API with this admin token.
admin_token_file = demo / "admin.token"
if admin_token_file.exists():
    c.JupyterHub.services.append({"name": "demo-admin", "api_token": admin_token_file.read_text().strip()})
    c.JupyterHub.load_roles.append({"name": "admin", "services": ["demo-admin"]})
