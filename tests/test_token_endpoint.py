"""The service's OAuth2 client-credentials token endpoint against the demo hub: a hub token of the user
named as the client is confirmed and handed back, anything else is refused in RFC 6749's words, and
pyfirecrest's ClientCredentialsAuth logs in with it unmodified."""

from __future__ import annotations

import pytest
import requests
from firecrest import ClientCredentialsAuth
from firecrest.v2 import Firecrest

from conftest import HUB_URL, ROOT

pytestmark = pytest.mark.cluster

TOKEN_URL = f"{HUB_URL}/services/firecrest/oauth2/token"


def ask(data: dict, **kwargs) -> requests.Response:
    return requests.post(TOKEN_URL, data=data, timeout=10, **kwargs)


def test_a_hub_token_of_the_client_is_confirmed(alice_token):
    answer = ask({"grant_type": "client_credentials", "client_id": "alice", "client_secret": alice_token})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.json() == {"access_token": alice_token, "token_type": "Bearer", "expires_in": 300}
    basic = ask({"grant_type": "client_credentials"}, auth=("alice", alice_token))
    assert basic.status_code == 200 and basic.json()["access_token"] == alice_token


@pytest.mark.parametrize(("data", "status", "error"), [
    ({"grant_type": "password", "client_id": "alice", "client_secret": "{token}"}, 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials"}, 401, "invalid_client"),
    ({"grant_type": "client_credentials", "client_id": "bob", "client_secret": "{token}"}, 401, "invalid_client"),
    ({"grant_type": "client_credentials", "client_id": "alice", "client_secret": "not-a-token"}, 401,
     "invalid_client"),
])
def test_anything_else_is_refused(alice_token, data, status, error):
    answer = ask({name: value.format(token=alice_token) for name, value in data.items()})
    assert answer.status_code == status and answer.json()["error"] == error
    assert alice_token not in answer.text


def test_a_token_without_access_to_the_service_is_403(make_token):
    token = make_token("alice", scopes=("read:users:name!user=alice",))
    answer = ask({"grant_type": "client_credentials", "client_id": "alice", "client_secret": token})
    assert answer.status_code == 403 and answer.json()["error"] == "access_denied"


def test_pyfirecrest_logs_in_with_client_credentials(alice_token):
    auth = ClientCredentialsAuth("alice", alice_token, TOKEN_URL)
    client = Firecrest(firecrest_url=f"{HUB_URL}/services/firecrest/api/v2", authorization=auth)
    assert client.userinfo("cluster")["user"]["name"] == "alice"
    assert alice_token not in (ROOT / ".demo/logs/hub.log").read_text()
