"""The v2 API through the hub's proxy with raw requests: every endpoint's status codes and error shape,
hostile input on every parameter, and bob never seeing or touching alice's files or jobs."""

from __future__ import annotations

import uuid

import pytest
import requests

from conftest import HUB_URL, wait_for

pytestmark = pytest.mark.cluster

V2 = f"{HUB_URL}/services/firecrest/api/v2"
OPS = f"{V2}/filesystem/cluster/ops"
JOBS = f"{V2}/compute/cluster/jobs"


def call(method: str, url: str, token: str | None, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, url, headers=headers, timeout=30, **kwargs)


def assert_error(response: requests.Response, status: int, message: str = "") -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["F7T-AppVersion"] == "2.5.6"
    body = response.json()
    assert set(body) == {"errorType", "message", "data", "user"} and message in body["message"], body
    return body


@pytest.fixture
async def work(alice):
    path = f"/home/alice/fc-v2raw-{uuid.uuid4().hex[:10]}"
    setup = await alice.run(["bash", "-c", 'mkdir -p -- "$1/d" && printf "one\\ntwo\\n" > "$1/f.txt" && chmod 700 "$1"',
                             "setup", path])
    assert setup.ok, setup.stderr
    yield path
    await alice.run(["rm", "-rf", "--", path])


# (method, endpoint below ops, how the path travels, expected status for an existing file)
READS = [("GET", "ls", 200), ("GET", "head", 200), ("GET", "tail", 200), ("GET", "view", 200),
         ("GET", "checksum", 200), ("GET", "file", 200), ("GET", "stat", 200), ("GET", "download", 200)]


@pytest.mark.parametrize(("method", "endpoint", "status"), READS)
def test_each_read_answers_and_a_missing_path_is_404(alice_token, work, method, endpoint, status):
    response = call(method, f"{OPS}/{endpoint}", alice_token, params={"path": f"{work}/f.txt"})
    assert response.status_code == status, response.text
    assert response.headers["F7T-AuthUsername"] == "alice"
    missing = assert_error(call(method, f"{OPS}/{endpoint}", alice_token, params={"path": f"{work}/none"}), 404,
                           "No such file or directory")
    assert missing["user"] == "alice"


@pytest.mark.parametrize(("method", "endpoint", "status"), READS)
def test_bob_cannot_read_through_any_endpoint(bob_token, work, method, endpoint, status):
    assert_error(call(method, f"{OPS}/{endpoint}", bob_token, params={"path": f"{work}/f.txt"}), 403)


@pytest.mark.parametrize("path", ["f.txt", "/etc/passwd", "/home/alice/../../etc/shadow", "/home/alice/x\ny",
                                  "-rf", "/home/alice/\x00", ""])
@pytest.mark.parametrize("endpoint", ["ls", "head", "tail", "view", "checksum", "file", "stat", "download"])
def test_hostile_paths_are_400(alice_token, endpoint, path):
    assert_error(call("GET", f"{OPS}/{endpoint}", alice_token, params={"path": path}), 400)


async def test_a_symlink_out_of_the_filesystems_is_neither_made_nor_followed(alice_token, work, alice):
    assert_error(call("POST", f"{OPS}/symlink", alice_token, json={"path": "/etc/hostname", "linkPath": f"{work}/o"}),
                 400, "outside")
    assert (await alice.run(["ln", "-s", "--", "/etc/hostname", f"{work}/out"])).ok
    for endpoint in ("view", "head", "checksum", "download"):
        assert_error(call("GET", f"{OPS}/{endpoint}", alice_token, params={"path": f"{work}/out"}), 400, "outside")


@pytest.mark.parametrize(("name", "value"), [("lines", "-3"), ("lines", "x"), ("bytes", "1;id"),
                                             ("skipTrailing", "sure")])
def test_hostile_head_parameters_are_400(alice_token, work, name, value):
    assert_error(call("GET", f"{OPS}/head", alice_token, params={"path": f"{work}/f.txt", name: value}), 400)


def test_changes_answer_with_v2s_codes(alice_token, work):
    made = call("POST", f"{OPS}/mkdir", alice_token, json={"sourcePath": f"{work}/new", "parent": "true"})
    assert made.status_code == 201 and made.json()["output"]["type"] == "d"
    assert_error(call("POST", f"{OPS}/mkdir", alice_token, json={"path": f"{work}/new"}), 400, "File exists")
    assert call("PUT", f"{OPS}/chmod", alice_token, json={"path": f"{work}/f.txt", "mode": "640"}).status_code == 200
    assert_error(call("PUT", f"{OPS}/chmod", alice_token, json={"path": f"{work}/f.txt", "mode": "999"}), 400)
    assert_error(call("PUT", f"{OPS}/chown", alice_token, json={"path": f"{work}/f.txt", "owner": "root"}), 403)
    link = call("POST", f"{OPS}/symlink", alice_token, json={"path": f"{work}/f.txt", "linkPath": f"{work}/l"})
    assert link.status_code == 201 and link.json()["output"]["linkTarget"] == f"{work}/f.txt"
    upload = call("POST", f"{OPS}/upload", alice_token, params={"path": work}, files={"file": ("u.txt", b"u")})
    assert upload.status_code == 204
    assert call("POST", f"{OPS}/compress", alice_token,
                json={"source_path": f"{work}/d", "target_path": f"{work}/d.tgz"}).status_code == 204
    assert call("POST", f"{OPS}/extract", alice_token,
                json={"source_path": f"{work}/d.tgz", "target_path": f"{work}/new"}).status_code == 204
    assert call("DELETE", f"{OPS}/rm", alice_token, params={"path": f"{work}/new"}).status_code == 204
    assert_error(call("DELETE", f"{OPS}/rm", alice_token, params={"path": f"{work}/new"}), 404)


@pytest.mark.parametrize(("method", "endpoint", "body"), [
    ("POST", "mkdir", {"path": "{work}/bob"}),
    ("PUT", "chmod", {"path": "{work}/f.txt", "mode": "777"}),
    ("POST", "symlink", {"path": "{work}/f.txt", "linkPath": "{work}/bob-link"}),
    ("POST", "compress", {"path": "{work}/d", "targetPath": "{work}/bob.tgz"}),
])
def test_bob_cannot_change_alices_files(bob_token, work, method, endpoint, body):
    body = {key: value.format(work=work) for key, value in body.items()}
    assert_error(call(method, f"{OPS}/{endpoint}", bob_token, json=body), 403)


def test_bob_cannot_remove_or_upload_into_alices_files(bob_token, work):
    assert_error(call("DELETE", f"{OPS}/rm", bob_token, params={"path": f"{work}/f.txt"}), 403)
    assert_error(call("POST", f"{OPS}/upload", bob_token, params={"path": work}, files={"file": ("b", b"b")}), 403)


def test_an_upload_over_the_cap_is_413(alice_token, work):
    too_big = b"x" * (5 * 1024 * 1024 + 70 * 1024)
    assert_error(call("POST", f"{OPS}/upload", alice_token, params={"path": work}, files={"file": ("big", too_big)}),
                 413)


def test_status_endpoints(alice_token):
    assert call("GET", f"{V2}/status/liveness/", None).status_code == 200
    for endpoint in ("nodes", "partitions", "reservations", "userinfo"):
        response = call("GET", f"{V2}/status/cluster/{endpoint}", alice_token)
        assert response.status_code == 200, response.text
        assert_error(call("GET", f"{V2}/status/nowhere/{endpoint}", alice_token), 404, "System not found")
    assert_error(call("GET", f"{V2}/status/systems", None), 401)
    assert_error(call("GET", f"{V2}/status/systems", "not-a-token"), 401)
    assert_error(call("GET", f"{V2}/no/such/thing", alice_token), 404)


def test_jobs_end_to_end_with_isolation(alice_token, bob_token, work):
    submitted = call("POST", JOBS, alice_token, json={"job": {
        "script": "#!/bin/bash\nsleep 60\n", "workingDirectory": work, "name": "v2-raw", "standardOutput": "o.txt"}})
    assert submitted.status_code == 201, submitted.text
    jobid = submitted.json()["jobId"]
    try:
        job = call("GET", f"{JOBS}/{jobid}", alice_token).json()["jobs"][0]
        assert (job["jobId"], job["name"], job["user"]) == (jobid, "v2-raw", "alice")
        assert call("GET", f"{JOBS}/{jobid}/metadata", alice_token).json()["jobs"][0]["standardOutput"] == \
            f"{work}/o.txt"
        assert jobid not in [j["jobId"] for j in call("GET", JOBS, bob_token).json()["jobs"]]
        for suffix in ("", "/metadata"):
            assert_error(call("GET", f"{JOBS}/{jobid}{suffix}", bob_token), 404, "Job not found")
        assert_error(call("DELETE", f"{JOBS}/{jobid}", bob_token), 403)
        wait_for(lambda: call("GET", f"{JOBS}/{jobid}", alice_token).json()["jobs"][0]["status"]["state"] == "RUNNING",
                 60, interval=0.5, what="the job to run")
        assert_error(call("PUT", f"{JOBS}/{jobid}/attach", bob_token, json={"command": "touch /tmp/bob-was-here"}), 403)
        assert call("PUT", f"{JOBS}/{jobid}/attach", alice_token, json={"command": "true"}).status_code == 204
        assert_error(call("PUT", f"{JOBS}/{jobid}/attach", alice_token, json={"command": "exit 3"}), 400, "failed")
    finally:
        assert call("DELETE", f"{JOBS}/{jobid}", alice_token).status_code == 204


@pytest.mark.parametrize("job", [
    {"script": "#!/bin/bash\ntrue\n"},
    {"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/etc"},
    {"scriptPath": "/etc/passwd", "workingDirectory": "/home/alice"},
    {"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "partition": "debug --uid=0"},
    {"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "reservation": "-x"},
    {"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "env": {"LD_PRELOAD=x y": "z"}},
    {"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "standardError": "e\r\n"},
])
def test_hostile_submissions_are_400(alice_token, job):
    assert_error(call("POST", JOBS, alice_token, json={"job": job}), 400)


@pytest.mark.parametrize("jobid", ["1;id", "..", "-1", "1%20--help"])
def test_hostile_job_ids_are_400_or_404(alice_token, jobid):
    response = call("GET", f"{JOBS}/{jobid}", alice_token)
    assert response.status_code in (400, 404)
    assert_error(response, response.status_code)


def test_an_unknown_job_is_404(alice_token):
    assert_error(call("GET", f"{JOBS}/999999999", alice_token), 404, "Job not found")
    assert_error(call("DELETE", f"{JOBS}/999999999", alice_token), 404, "Job not found")
    assert_error(call("GET", JOBS, alice_token, params={"allusers": "true"}), 403)
