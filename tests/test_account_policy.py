"""The account policy, acted out: hub users whose names are those of reserved or system accounts on the
cluster (any authenticator that admits arbitrary names can make them) get a clear 403 through the real
hub and service, and no certificate is ever signed for those accounts."""

from __future__ import annotations

import pytest
import requests

from compute_support import call
from conftest import DEMO, HUB_URL

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def hub_user(admin_token, make_token):
    """hub_user(name) -> a token of a hub user of that name, made (and removed again) through the hub API."""
    made = []

    def make(name: str) -> str:
        response = requests.post(f"{HUB_URL}/hub/api/users/{name}", headers={"Authorization": f"token {admin_token}"},
                                 timeout=10)
        assert response.status_code in (201, 409), response.text
        made.append(name)
        return make_token(name)

    yield make
    for name in made:
        requests.delete(f"{HUB_URL}/hub/api/users/{name}", headers={"Authorization": f"token {admin_token}"},
                        timeout=10)


def certificates_signed_for(hub_user: str) -> int:
    """Logins sshd accepted with a certificate whose key id names this hub user."""
    return (DEMO / "logs" / "sshd.log").read_text(errors="replace").count(f'ID firecrest-hub:{hub_user} ')


@pytest.mark.parametrize(("name", "reason"), [
    ("firecrest", "reserved for the system or the service"),  # the demo system's service account
    ("root", "reserved for the system or the service"),
    ("www-data", "is a system account on 'cluster' (uid 33, below 1000)"),  # not on the deny list: its uid
    ("games", "is a system account on 'cluster' (uid 5, below 1000)"),
    ("nosuchaccount", "there is no account 'nosuchaccount' on system 'cluster'"),
])
def test_hub_users_named_like_system_accounts_are_refused_before_any_certificate(hub_user, name, reason):
    token = hub_user(name)
    for method, path, data in (("GET", "utilities/whoami", None), ("GET", "utilities/ls?targetPath=/tmp", None),
                               ("POST", "compute/jobs/path", {"targetPath": "/tmp/x.sh"})):
        response = call(method, path, token, data=data)
        assert response.status_code == 403, (path, response.text)
        assert response.headers["X-Permission-Denied"] and reason in response.json()["description"], response.text
    assert certificates_signed_for(name) == 0


def test_an_ordinary_user_is_admitted(alice_token):
    response = call("GET", "utilities/whoami", alice_token)
    assert response.status_code == 200 and response.json()["output"] == "alice"
