"""The spawner through the real demo hub: notebook servers as Slurm jobs of their users.

Restarts the hub once (test_a_hub_restart_keeps_the_server): other tests of the same hub see it go
away for a few seconds.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest import HUB_URL, ROOT, wait_for

pytestmark = pytest.mark.cluster

OPTIONS = {"partition": "debug", "runtime": "00:30:00", "cpus": 2, "memory": "1G"}
PWNED = Path(f"/tmp/firecrest-pwned-{secrets.token_hex(4)}")


def hub_api(method: str, path: str, token: str, timeout: float = 60, **kwargs) -> requests.Response:
    return requests.request(method, f"{HUB_URL}/hub/api{path}", headers={"Authorization": f"token {token}"},
                            timeout=timeout, **kwargs)


def server_of(admin_token: str, user: str) -> dict | None:
    response = hub_api("GET", f"/users/{user}", admin_token)
    response.raise_for_status()
    return response.json()["servers"].get("")


def stop_server(admin_token: str, user: str) -> None:
    if server_of(admin_token, user) is None:
        return
    response = hub_api("DELETE", f"/users/{user}/server", admin_token)
    assert response.status_code in (202, 204), response.text
    wait_for(lambda: server_of(admin_token, user) is None, 60, what=f"{user}'s server to stop")


def start_server(admin_token: str, user: str, options: dict) -> tuple[requests.Response, list[dict]]:
    """POST the server (as the admin would for the user) while reading its progress events."""
    result: dict = {}
    post = threading.Thread(target=lambda: result.setdefault(
        "response", hub_api("POST", f"/users/{user}/server", admin_token, json={"user_options": options},
                            timeout=300)))
    post.start()
    events = read_progress(admin_token, user, lambda: not post.is_alive())
    post.join()
    return result["response"], events


def read_progress(admin_token: str, user: str, gave_up) -> list[dict]:
    """The progress events of the spawn being started, until its end ("ready" or "failed")."""
    while not gave_up():
        with requests.get(f"{HUB_URL}/hub/api/users/{user}/server/progress", stream=True, timeout=300,
                          headers={"Authorization": f"token {admin_token}"}) as response:
            if response.status_code == 200:
                events = [json.loads(line[len("data:"):]) for line in response.iter_lines(decode_unicode=True)
                          if line.startswith("data:")]
                # Before the new spawn is pending, the hub replays the end of the previous one.
                if events and events[0].get("message") == "Server requested":
                    return events
        time.sleep(0.1)
    return []


def slurm(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


def job_id_of(admin_token: str, user: str) -> str:
    return server_of(admin_token, user)["state"]["job_id"]


def server_token(jobid: str) -> str:
    """The notebook's own hub token, as the user's job has it: from the job's batch script."""
    for line in slurm("scontrol", "write", "batch_script", jobid, "-").splitlines():
        if line.startswith("export JUPYTERHUB_API_TOKEN="):
            return shlex.split(line.split("=", 1)[1])[0]
    raise AssertionError(f"job {jobid} has no JUPYTERHUB_API_TOKEN")


def report_port(token: str, body) -> requests.Response:
    return requests.post(f"{HUB_URL}/hub/api/batchspawner", json=body, timeout=30,
                         headers={"Authorization": f"token {token}"})


@pytest.fixture
def no_server(admin_token):
    stop_server(admin_token, "alice")
    yield
    stop_server(admin_token, "alice")


@pytest.mark.parametrize("options, message", [
    ({"partition": "nosuch"}, "unknown partition 'nosuch'"),
    ({"partition": "debug", "runtime": "03:00:00"}, "runtime 03:00:00 is out of range"),
    ({"partition": "debug", "exec_prefix": "touch /tmp/x"}, "unknown option(s): exec_prefix"),
    ({"cpus": 65}, "cpus 65 is out of range"),
    ({"account": "demo; touch /tmp/x"}, "account 'demo; touch /tmp/x' is not a valid name"),
])
def test_invalid_options_are_refused(admin_token, no_server, options, message):
    before = slurm("squeue", "--noheader", "--user=alice", "--format=%i")
    response = hub_api("POST", "/users/alice/server", admin_token, json={"user_options": options})
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert server_of(admin_token, "alice") is None
    assert slurm("squeue", "--noheader", "--user=alice", "--format=%i") == before


def test_slurms_rejection_is_shown(admin_token, no_server):
    response = hub_api("POST", "/users/alice/server", admin_token, json={"user_options": {"account": "nosuch"}})
    assert response.status_code == 400, response.text
    assert "Slurm refused the notebook job: Invalid account" in response.json()["message"]


def test_a_server_that_dies_while_starting_is_reported_with_its_output(admin_token, no_server):
    config = Path("/home/alice/.jupyter/jupyter_server_config.py")
    config.parent.mkdir(exist_ok=True)
    config.write_text('c.ServerApp.root_dir = "/nonexistent-firecrest-test"\n')
    subprocess.run(["chown", "-R", "alice:", str(config.parent)], check=True)
    try:
        response, events = start_server(admin_token, "alice", OPTIONS)
    finally:
        config.unlink()
    message = response.json()["message"] if response.status_code == 400 else events[-1]["message"]
    assert "before JupyterLab started" in message
    assert "The end of its output" in message and "nonexistent-firecrest-test" in message


@pytest.fixture(scope="module")
def alice_server(admin_token):
    stop_server(admin_token, "alice")
    response, events = start_server(admin_token, "alice", OPTIONS)
    assert response.status_code in (201, 202), response.text
    wait_for(lambda: (server_of(admin_token, "alice") or {}).get("ready"), 120, what="alice's server to be ready")
    yield {"job_id": job_id_of(admin_token, "alice"), "events": events}
    stop_server(admin_token, "alice")


@pytest.fixture(scope="module")
def bob_server(admin_token):
    stop_server(admin_token, "bob")
    response, _ = start_server(admin_token, "bob", {})
    assert response.status_code in (201, 202), response.text
    wait_for(lambda: (server_of(admin_token, "bob") or {}).get("ready"), 120, what="bob's server to be ready")
    yield job_id_of(admin_token, "bob")
    stop_server(admin_token, "bob")


@pytest.fixture(scope="module")
def alice_access(make_token):
    return make_token("alice", scopes=["access:servers!user=alice"])


def status_through_proxy(token: str) -> int:
    return requests.get(f"{HUB_URL}/user/alice/api/status", headers={"Authorization": f"token {token}"},
                        timeout=30).status_code


def test_the_job_is_alices_with_the_requested_partition_and_time(alice_server):
    user, partition, time_limit, cpus, state = slurm(
        "squeue", "--noheader", f"--jobs={alice_server['job_id']}", "--format=%u %P %l %C %T").split()
    assert (user, partition, time_limit, cpus, state) == ("alice", "debug", "30:00", "2", "RUNNING")


def test_jupyterlab_answers_through_the_proxy(alice_server, alice_access):
    assert status_through_proxy(alice_access) == 200


def test_progress_tells_the_user_where_the_start_is(alice_server):
    messages = [event.get("message", "") for event in alice_server["events"]]
    assert any(f"Job {alice_server['job_id']}" in message or message.startswith("Submitting your notebook job")
               for message in messages), messages
    # "on node localhost" once a queue read has shown the job running, which may come after the port.
    assert any(re.match(r"JupyterLab is starting on (node localhost, )?port \d+; waiting for it to answer", message)
               for message in messages), messages
    assert alice_server["events"][-1].get("ready"), messages


def test_a_port_report_cannot_set_other_attributes(alice_server, alice_access):
    token = server_token(alice_server["job_id"])
    response = report_port(token, {"port": 1234, "exec_prefix": f"touch {PWNED}"})
    assert response.status_code == 400
    assert "exactly" in response.json()["message"]
    # A lone port is refused too once the server runs: its address is fixed.
    response = report_port(token, {"port": 1234})
    assert response.status_code == 409
    assert status_through_proxy(alice_access) == 200


def test_a_port_report_needs_the_token_of_a_server(alice_server, make_token):
    response = report_port(make_token("alice", scopes=["self"]), {"port": 1234})
    assert response.status_code == 403


def test_another_users_server_token_cannot_report_a_port(alice_server, bob_server, alice_access):
    response = report_port(server_token(bob_server), {"port": 1234})
    assert response.status_code == 409
    assert status_through_proxy(alice_access) == 200


def test_a_hub_restart_keeps_the_server(admin_token, alice_server, alice_access, demo_dir):
    # Output to a file, not a pipe: the hub started by demo.sh keeps its parent shell's stdout open.
    with open(demo_dir / "logs" / "spawner-test-restart.log", "ab") as log:
        for command in ("stop-hub", "start"):
            subprocess.run(["bash", str(ROOT / "devcluster" / "demo.sh"), command], check=True, timeout=600,
                           stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    server = wait_for(lambda: server_of(admin_token, "alice"), 60, what="alice's server after the restart")
    assert server["ready"]
    assert server["state"]["job_id"] == alice_server["job_id"]
    wait_for(lambda: status_through_proxy(alice_access) == 200, 30, what="alice's server to answer")


def test_stopping_ends_the_job(admin_token, alice_server):
    jobid = alice_server["job_id"]
    stop_server(admin_token, "alice")
    assert slurm("squeue", "--noheader", f"--jobs={jobid}", "--states=PENDING,RUNNING", "--format=%i").strip() == ""
    state = wait_for(lambda: slurm("sacct", "--noheader", "--allocations", "--parsable2", f"--jobs={jobid}",
                                   "--format=State").strip(), 30, what="sacct to list the job")
    assert state.startswith("CANCELLED")
    assert not PWNED.exists()
