"""The unmodified pyfirecrest v1 client against the status endpoints."""

from __future__ import annotations

import pytest
from firecrest.FirecrestException import NotFound
from firecrest.utilities import missing_api_features

from conftest import pyfirecrest_client, wait_for
from firecrest_hub.status import SERVICES

pytestmark = pytest.mark.cluster

MACHINE = "cluster"


@pytest.fixture(autouse=True)
def checked(client) -> None:
    """The service may just have been restarted: wait for its first health check, as a script would."""
    wait_for(lambda: not any("not checked yet" in system["description"] for system in client.all_systems()),
             30, interval=0.5, what="the service's first health checks")


def test_all_systems(client):
    assert client.all_systems() == [{"system": MACHINE, "status": "available", "description": "System ready"}]


def test_system(client):
    assert client.system(MACHINE) == {"system": MACHINE, "status": "available", "description": "System ready"}
    with pytest.raises(NotFound):
        client.system("nosuch")


def test_all_services(client):
    services = client.all_services()
    assert [service["service"] for service in services] == list(SERVICES)
    assert all(service["status"] == "available" and service["status_code"] == 200 for service in services)


def test_service(client):
    service = client.service("compute")
    assert (service["service"], service["status"], service["status_code"]) == ("compute", "available", 200)
    assert service["description"] == "Slurm answers on every system"
    with pytest.raises(NotFound):
        client.service("nonexistent")


def test_parameters_enable_every_v1_feature(client):
    parameters = client.parameters()
    general = {parameter["name"]: parameter["value"] for parameter in parameters["general"]}
    assert general["FIRECREST_VERSION"] == "v1.16.0"
    assert [parameter["name"] for parameter in parameters["utilities"]] == ["UTILITIES_MAX_FILE_SIZE",
                                                                            "UTILITIES_TIMEOUT"]
    assert parameters["compute"][0] == {"name": "WORKLOAD_MANAGER", "value": "Slurm", "unit": "",
                                        "description": "Workload manager of the systems."}
    # What the client now believes, against the newest version any of its v1 features asks for.
    newest = max(feature["min_version"] for feature in missing_api_features.values())
    assert client._api_version >= newest


def test_filesystems(client):
    expected = [
        {"name": name, "path": f"/{name}", "description": f"/{name} is reachable", "status": "available",
         "status_code": 200}
        for name in ("home", "tmp")
    ]
    assert client.filesystems() == {MACHINE: expected}
    assert client.filesystems(MACHINE) == {MACHINE: expected}
    with pytest.raises(NotFound):
        client.filesystems("nosuch")


async def test_the_async_client_reads_the_same(client, alice_token):
    async_client = pyfirecrest_client(alice_token, asynchronous=True)
    try:
        assert await async_client.all_systems() == client.all_systems()
        assert (await async_client.service("storage"))["status"] == "available"
        assert (await async_client.filesystems(MACHINE))[MACHINE][0]["path"] == "/home"
        assert (await async_client.parameters())["general"][0]["value"] == "v1.16.0"
    finally:
        await async_client.close_session()
