"""The dev cluster runs under supervisord: every daemon and the hub are programs of one supervisord
(devcluster/supervisord.conf, rendered into .demo/supervisor); `make status` shows them, a second
`make demo` restarts nothing, a daemon that dies is restarted, one that was stopped comes back with
`make demo`, and a hub that dies leaves no service behind. See devcluster/README.md."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import API_URL, ROOT, wait_for

pytestmark = pytest.mark.cluster

PROGRAMS = {"munged", "mariadb", "slurmdbd", "slurmctld", "slurmd", "sshd", "weed", "proxy", "hub"}
CLUSTER = ["bash", str(ROOT / "devcluster" / "cluster.sh")]


def run(*argv: str, timeout: float = 600) -> str:
    result = subprocess.run(list(argv), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, f"{argv}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def programs() -> dict[str, tuple[str, int]]:
    """name -> (state, pid) as supervisord tells (`supervisorctl status`)."""
    out = subprocess.run([*CLUSTER, "ctl", "status"], capture_output=True, text=True, timeout=60).stdout
    found = {}
    for line in out.splitlines():
        match = re.match(r"(\S+)\s+([A-Z]+)\s+(?:pid (\d+),)?", line)
        if match:
            found[match[1]] = (match[2], int(match[3] or 0))
    return found


def node_responding() -> bool:
    state = subprocess.run(["sinfo", "-h", "-N", "-n", "localhost", "-o", "%t"], capture_output=True,
                           text=True, timeout=30).stdout.split()  # one line per partition
    return bool(state) and state[0] in {"idle", "mix", "alloc", "comp"}


def all_running() -> dict[str, tuple[str, int]] | None:
    found = programs()
    return found if {name: state for name, (state, _) in found.items()} == dict.fromkeys(PROGRAMS, "RUNNING") else None


def test_make_status_lists_every_program_running():
    out = run("make", "-s", "status", timeout=60)
    states = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.split()[:1] and
              line.split()[0] in PROGRAMS}
    assert states == dict.fromkeys(PROGRAMS, "RUNNING"), out


def test_a_second_start_restarts_nothing():
    before = wait_for(all_running, 60, what="every program RUNNING")
    run("bash", "devcluster/demo.sh", "start")
    assert programs() == before


def test_a_daemon_that_dies_is_restarted_by_supervisord():
    _, old = wait_for(all_running, 60, what="every program RUNNING")["slurmd"]
    subprocess.run(["kill", "-KILL", str(old)], check=True)
    new = wait_for(lambda: (programs()["slurmd"][0] == "RUNNING" and programs()["slurmd"][1] not in (0, old)
                            and node_responding()), 60, what="slurmd restarted and the node responding")
    assert new


def test_a_stopped_program_comes_back_with_make_demo():
    before = wait_for(all_running, 60, what="every program RUNNING")
    run(*CLUSTER, "ctl", "stop", "slurmd", timeout=60)
    assert programs()["slurmd"][0] == "STOPPED"
    run("make", "-s", "demo")
    after = programs()
    assert after["slurmd"][0] == "RUNNING" and after["slurmd"][1] != before["slurmd"][1]
    assert {k: v for k, v in after.items() if k != "slurmd"} == {k: v for k, v in before.items() if k != "slurmd"}
    assert node_responding()


def service_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "-x", r".*python3? -m firecrest_hub --config .*"], capture_output=True,
                         text=True, check=False).stdout
    return {int(pid) for pid in out.split()}


def service_answers() -> bool:
    try:
        return requests.get(f"{API_URL}/status/parameters", timeout=5).status_code == 401
    except requests.RequestException:
        return False


def test_a_hub_that_dies_leaves_no_service_behind_and_comes_back():
    """A crashed hub leaves its managed service running; that service stops by itself, so the hub that
    supervisord starts again can start its own on the port. The proxy, its own program, stays up."""
    before = wait_for(all_running, 60, what="every program RUNNING")
    old_services = service_pids()
    assert len(old_services) == 1, old_services
    subprocess.run(["kill", "-KILL", str(before["hub"][1])], check=True)
    wait_for(lambda: not (service_pids() & old_services), 30, what="the orphaned service to stop")
    wait_for(lambda: programs()["hub"][0] == "RUNNING" and programs()["hub"][1] != before["hub"][1], 60,
             what="supervisord to start the hub again")
    wait_for(service_answers, 90, what="the new hub's service to answer through the proxy")
    assert len(service_pids()) == 1
    assert programs()["proxy"] == before["proxy"]


def test_supervisord_is_root_s_alone(demo_dir):
    folder = demo_dir / "supervisor"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    socket = folder / "supervisor.sock"
    assert socket.is_socket() and socket.stat().st_uid == 0 and stat.S_IMODE(socket.stat().st_mode) & 0o077 == 0
    for path in (folder / "supervisord.conf", demo_dir / "logs" / "supervisord.log"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def test_ssh_sessions_keep_the_usual_umask(alice):
    """sshd runs with umask 022 (supervisord's own is 077): what users make over SSH stays readable as before."""
    result = await alice.run(["sh", "-c", "umask"])
    assert result.stdout.strip() == "0022"


def test_the_configurations_are_files_of_the_checkout():
    """What runs is rendered from devcluster/: no configuration written inside a script any more."""
    for name in ("supervisord.conf", "slurm.conf", "slurmdbd.conf", "sshd_config", "seaweedfs-security.toml",
                 "seaweedfs-s3.json", "seaweedfs-master.toml", "traefik.toml"):
        assert (ROOT / "devcluster" / name).is_file(), name
    rendered = Path("/etc/slurm/slurm.conf").read_text()
    assert rendered == (ROOT / "devcluster" / "slurm.conf").read_text()
