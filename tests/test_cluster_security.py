"""The dev cluster against a local attacker: bob, a real second Linux user of the machine, goes after
what alice staged and after the demo's state, with the tools any user has (curl, a copy of `weed`).

SeaweedFS's internal ports (master 9333, volume server 8380, filer 8888, their gRPC at +10000) must give
him nothing: JWT on the volume server, the master's and filer's HTTP APIs off, mutual TLS on gRPC. Only
the S3 endpoint answers, and only with the credentials or a presigned URL. `.demo` (hub database,
cookie secret, logs, keys) is root's alone. See devcluster/README.md, "Securing the object store"."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig

from firecrest_hub.staging import ObjectStore

pytestmark = pytest.mark.cluster

ATTACKER = "bob"
MASTER, VOLUME, FILER, S3 = 9333, 8380, 8888, 8333
GRPC_PORTS = {"master": MASTER + 10000, "volume": VOLUME + 10000, "filer": FILER + 10000, "s3": S3 + 10000}
DAEMON_LOGS = ["hub.log", "weed.log", "sshd.log", "slurmctld.log", "slurmd.log", "slurmdbd.log", "munged.log",
               "mariadb.log", "supervisord.log"]
ROOT = Path(__file__).resolve().parent.parent


def weed_pid() -> str:
    """The pid of SeaweedFS, a program of the dev cluster's supervisord."""
    pid = subprocess.run(["bash", str(ROOT / "devcluster" / "cluster.sh"), "ctl", "pid", "weed"],
                         capture_output=True, text=True, timeout=60).stdout.strip()
    assert pid.isdigit() and pid != "0", f"weed is not running: {pid!r}"
    return pid


def as_attacker(*argv: str, timeout: float = 20, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run argv as bob (from a directory he may enter), the way he would from his own shell. On a timeout the
    whole process group goes (runuser's child, e.g. a `weed shell` that keeps retrying, would outlive it)."""
    with subprocess.Popen(["runuser", "-u", ATTACKER, "--", *argv], cwd="/", stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(proc.args, timeout, out, err) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def curl_as_attacker(*args: str) -> tuple[int, dict[str, str], bytes]:
    """curl as bob -> (status, lower-cased headers, body); status 0 if no HTTP answer came at all."""
    with tempfile.TemporaryDirectory() as scratch:
        os.chmod(scratch, 0o777)
        body_file = Path(scratch) / "body"
        result = as_attacker("curl", "-s", "-m", "10", "-D", "-", "-o", str(body_file), *args)
        body = body_file.read_bytes() if body_file.exists() else b""
    lines = result.stdout.decode(errors="replace").splitlines()
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:]) if v}
    return status, headers, body


@pytest.fixture(scope="module")
def store(demo_config) -> ObjectStore:
    return ObjectStore(config=demo_config)


@pytest.fixture(scope="module")
def s3(store):
    return boto3.client("s3", endpoint_url=store.endpoint_url, aws_access_key_id=store.access_key,
                        aws_secret_access_key=store.secret_key, region_name=store.region,
                        config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}))


@pytest.fixture(scope="module")
def weed() -> str:
    return Path(f"/proc/{weed_pid()}/exe").resolve().as_posix()


@pytest.fixture(scope="module")
def staged(s3, store, demo_dir, weed):
    """alice's object in the staging bucket, put through S3 (1 MiB: stored in volume chunks, not inline in
    the filer), and the file id of its first chunk, which root's `weed shell` (with the certificates) tells."""
    try:
        s3.head_bucket(Bucket=store.bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=store.bucket)
    key = f"alice/security-test-{uuid.uuid4().hex}"
    data = os.urandom(1024 * 1024)
    s3.put_object(Bucket=store.bucket, Key=key, Body=data)
    shell = subprocess.run([weed, f"-config_dir={demo_dir / 's3'}", "shell", f"-master=127.0.0.1:{MASTER}",
                            f"-filer=127.0.0.1:{FILER}"], input=f"fs.meta.cat /buckets/{store.bucket}/{key}\n",
                           capture_output=True, text=True, timeout=60, cwd=demo_dir / "s3")
    fids = re.findall(r'"fileId":\s*"([0-9]+,[0-9a-f]+)"', shell.stdout)
    assert fids, f"root's weed shell found no chunk of the object:\n{shell.stdout}\n{shell.stderr}"
    yield {"bucket": store.bucket, "key": key, "data": data, "fid": fids[0]}
    s3.delete_object(Bucket=store.bucket, Key=key)


def object_intact(s3, staged) -> bool:
    return s3.get_object(Bucket=staged["bucket"], Key=staged["key"])["Body"].read() == staged["data"]


# ---- the object store's internal ports ----------------------------------------------------------------

def test_filer_http_lists_reads_and_deletes_nothing(s3, staged):
    folder = f"http://127.0.0.1:{FILER}/buckets/{staged['bucket']}/alice/"
    obj = f"http://127.0.0.1:{FILER}/buckets/{staged['bucket']}/{staged['key']}"
    name = staged["key"].rsplit("/", 1)[1].encode()
    for what, args in {"list": ["-H", "Accept: application/json", folder], "read": [obj],
                       "delete": ["-X", "DELETE", obj]}.items():
        status, _, body = curl_as_attacker(*args)
        assert status in (401, 403, 404), f"filer {what}: {status} {body[:200]!r}"
        assert name not in body and staged["data"][:64] not in body, f"filer {what} leaked the object"
    assert object_intact(s3, staged)


def test_volume_server_serves_and_deletes_no_chunk_without_a_jwt(s3, staged):
    chunk = f"http://127.0.0.1:{VOLUME}/{staged['fid']}"
    status, _, body = curl_as_attacker(chunk)
    assert status in (401, 403), f"volume GET {staged['fid']}: {status}"
    assert staged["data"][:64] not in body
    status, _, _ = curl_as_attacker("-X", "DELETE", chunk)
    assert status in (401, 403), f"volume DELETE {staged['fid']}: {status}"
    assert object_intact(s3, staged)


@pytest.mark.parametrize("path", ["/dir/lookup?fileId={fid}", "/dir/lookup?fileId={fid}&read=yes", "/dir/assign"])
def test_master_hands_out_no_locations_or_jwts(staged, path):
    status, headers, body = curl_as_attacker(f"http://127.0.0.1:{MASTER}{path.format(fid=staged['fid'])}")
    assert "authorization" not in headers, f"master gave bob a JWT: {headers['authorization'][:40]}..."
    assert status != 200 and b'"url"' not in body and b'"fid"' not in body, f"{status} {body[:200]!r}"


@pytest.mark.parametrize("component", sorted(GRPC_PORTS))
def test_grpc_ports_answer_no_call_without_a_client_certificate(component):
    port = GRPC_PORTS[component]
    empty_request = ["-X", "POST", "-H", "content-type: application/grpc", "-H", "te: trailers",
                     "--data-binary", ""]
    # plaintext HTTP/2 (what a gRPC server without TLS answers), then TLS without a certificate
    for args in (["--http2-prior-knowledge", f"http://127.0.0.1:{port}/master_pb.Seaweed/VolumeList"],
                 ["-k", "--http2", f"https://127.0.0.1:{port}/master_pb.Seaweed/VolumeList"]):
        status, headers, _ = curl_as_attacker(*empty_request, *args)
        assert status == 0 and "grpc-status" not in headers, f"{component} gRPC {args[-1]}: HTTP {status} {headers}"


def test_weed_shell_of_another_user_gets_nothing(demo_dir, weed):
    """bob's own copy of weed: it finds no certificates (his directory, $HOME/.seaweedfs and /etc/seaweedfs
    hold none, and he cannot read .demo/s3), so the TLS-only gRPC ports refuse it and it shows nothing."""
    scratch = Path(tempfile.mkdtemp(prefix="attacker-weed-"))
    try:
        os.chmod(scratch, 0o755)
        shutil.copy(weed, scratch / "weed")
        os.chmod(scratch / "weed", 0o755)
        for config_dir in (scratch, demo_dir / "s3"):
            started = time.monotonic()
            try:
                result = as_attacker(str(scratch / "weed"), f"-config_dir={config_dir}", "shell",
                                     f"-master=127.0.0.1:{MASTER}", f"-filer=127.0.0.1:{FILER}",
                                     stdin=b"volume.list\nfs.ls /buckets\n", timeout=5)
                out = (result.stdout + result.stderr).decode(errors="replace")
            except subprocess.TimeoutExpired as stuck:  # it keeps retrying the handshake: it got nowhere
                out = ((stuck.stdout or b"") + (stuck.stderr or b"")).decode(errors="replace")
            assert "DataNode" not in out and "firecrest-staging" not in out and "Topology" not in out, out
            assert time.monotonic() - started < 30
    finally:
        shutil.rmtree(scratch)


def test_seaweedfs_runs_with_the_private_security_config(demo_dir, weed):
    cmdline = Path(f"/proc/{weed_pid()}/cmdline").read_text().split("\0")
    config_dirs = [Path(arg.split("=", 1)[1]).resolve() for arg in cmdline if arg.startswith("-config_dir=")]
    assert config_dirs == [(demo_dir / "s3").resolve()] and "-disableHttp" in cmdline, cmdline
    config = demo_dir / "s3" / "security.toml"
    info = config.stat()
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o600
    text = config.read_text()
    for section in ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read"):
        assert re.search(rf'^\[{re.escape(section)}\]\nkey = "[0-9a-f]{{64}}"$', text, re.M), section
    tls = demo_dir / "s3" / "tls"
    assert stat.S_IMODE(tls.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 and f.stat().st_uid == 0 for f in tls.iterdir())


def test_s3_with_credentials_and_presigned_urls_still_works(s3, store):
    key = f"alice/security-test-{uuid.uuid4().hex}"
    try:
        s3.put_object(Bucket=store.bucket, Key=key, Body=b"still here")
        assert s3.get_object(Bucket=store.bucket, Key=key)["Body"].read() == b"still here"
        listed = s3.list_objects_v2(Bucket=store.bucket, Prefix=key)
        assert [o["Key"] for o in listed.get("Contents", [])] == [key]
        # what users do: fetch with a presigned URL, from their own account
        url = s3.generate_presigned_url("get_object", Params={"Bucket": store.bucket, "Key": key}, ExpiresIn=60)
        status, _, body = curl_as_attacker(url)
        assert (status, body) == (200, b"still here")
        # and without a signature the S3 endpoint refuses
        assert requests.get(f"{store.endpoint_url}/{store.bucket}/{key}", timeout=10).status_code == 403
    finally:
        s3.delete_object(Bucket=store.bucket, Key=key)


# ---- .demo: the hub's state, logs, keys --------------------------------------------------------------

@pytest.mark.parametrize("relative", ["hub/jupyterhub.sqlite", "hub/cookie_secret", "logs/hub.log",
                                      "s3/credentials.env", "s3/security.toml", "s3/tls/ca.key", "admin.token",
                                      "supervisor/supervisord.conf"])
def test_attacker_reads_no_demo_state(demo_dir, relative):
    assert (demo_dir / relative).exists(), relative
    result = as_attacker("cat", "--", str(demo_dir / relative))
    assert result.returncode != 0 and result.stdout == b""
    assert b"Permission denied" in result.stderr


def test_attacker_cannot_list_demo(demo_dir):
    for path in (demo_dir, demo_dir / "logs", demo_dir / "s3", demo_dir / "hub", demo_dir / "supervisor"):
        result = as_attacker("ls", "--", str(path))
        assert result.returncode != 0 and b"Permission denied" in result.stderr, path


def test_attacker_cannot_control_supervisord(demo_dir):
    """supervisord starts and stops every daemon as root: its socket is behind .demo, and mode 0700 itself."""
    result = as_attacker("supervisorctl", "-s", f"unix://{demo_dir / 'supervisor' / 'supervisor.sock'}", "status")
    assert result.returncode != 0 and b"RUNNING" not in result.stdout, result.stdout


def test_demo_is_private_to_root(demo_dir):
    info = demo_dir.stat()
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o700
    for child in demo_dir.iterdir():
        if child.is_dir() and not child.is_symlink():
            assert stat.S_IMODE(child.stat().st_mode) & 0o077 == 0, child
    for name in ("hub/jupyterhub.sqlite", "hub/cookie_secret", *(f"logs/{log}" for log in DAEMON_LOGS)):
        assert stat.S_IMODE((demo_dir / name).stat().st_mode) == 0o600, name
