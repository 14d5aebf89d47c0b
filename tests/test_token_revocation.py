"""A credential the hub no longer accepts stops working here within FirecrestService.credential_check_interval,
and the event streams opened with it end within the same bound.

Against the real hub: tokens are made and revoked through its REST API with the demo's admin token. One
service runs in the test process with a short bound (and a hub address the tests can make unreachable);
the demo's own service, behind the hub's proxy, is held to the bound its config sets.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import SimpleNamespace

import pytest
import requests
from conftest import API_URL, HUB_URL, ROOT
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import create_signed_value
from traitlets import TraitError
from traitlets.config import Config

from firecrest_hub.app import FirecrestService

pytestmark = pytest.mark.cluster

SCOPES = ["access:services!service=firecrest"]
# The in-process service's bound: short, so that the tests are quick.
SHORT_BOUND = 2
# What a measurement may exceed the bound by: the polling step and one request's round trip.
SLACK = 1.0


def service_config(**settings) -> Config:
    config = Config()
    config.FirecrestService.config_file = str(ROOT / "jupyterhub_config.py")
    for name, value in settings.items():
        setattr(config.FirecrestService, name, value)
    return config


def new_token(admin_token: str, expires_in: int = 600) -> tuple[str, str]:
    """A fresh token of alice for the service, and its id (to revoke it)."""
    response = requests.post(f"{HUB_URL}/hub/api/users/alice/tokens", headers={"Authorization": f"token {admin_token}"},
                             json={"scopes": SCOPES, "expires_in": expires_in, "note": "token revocation tests"},
                             timeout=10)
    response.raise_for_status()
    return response.json()["token"], response.json()["id"]


def revoke(admin_token: str, token_id: str) -> None:
    response = requests.delete(f"{HUB_URL}/hub/api/users/alice/tokens/{token_id}",
                               headers={"Authorization": f"token {admin_token}"}, timeout=10)
    assert response.status_code == 204, response.text


def status_of_tasks(api_url: str, headers: dict) -> int:
    return requests.get(f"{api_url}/tasks", headers=headers, timeout=10).status_code


def wait_until(condition, deadline: float, what: str) -> float:
    """The moment (time.monotonic) `condition()` held, polled every 0.1 s; an AssertionError after `deadline`."""
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} in time")
        time.sleep(0.1)
    return time.monotonic()


class OpenStream:
    """`GET /tasks/events`, read in a thread, to see when the service ends it."""

    def __init__(self, api_url: str, headers: dict):
        self.response = requests.get(f"{api_url}/tasks/events", headers={**headers, "Accept": "text/event-stream"},
                                     stream=True, timeout=(5, 60))
        assert self.response.status_code == 200, self.response.text
        self.lines: list[str] = []
        self.error: Exception | None = None
        self.ended_at: float | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                self.lines.append(line)
        except requests.RequestException as error:
            self.error = error
        finally:
            self.ended_at = time.monotonic()

    def ended(self) -> bool:
        return self.ended_at is not None

    def close(self) -> None:
        self.response.close()


def assert_stream_ends_by(deadline: float, stream: OpenStream) -> None:
    """The stream ends by `deadline` (time.monotonic), cleanly and saying why."""
    try:
        wait_until(stream.ended, deadline, "the event stream did not end")
    finally:
        stream.close()
    assert stream.error is None, f"the stream broke off instead of ending: {stream.error}"
    assert any(line.startswith(": ended: ") for line in stream.lines), stream.lines


def assert_refused_within(bound: float, since: float, api_url: str, headers: dict, stream: OpenStream) -> dict:
    """Within `bound` (+ SLACK) seconds of `since` (when the hub stopped accepting the credential), the API
    refuses it (401) and the open stream ends: the seconds each took."""
    deadline = since + bound + SLACK
    try:
        refused_at = wait_until(lambda: status_of_tasks(api_url, headers) == 401, deadline,
                                "the API did not refuse the credential")
    finally:
        assert_stream_ends_by(deadline, stream)
    return {"api": refused_at - since, "events": stream.ended_at - since}


@pytest.mark.parametrize("configured", [None, 3600, 0, 5])
def test_the_hub_auth_cache_never_outlasts_the_bound(demo_dir, configured):
    config = service_config(credential_check_interval=20)
    if configured is not None:
        config.HubAuth.cache_max_age = configured  # 0 is HubAuth's "forever"
    service = FirecrestService(config=config)
    service.initialize([])
    assert service.hub_auth.cache.max_age == (5 if configured == 5 else 20)


@pytest.mark.parametrize("interval", [0, 301])
def test_the_bound_has_limits(interval):
    with pytest.raises(TraitError):
        FirecrestService(config=service_config(credential_check_interval=interval))


@pytest.fixture
async def service(demo_dir, tmp_path):
    """The service in this process, asking the real hub about tokens, with a bound of SHORT_BOUND seconds."""
    config = service_config(base_url="/services/firecrest-revocation-test/", credential_check_interval=SHORT_BOUND)
    config.TaskStore.db_url = f"sqlite:///{tmp_path / 'tasks.sqlite'}"
    config.HubOAuth.api_url = f"{HUB_URL}/hub/api"
    config.HubOAuth.access_scopes = set(SCOPES)
    config.HubOAuth.oauth_client_id = "service-firecrest-revocation-test"
    service = FirecrestService(config=config)
    service.initialize([])
    await service.tasks.open()
    sock, port = bind_unused_port()
    server = HTTPServer(service.web_app)
    server.add_sockets([sock])
    yield SimpleNamespace(app=service, api_url=f"http://127.0.0.1:{port}/services/firecrest-revocation-test/api/v1")
    server.stop()
    await service.tasks.close()


def in_thread(function, *args):
    return asyncio.to_thread(function, *args)


async def test_a_revoked_token_stops_working_and_its_stream_ends(service, admin_token):
    token, token_id = await in_thread(new_token, admin_token)
    headers = {"Authorization": f"Bearer {token}"}
    assert await in_thread(status_of_tasks, service.api_url, headers) == 200
    stream = await in_thread(OpenStream, service.api_url, headers)
    await in_thread(revoke, admin_token, token_id)
    took = await in_thread(assert_refused_within, SHORT_BOUND, time.monotonic(), service.api_url, headers, stream)
    print(f"\nrevoked, bound {SHORT_BOUND} s: API refused after {took['api']:.1f} s, stream ended after "
          f"{took['events']:.1f} s")


async def test_an_expired_token_stops_working_and_its_stream_ends(service, admin_token):
    lifetime = 3
    token, _ = await in_thread(new_token, admin_token, lifetime)
    expires = time.monotonic() + lifetime
    headers = {"Authorization": f"Bearer {token}"}
    assert await in_thread(status_of_tasks, service.api_url, headers) == 200
    stream = await in_thread(OpenStream, service.api_url, headers)
    took = await in_thread(assert_refused_within, SHORT_BOUND, expires, service.api_url, headers, stream)
    print(f"\nexpired, bound {SHORT_BOUND} s: API refused {took['api']:.1f} s after the expiry, stream ended after "
          f"{took['events']:.1f} s")


async def test_a_browser_sessions_stream_ends_when_its_token_is_revoked(service, admin_token):
    token, token_id = await in_thread(new_token, admin_token)
    hub_auth = service.app.hub_auth
    # The OAuth cookie as the service sets it after the hub's login: the token, signed with the cookie secret.
    cookie = create_signed_value(service.app.cookie_secret, hub_auth.cookie_name, token).decode()
    headers = {"Cookie": f"{hub_auth.cookie_name}={cookie}"}
    assert await in_thread(status_of_tasks, service.api_url, headers) == 200
    stream = await in_thread(OpenStream, service.api_url, headers)
    await in_thread(revoke, admin_token, token_id)
    await in_thread(assert_refused_within, SHORT_BOUND, time.monotonic(), service.api_url, headers, stream)


async def test_a_hub_that_does_not_answer_keeps_no_stream_open_beyond_the_bound(service, alice_token):
    headers = {"Authorization": f"Bearer {alice_token}"}
    stream = await in_thread(OpenStream, service.api_url, headers)
    with socket.socket() as silent_hub:  # the kernel queues the connections; nobody ever answers them
        silent_hub.bind(("127.0.0.1", 0))
        silent_hub.listen(16)
        service.app.hub_auth.api_url = f"http://127.0.0.1:{silent_hub.getsockname()[1]}/hub/api"
        await in_thread(assert_stream_ends_by, time.monotonic() + SHORT_BOUND + SLACK, stream)
    assert ": ended: the hub did not confirm the credential within 1 s" in stream.lines


async def test_requests_are_refused_once_the_hubs_answers_expire_and_it_cannot_be_reached(service, alice_token):
    headers = {"Authorization": f"Bearer {alice_token}"}
    assert await in_thread(status_of_tasks, service.api_url, headers) == 200
    with socket.socket() as gone:
        gone.bind(("127.0.0.1", 0))
        service.app.hub_auth.api_url = f"http://127.0.0.1:{gone.getsockname()[1]}/hub/api"
    await in_thread(wait_until, lambda: status_of_tasks(service.api_url, headers) == 503,
                    time.monotonic() + SHORT_BOUND + SLACK, "the API did not refuse requests it cannot check")


def test_the_demo_service_refuses_a_revoked_token_within_its_bound(admin_token, demo_config):
    bound = FirecrestService(config=demo_config).credential_check_interval
    token, token_id = new_token(admin_token)
    headers = {"Authorization": f"Bearer {token}"}
    assert status_of_tasks(API_URL, headers) == 200
    stream = OpenStream(API_URL, headers)
    revoke(admin_token, token_id)
    took = assert_refused_within(bound, time.monotonic(), API_URL, headers, stream)
    print(f"\ndemo service, bound {bound} s: API refused after {took['api']:.1f} s, stream ended after "
          f"{took['events']:.1f} s")
