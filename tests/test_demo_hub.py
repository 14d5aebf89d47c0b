"""The demo hub: the firecrest service is registered, reachable through the proxy, and guarded."""

import os
import stat

import pytest
import requests

from conftest import API_URL, HUB_URL

pytestmark = pytest.mark.cluster


def test_admin_token_file_is_private(demo_dir):
    mode = stat.S_IMODE(os.stat(demo_dir / "admin.token").st_mode)
    assert mode == 0o600


def test_service_is_registered_with_the_hub(admin_token):
    response = requests.get(f"{HUB_URL}/hub/api/services/firecrest",
                            headers={"Authorization": f"token {admin_token}"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["prefix"] == "/services/firecrest/"


def test_user_token_reaches_the_service_through_the_proxy(alice_token):
    response = requests.get(f"{API_URL}/status/parameters",
                            headers={"Authorization": f"Bearer {alice_token}"}, timeout=10)
    assert response.status_code == 200
    general = {item["name"]: item["value"] for item in response.json()["out"]["general"]}
    assert general["FIRECREST_VERSION"].startswith("v1.")


def test_token_scheme_also_works(alice_token):
    response = requests.get(f"{API_URL}/status/parameters",
                            headers={"Authorization": f"token {alice_token}"}, timeout=10)
    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_no_valid_token_is_a_json_401_not_a_redirect(headers):
    response = requests.get(f"{API_URL}/status/parameters", headers=headers, timeout=10, allow_redirects=False)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert "token" in response.json()["description"]


def test_token_without_the_service_scope_is_a_json_403(make_token):
    token = make_token("alice", scopes=["read:users!user=alice"])
    response = requests.get(f"{API_URL}/status/parameters",
                            headers={"Authorization": f"Bearer {token}"}, timeout=10, allow_redirects=False)
    assert response.status_code == 403
    assert response.json()["description"]
