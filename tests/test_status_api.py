"""The status endpoints: v1's shapes and codes through the hub's proxy, real health checks, and a status that
answers at once while systems are down or hang.

The failure paths never touch the shared daemons: a second service runs in-process here with extra systems
that point at a closed port and at a socket that accepts and then says nothing (an sshd that hangs).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
import requests
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from traitlets import TraitError
from traitlets.config import Config

from conftest import API_URL, HUB_URL, ROOT, async_wait_for, wait_for
from firecrest_hub.app import FirecrestService
from firecrest_hub.config import System
from firecrest_hub.remote import CommandResult
from firecrest_hub.staging import ObjectStore
from firecrest_hub.status import SERVICES, StatusProbes
from firecrest_hub.status.probes import PingScheduler
from firecrest_hub.tasks import TaskStore

pytestmark = pytest.mark.cluster

STATUS_ENDPOINTS = ["services", "services/compute", "systems", "systems/cluster", "filesystems",
                    "filesystems/cluster", "parameters"]
NOT_CHECKED = "not checked yet"
# What "at once" means for a status request: it reads a cached report and never waits for SSH.
AT_ONCE = 1.0


def get(token: str, endpoint: str) -> requests.Response:
    return requests.get(f"{API_URL}/status/{endpoint}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.fixture(scope="module")
def checked(alice_token):
    """Wait until the service's first health check is in (the service may just have been restarted)."""

    def reported() -> bool:
        response = get(alice_token, "systems")
        return response.status_code == 200 and not any(NOT_CHECKED in s["description"] for s in response.json()["out"])

    wait_for(reported, 30, interval=0.5, what="the service's first health checks")


# -- v1's shapes through the proxy, against the healthy dev cluster ----------------------------------


def test_services_lists_each_v1_service_as_available(alice_token, checked):
    response = get(alice_token, "services")
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "List of services with status and description."
    assert [service["service"] for service in body["out"]] == list(SERVICES)
    for service in body["out"]:
        assert set(service) == {"service", "status", "status_code", "description"}
        assert (service["status"], service["status_code"]) == ("available", 200), service
    descriptions = {service["service"]: service["description"] for service in body["out"]}
    assert "127.0.0.1:8333" in descriptions["storage"]


@pytest.mark.parametrize("name", SERVICES)
def test_one_service_is_answered_without_an_envelope(alice_token, checked, name):
    response = get(alice_token, f"services/{name}")
    assert response.status_code == 200
    service = response.json()
    assert service["service"] == name
    assert (service["status"], service["status_code"]) == ("available", 200)
    assert service["description"]


def test_unknown_service_is_a_json_404(alice_token):
    response = get(alice_token, "services/nonexistent")
    assert response.status_code == 404
    assert response.json() == {"description": "Service does not exists", "status_code": 404}  # v1's own body


def test_systems_show_the_cluster_ready(alice_token, checked):
    response = get(alice_token, "systems")
    assert response.status_code == 200
    assert response.json() == {
        "description": "List of systems with status and description.",
        "out": [{"system": "cluster", "status": "available", "description": "System ready"}],
    }


def test_one_system(alice_token, checked):
    response = get(alice_token, "systems/cluster")
    assert response.status_code == 200
    assert response.json() == {
        "description": "System information",
        "out": {"system": "cluster", "status": "available", "description": "System ready"},
    }


@pytest.mark.parametrize("endpoint", ["systems/nosuch", "filesystems/nosuch", "systems/..%2F..", "filesystems/%24(id)"])
def test_unknown_system_is_a_json_404(alice_token, endpoint):
    response = get(alice_token, endpoint)
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "System does not exist" and body["description"].startswith("there is no system")
    assert not any(header.startswith("X-") for header in response.headers), "v1 sends no X-* header here"


def test_filesystems_of_every_system(alice_token, checked):
    response = get(alice_token, "filesystems")
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "Filesystem information"
    assert list(body["out"]) == ["cluster"]
    assert [(fs["name"], fs["path"], fs["status"], fs["status_code"]) for fs in body["out"]["cluster"]] == [
        ("home", "/home", "available", 200), ("tmp", "/tmp", "available", 200)]
    assert all(fs["description"] for fs in body["out"]["cluster"])


def test_filesystems_of_one_system(alice_token, checked):
    response = get(alice_token, "filesystems/cluster")
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "Filesystem information for system cluster"
    assert [fs["path"] for fs in body["out"]] == ["/home", "/tmp"]
    assert set(body["out"][0]) == {"name", "path", "description", "status", "status_code"}


def test_parameters(alice_token):
    response = get(alice_token, "parameters")
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "Firecrest's parameters"
    out = body["out"]
    values = {group: {p["name"]: p["value"] for p in items} for group, items in out.items()}
    assert values["general"]["FIRECREST_VERSION"] == "v1.16.0"
    assert values["compute"] == {"WORKLOAD_MANAGER": "Slurm"}
    assert values["utilities"] == {"UTILITIES_MAX_FILE_SIZE": "5", "UTILITIES_TIMEOUT": "30"}
    assert values["storage"]["FILESYSTEMS"] == [{"system": "cluster", "mounted": ["/home", "/tmp"]}]
    for items in out.values():
        for parameter in items:
            assert set(parameter) == {"name", "value", "unit", "description"}


@pytest.mark.parametrize("endpoint", STATUS_ENDPOINTS)
def test_status_needs_a_token(endpoint):
    response = requests.get(f"{API_URL}/status/{endpoint}", timeout=10, allow_redirects=False)
    assert response.status_code == 401
    assert response.json()["description"]


@pytest.mark.parametrize("endpoint", STATUS_ENDPOINTS)
def test_status_answers_at_once(alice_token, checked, endpoint):
    started = time.monotonic()
    response = get(alice_token, endpoint)
    assert response.status_code == 200
    assert time.monotonic() - started < AT_ONCE


# -- real failures, in a second service of our own ----------------------------------------------------


@pytest.fixture
async def silent_sshd():
    """A TCP port that accepts connections and never says a word, like a hung sshd."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader, writer):
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()


def closed_port() -> int:
    """A port nobody listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def troubled_service(demo_dir, silent_sshd, tmp_path):
    """The service with the dev cluster plus a system whose sshd is down and one whose sshd hangs."""
    known_hosts = str(demo_dir / "ssh" / "known_hosts")
    system = {"host": "127.0.0.1", "known_hosts": known_hosts, "filesystems": ["/home", "/scratch"]}
    config = Config()
    config.FirecrestService.config_file = str(ROOT / "jupyterhub_config.py")
    config.FirecrestService.base_url = "/services/firecrest-status-test/"
    config.Systems.systems = [
        {"name": "cluster", "host": "127.0.0.1", "port": 2222, "known_hosts": known_hosts,
         "filesystems": ["/home", "/tmp"]},
        {**system, "name": "down", "port": closed_port()},
        {**system, "name": "hung", "port": silent_sshd},
    ]
    config.StatusProbes.timeout = 1.5
    config.TaskStore.db_url = f"sqlite:///{tmp_path / 'tasks.sqlite'}"
    config.HubOAuth.api_url = f"{HUB_URL}/hub/api"
    config.HubOAuth.access_scopes = {"access:services!service=firecrest"}
    service = FirecrestService(config=config)
    service.initialize([])
    await service.tasks.open()
    service.health.start()
    sock, port = bind_unused_port()
    server = HTTPServer(service.web_app)
    server.add_sockets([sock])
    yield f"http://127.0.0.1:{port}/services/firecrest-status-test/api/v1"
    server.stop()
    await service.health.stop()
    await service.tasks.close()
    await service.access.close()


async def fetch(url: str, token: str):
    started = time.monotonic()
    response = await AsyncHTTPClient().fetch(url, headers={"Authorization": f"Bearer {token}"}, raise_error=False)
    return response, time.monotonic() - started


async def test_down_and_hung_systems_are_unavailable_and_status_never_waits(troubled_service, alice_token):
    # The new service asks the hub about the token once (then caches it): not part of what is timed here.
    await fetch(f"{troubled_service}/status/parameters", alice_token)

    async def all_checked() -> dict | None:
        # Ask again and again while the checks run (the hung one for its whole 1.5 s timeout): every
        # answer is immediate and a 200, whatever the checks are doing.
        for endpoint in STATUS_ENDPOINTS + ["systems/hung", "filesystems/down"]:
            response, took = await fetch(f"{troubled_service}/status/{endpoint}", alice_token)
            assert response.code == 200, (endpoint, response.body)
            assert took < AT_ONCE, (endpoint, took)
        response, _ = await fetch(f"{troubled_service}/status/systems", alice_token)
        systems = {s["system"]: s for s in json.loads(response.body)["out"]}
        return None if any(NOT_CHECKED in s["description"] for s in systems.values()) else systems

    systems = await async_wait_for(all_checked, 10, what="every system's first health check")

    assert systems["cluster"] == {"system": "cluster", "status": "available", "description": "System ready"}
    assert systems["down"]["status"] == "unavailable"
    assert systems["down"]["description"].startswith("SSH login failed: system 'down' is unreachable")
    assert "(as firecrest at 127.0.0.1:" in systems["down"]["description"]
    assert systems["hung"]["status"] == "unavailable"
    assert systems["hung"]["description"].startswith("SSH login failed: no answer within 1.5 s")

    response, _ = await fetch(f"{troubled_service}/status/filesystems/down", alice_token)
    filesystems = json.loads(response.body)["out"]
    assert [(fs["path"], fs["status"], fs["status_code"]) for fs in filesystems] == [
        ("/home", "down", 400), ("/scratch", "down", 400)]
    assert all("SSH login failed" in fs["description"] for fs in filesystems)

    response, _ = await fetch(f"{troubled_service}/status/services", alice_token)
    services = {s["service"]: s for s in json.loads(response.body)["out"]}
    for name in ("utilities", "compute"):
        assert (services[name]["status"], services[name]["status_code"]) == ("unavailable", 400)
        assert "down:" in services[name]["description"] and "hung:" in services[name]["description"]
        assert "cluster:" not in services[name]["description"]
    assert services["certificator"]["status"] == services["tasks"]["status"] == "available"


async def test_a_missing_filesystem_makes_its_system_unavailable(demo_dir, pool, authority, tmp_path):
    cluster = System.from_dict({"name": "cluster", "host": "127.0.0.1", "port": 2222,
                                "known_hosts": str(demo_dir / "ssh" / "known_hosts"),
                                "filesystems": ["/home", "/no/such/fs", "/etc/hostname"]})
    probes = StatusProbes([cluster], pool, authority, TaskStore(), ObjectStore(), timeout=5)
    health = (await probes.refresh()).systems["cluster"]
    assert health.login.ok and health.scheduler.ok
    assert [fs.health.ok for fs in health.filesystems] == [True, False, False]
    assert "No such file or directory" in health.filesystems[1].health.description
    assert "not a directory" in health.filesystems[2].health.description
    assert not health.health.ok
    assert "/no/such/fs" in health.health.description and "/etc/hostname" in health.health.description


async def test_report_is_immediate_and_a_stale_one_starts_a_round(demo_dir, pool, authority, tmp_path):
    down = System.from_dict({"name": "down", "host": "127.0.0.1", "port": closed_port(),
                             "known_hosts": str(demo_dir / "ssh" / "known_hosts"), "filesystems": ["/home"]})
    store = TaskStore(db_url=f"sqlite:///{tmp_path / 'tasks.sqlite'}")
    await store.open()
    try:
        probes = StatusProbes([down], pool, authority, store, ObjectStore(), interval=1, timeout=2)
        first = probes.report()  # nothing checked yet: answered at once, and a round starts
        assert first.checked_at is None and NOT_CHECKED in first.systems["down"].health.description

        def first_round():
            report = probes.report()
            return report if report.checked_at else None

        checked = await async_wait_for(first_round, 5, interval=0.05, what="the first round")
        assert not checked.systems["down"].health.ok
        assert checked.services["tasks"].ok and checked.services["certificator"].ok
        await asyncio.sleep(1)  # older than the interval: the next read starts a round, and answers at once
        assert probes.report().checked_at == checked.checked_at
        await async_wait_for(lambda: probes.report().checked_at > checked.checked_at, 5, interval=0.05,
                             what="the round a stale read started")
    finally:
        await probes.stop()
        await store.close()


async def test_refreshes_are_single_flight(demo_dir, pool, authority):
    cluster = System.from_dict({"name": "cluster", "host": "127.0.0.1", "port": 2222,
                                "known_hosts": str(demo_dir / "ssh" / "known_hosts"), "filesystems": ["/home"]})
    probes = StatusProbes([cluster], pool, authority, TaskStore(), ObjectStore(), timeout=5)
    reports = await asyncio.gather(*(probes.refresh() for _ in range(5)))
    assert len({report.checked_at for report in reports}) == 1
    assert pool.connections_opened == 1


async def storage_health(pool, authority, objects: ObjectStore):
    await objects.open()
    try:
        return (await StatusProbes([], pool, authority, TaskStore(), objects, timeout=5).refresh()).services
    finally:
        await objects.close()


async def test_storage_and_tasks_report_what_fails(pool, authority, demo_config):
    services = await storage_health(pool, authority, ObjectStore())
    assert not services["storage"].ok and "ObjectStore.endpoint_url" in services["storage"].description
    assert not services["tasks"].ok  # the store was never opened
    working = (await storage_health(pool, authority, ObjectStore(config=demo_config)))["storage"]
    assert working.ok, working.description
    unreachable = ObjectStore(config=demo_config, endpoint_url=f"http://127.0.0.1:{closed_port()}")
    storage = (await storage_health(pool, authority, unreachable))["storage"]
    assert not storage.ok and "does not answer" in storage.description
    # The store answers, but not to us: as unavailable to staging as a store that is down.
    wrong_key = (await storage_health(pool, authority, ObjectStore(config=demo_config, secret_key="wrong")))["storage"]
    assert not wrong_key.ok and "refused" in wrong_key.description


def test_a_down_controller_reads_as_slurm_not_answering():
    # What `scontrol ping` prints, exit status 1, when slurmctld is down (parser check; Slurm stays up).
    result = CommandResult(("scontrol", "ping"), 1, "Slurmctld(primary) at vm is DOWN\n", "")
    health = PingScheduler(timeout=5).parse(result)
    assert not health.ok
    assert health.description == "Slurm does not answer: Slurmctld(primary) at vm is DOWN"


@pytest.mark.parametrize("options", [{"interval": 0}, {"timeout": -1}])
async def test_options_are_validated(pool, authority, options):
    with pytest.raises(TraitError):
        StatusProbes([], pool, authority, TaskStore(), ObjectStore(), **options)
