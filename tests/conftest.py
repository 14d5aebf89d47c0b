"""Fixtures for tests against the real local dev cluster (started by `make test` through devcluster/)."""

from __future__ import annotations

import asyncio
import inspect
import time
from pathlib import Path

import pytest
import pytest_asyncio

from firecrest_hub.config import System, Systems, load_config_file
from firecrest_hub.delegation import CertificateAuthority
from firecrest_hub.remote import ConnectionPool

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"


# -- waiting for something, always with a deadline -----------------------------------------------------
#
# Tests wait for a state with these, never with a bare loop or a sleep that hopes it was long enough:
#
#     task = wait_for(lambda: finished(get_task()), timeout=60, what="the task to finish")
#     job = await async_wait_for(lambda: job_in_queue(session), timeout=30)  # sync or async predicate
#
# The predicate's first truthy value is returned; after `timeout` seconds an AssertionError names what was
# awaited and the last value seen. An exception in the predicate ends the wait at once (an assert in it
# fails the test at once, not after the timeout).


def _timed_out(what: str | None, predicate, timeout: float, last) -> AssertionError:
    what = what or getattr(predicate, "__name__", "the condition")
    return AssertionError(f"{what}: not within {timeout:g} s (last seen: {last!r})")


def wait_for(predicate, timeout: float, *, interval: float = 0.1, what: str | None = None):
    """Poll `predicate()` every `interval` seconds until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise _timed_out(what, predicate, timeout, last)
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


async def async_wait_for(predicate, timeout: float, *, interval: float = 0.1, what: str | None = None):
    """wait_for in a coroutine: `predicate()` may return a value or an awaitable; the loop keeps running."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() >= deadline:
            raise _timed_out(what, predicate, timeout, last)
        await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    if not (DEMO / "ssh" / "known_hosts").exists():
        pytest.fail("the dev cluster is not running: `bash devcluster/cluster.sh start` (make test does it)")
    return DEMO


@pytest.fixture(scope="session")
def demo_config(demo_dir):
    """The config the demo hub and service run with: systems and delegation are declared there once."""
    return load_config_file(str(ROOT / "jupyterhub_config.py"))


@pytest.fixture(scope="session")
def system(demo_config) -> System:
    return Systems(config=demo_config).get("cluster")


@pytest.fixture(scope="session")
def authority(demo_config) -> CertificateAuthority:
    return CertificateAuthority(config=demo_config)


@pytest_asyncio.fixture
async def pool(authority):
    pool = ConnectionPool(authority, max_channels=32)
    yield pool
    await pool.close()


@pytest.fixture
def alice(pool, system):
    return pool.session(system, "alice")


@pytest.fixture
def bob(pool, system):
    return pool.session(system, "bob")


HUB_URL = "http://127.0.0.1:8000"
API_URL = f"{HUB_URL}/services/firecrest/api/v1"


@pytest.fixture(scope="session")
def admin_token(demo_dir) -> str:
    return (demo_dir / "admin.token").read_text().strip()


@pytest.fixture(scope="session")
def make_token(admin_token):
    """make_token(user, scopes=...) -> a fresh hub API token of that user, made through the hub's REST API."""
    import requests

    def make(user: str, scopes=("access:services!service=firecrest",), expires_in: int = 3600) -> str:
        response = requests.post(
            f"{HUB_URL}/hub/api/users/{user}/tokens",
            headers={"Authorization": f"token {admin_token}"},
            json={"scopes": list(scopes), "expires_in": expires_in, "note": "tests"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["token"]

    return make


@pytest.fixture(scope="session")
def alice_token(make_token) -> str:
    return make_token("alice")


@pytest.fixture(scope="session")
def bob_token(make_token) -> str:
    return make_token("bob")


# -- the REST handlers in-process, without hub or cluster (tests/handler_support.py) -------------------


@pytest_asyncio.fixture
async def api(tmp_path):
    """The service's routes served on a local port; tokens from handler_support.TOKENS, commands replayed
    from what the test records on `api.replay`."""
    from handler_support import serve_api

    async with serve_api(tmp_path) as served:
        yield served


# -- the unmodified pyfirecrest v1 client, as a gateway or script uses it with a hub token -------------


class HubToken:
    """What pyfirecrest asks of an authorization object: a current access token (here a hub API token)."""

    def __init__(self, token: str):
        self.token = token

    def get_access_token(self) -> str:
        return self.token


def pyfirecrest_client(token: str, *, asynchronous: bool = False):
    """pyfirecrest's v1 client (or its AsyncFirecrest) on the demo's API, acting with `token`."""
    from firecrest.v1 import AsyncFirecrest, Firecrest

    kind = AsyncFirecrest if asynchronous else Firecrest
    return kind(firecrest_url=API_URL, authorization=HubToken(token))


@pytest.fixture
def client(alice_token):
    """alice's pyfirecrest v1 client."""
    return pyfirecrest_client(alice_token)


@pytest.fixture
def bob_client(bob_token):
    """bob's pyfirecrest v1 client."""
    return pyfirecrest_client(bob_token)
