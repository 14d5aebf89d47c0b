"""v1's exact behaviours that clients rely on, through the hub proxy with alice's token: relative paths
start at the home directory, grep without a match is v1's 404, an empty account is refused with v1's
words, a script the user cannot read is refused before anything is submitted, an unknown service or
path answers v1's JSON 404, mkdir of an existing path says "File exists" as coreutils does, and the
error headers reach the client in v1's case."""

from __future__ import annotations

import uuid

import pytest
import requests

from compute_support import call
from conftest import API_URL

pytestmark = pytest.mark.cluster


@pytest.fixture
async def work(alice):
    name = f"fc-v1-{uuid.uuid4().hex[:10]}"
    path = f"/home/alice/{name}"
    setup = await alice.run(["bash", "-c", 'mkdir -- "$1" && printf "one\\ntwo\\n" > "$1/f.txt"', "x", path])
    assert setup.ok, setup.stderr
    yield name, path
    await alice.run(["rm", "-rf", "--", path])


def test_a_relative_path_starts_at_the_home_directory(alice_token, work):
    name, path = work
    response = call("GET", "utilities/view", alice_token, params={"targetPath": f"{name}/f.txt"})
    assert response.status_code == 200, response.text
    assert response.json()["output"] == "one\ntwo\n"
    listed = call("GET", "utilities/ls", alice_token, params={"targetPath": name})
    assert [entry["name"] for entry in listed.json()["output"]] == ["f.txt"]
    # Still inside the filesystems: a relative path cannot climb out of them.
    assert call("GET", "utilities/ls", alice_token, params={"targetPath": "../../etc"}).status_code == 400


@pytest.mark.parametrize("tool", ["head", "tail"])
def test_grep_without_a_match_is_v1s_404(alice_token, work, tool):
    _, path = work
    found = call("GET", f"utilities/{tool}", alice_token, params={"targetPath": f"{path}/f.txt", "grep": "two"})
    assert found.status_code == 200 and found.json()["output"] == "two\n"
    missing = call("GET", f"utilities/{tool}", alice_token, params={"targetPath": f"{path}/f.txt", "grep": "three"})
    assert missing.status_code == 404 and "X-Not-Found" in missing.headers, missing.text
    assert "pattern not found" in missing.json()["description"]


def test_an_empty_account_is_refused_with_v1s_words(alice_token, work):
    _, path = work
    for response in (
        call("POST", "compute/jobs/upload", alice_token, files={"file": ("a.sh", b"#!/bin/bash\n")},
             data={"account": ""}),
        call("POST", "compute/jobs/path", alice_token, data={"targetPath": f"{path}/f.txt", "account": ""}),
    ):
        assert response.status_code == 400, response.text
        assert response.json() == {"description": "Invalid account", "error": "'account' is empty"}


async def test_a_script_the_user_cannot_read_is_refused_before_anything_runs(alice_token, alice, work):
    _, path = work
    assert (await alice.run(["bash", "-c", 'printf "#!/bin/bash\\ntrue\\n" > "$1" && chmod 0200 "$1"', "x",
                             f"{path}/secret.sh"])).ok
    response = call("POST", "compute/jobs/path", alice_token, data={"targetPath": f"{path}/secret.sh"})
    assert response.status_code == 400 and "X-Permission-Denied" in response.headers, response.text
    assert "task_id" not in response.json()


def test_mkdir_of_an_existing_path_says_file_exists(alice_token, work):
    _, path = work
    response = call("POST", "utilities/mkdir", alice_token, data={"targetPath": path})
    assert response.status_code == 400 and "X-Exists" in response.headers
    assert "File exists" in response.json()["description"]


def test_an_unknown_service_answers_v1s_404(alice_token):
    response = call("GET", "status/services/nonexistent", alice_token, machine=None)
    assert response.status_code == 404
    assert response.json() == {"description": "Service does not exists", "status_code": 404}


@pytest.mark.parametrize("path", ["nonexistent", "utilities/nonexistent", "compute/jobs/1/2/3"])
def test_unknown_api_paths_answer_json_404(alice_token, path):
    response = requests.get(f"{API_URL}/{path}", headers={"Authorization": f"Bearer {alice_token}"}, timeout=30)
    assert response.status_code == 404 and response.headers["Content-Type"].startswith("application/json")
    assert "there is no endpoint" in response.json()["description"]


def sent_header_names(response: requests.Response) -> list[str]:
    """The header names as they came over the wire: iterating requests' headers keeps the sender's case,
    and aiida-firecrest 0.1 looks its error headers up by those names in a case-sensitive table."""
    return list(response.headers)


async def test_error_headers_keep_v1s_case_through_the_proxy(alice_token, alice, work):
    _, path = work
    assert (await alice.run(["bash", "-c", 'touch -- "$1" && chmod 0200 -- "$1"', "x", f"{path}/locked"])).ok
    cases = {
        "X-Invalid-Path": call("GET", "utilities/ls", alice_token, params={"targetPath": f"{path}/missing"}),
        "X-Exists": call("POST", "utilities/mkdir", alice_token, data={"targetPath": path}),
        "X-Permission-Denied": call("GET", "utilities/view", alice_token, params={"targetPath": f"{path}/locked"}),
        "X-A-Directory": call("GET", "utilities/view", alice_token, params={"targetPath": path}),
        "X-Machine-Does-Not-Exist": call("GET", "utilities/ls", alice_token, machine="nosuchsystem",
                                         params={"targetPath": path}),
    }
    for header, response in cases.items():
        assert response.status_code == 400, (header, response.text)
        assert header in sent_header_names(response), (header, sent_header_names(response))
