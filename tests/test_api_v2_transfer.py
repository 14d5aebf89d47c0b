"""The v2 transfer endpoints through the hub's proxy with raw requests: their answers' shapes and status
codes, v2's error shape for every bad request (and nothing submitted for one), hostile paths on every path
field, the completion URL's signature, and bob never moving alice's files."""

from __future__ import annotations

import math

import pytest

from conftest import HUB_URL, ROOT
from test_api_v2 import V2, assert_error, call, work  # noqa: F401 (work is a fixture)

pytestmark = pytest.mark.cluster

TRANSFER = f"{V2}/filesystem/cluster/transfer"
MiB = 1024 * 1024
HOSTILE_PATHS = ["f.txt", "/etc/passwd", "/home/alice/../../etc/shadow", "/home/alice/x\ny", "-rf", ""]


async def queued_jobs(alice) -> list[str]:
    return (await alice.run(["squeue", "--me", "--noheader", "--format=%i"])).stdout.split()


def assert_transfer_job(answer: dict, work_root: str = "/home/alice/firecrest/") -> dict:
    job = answer["transferJob"]
    assert set(job) == {"jobId", "system", "workingDirectory", "logs"} and job["system"] == "cluster"
    assert job["jobId"].isdigit() and job["workingDirectory"].startswith(work_root)
    assert set(job["logs"]) == {"outputLog", "errorLog"}
    return job


def test_each_transfer_answers_with_its_job(alice_token, work):
    copied = call("POST", f"{TRANSFER}/cp", alice_token, json={"sourcePath": f"{work}/f.txt",
                                                               "targetPath": f"{work}/g.txt"})
    assert copied.status_code == 201, copied.text
    assert_transfer_job(copied.json())
    removed = call("DELETE", f"{TRANSFER}/rm", alice_token, params={"path": f"{work}/d"})
    assert removed.status_code == 200 and assert_transfer_job(removed.json())

    size = 20 * MiB + 3
    upload = call("POST", f"{TRANSFER}/upload", alice_token,
                  json={"path": f"{work}/up.bin", "transfer_directives": {"transfer_method": "s3", "file_size": size}})
    assert upload.status_code == 201, upload.text
    directives = upload.json()["transferDirectives"]
    assert directives["transferMethod"] == "s3"
    assert len(directives["partsUploadUrls"]) == math.ceil(size / directives["maxPartSize"])
    assert directives["completeUploadUrl"].startswith(f"{HUB_URL}/services/firecrest/api/v2/")
    job = assert_transfer_job(upload.json())

    download = call("POST", f"{TRANSFER}/download", alice_token,
                    json={"sourcePath": f"{work}/f.txt", "transferDirectives": {"transferMethod": "s3"}})
    assert download.status_code == 201, download.text
    assert download.json()["transferDirectives"]["downloadUrl"].startswith("http")
    assert_transfer_job(download.json())
    # The upload's job waits for parts that never come; stop it.
    assert call("DELETE", f"{V2}/compute/cluster/jobs/{job['jobId']}", alice_token).status_code == 204


@pytest.mark.parametrize(("method", "endpoint", "body", "status", "message"), [
    ("POST", "upload", {"path": "{work}/x"}, 400, "transferDirectives is required"),
    ("POST", "upload", {"path": "{work}/x", "transferDirectives": {"transferMethod": "wormhole"}}, 400,
     "transfer method is not available"),
    ("POST", "upload", {"path": "{work}/x", "transferDirectives": {"transferMethod": "s3"}}, 400, "fileSize"),
    ("POST", "upload", {"path": "{work}/x", "transferDirectives": {"transferMethod": "s3", "fileSize": -1}}, 400,
     "fileSize"),
    ("POST", "upload", {"path": "{work}/x", "transferDirectives": {"transferMethod": "s3", "fileSize": "1e9"}}, 400,
     "fileSize"),
    ("POST", "upload", {"path": "{work}/no/x", "transferDirectives": {"transferMethod": "s3", "fileSize": 9}}, 404,
     "no such directory"),
    ("POST", "download", {"path": "{work}/missing", "transferDirectives": {"transferMethod": "s3"}}, 404, ""),
    ("POST", "download", {"path": "{work}/d", "transferDirectives": {"transferMethod": "s3"}}, 400, "directory"),
    ("POST", "cp", {"sourcePath": "{work}/f.txt"}, 400, "targetPath"),
    ("POST", "compress", {"path": "{work}/d", "targetPath": "{work}/d.tar.xz", "compression": "xz"}, 400, "gzip"),
    ("POST", "extract", {"path": "{work}/d.tgz", "targetPath": "{work}", "compression": "zip"}, 400, "compression"),
    ("POST", "cp", {"sourcePath": "{work}/f.txt", "targetPath": "{work}/g", "account": "no account"}, 400, "account"),
])
async def test_a_bad_request_is_refused_and_submits_nothing(alice_token, work, alice, method, endpoint, body,
                                                            status, message):
    before = await queued_jobs(alice)
    body = {key: value.format(work=work) if isinstance(value, str) else value for key, value in body.items()}
    error = assert_error(call(method, f"{TRANSFER}/{endpoint}", alice_token, json=body), status, message)
    assert error["errorType"] in ("validation", "error") and error["user"] == "alice"
    assert not set(await queued_jobs(alice)) - set(before)  # no new job (earlier ones may have ended)


@pytest.mark.parametrize("path", HOSTILE_PATHS)
@pytest.mark.parametrize(("endpoint", "field"), [
    ("cp", "sourcePath"), ("cp", "targetPath"), ("mv", "sourcePath"), ("mv", "targetPath"),
    ("compress", "sourcePath"), ("compress", "targetPath"), ("extract", "sourcePath"), ("extract", "targetPath"),
    ("upload", "path"), ("download", "path"),
])
def test_hostile_paths_are_400(alice_token, endpoint, field, path):
    body = {"sourcePath": "/home/alice/f", "targetPath": "/home/alice/g",
            "transferDirectives": {"transferMethod": "s3", "fileSize": 9}}
    body[field] = path
    assert_error(call("POST", f"{TRANSFER}/{endpoint}", alice_token, json=body), 400)


@pytest.mark.parametrize("path", HOSTILE_PATHS + ["/home"])
def test_hostile_paths_to_remove_are_400(alice_token, path):
    assert_error(call("DELETE", f"{TRANSFER}/rm", alice_token, params={"path": path}), 400)


def test_the_transfers_need_a_token_and_a_known_system(alice_token):
    assert_error(call("POST", f"{TRANSFER}/cp", None, json={}), 401)
    assert_error(call("POST", f"{V2}/filesystem/nowhere/transfer/cp", alice_token,
                      json={"sourcePath": "/home/alice/f", "targetPath": "/home/alice/g"}), 404, "System not found")


def test_a_completion_url_works_only_as_given(alice_token, bob_token, work):
    answer = call("POST", f"{TRANSFER}/upload", alice_token,
                  json={"path": f"{work}/up.bin", "transferDirectives": {"transferMethod": "s3", "fileSize": 10}}).json()
    url, jobid = answer["transferDirectives"]["completeUploadUrl"], answer["transferJob"]["jobId"]
    try:
        assert_error(call("POST", url.replace("user=alice", "user=bob"), None, data=b"<x/>"), 403)
        assert_error(call("POST", url.replace("signature=", "signature=f"), bob_token, data=b"<x/>"), 403)
        assert_error(call("POST", url, None, data=b"not xml"), 400, "CompleteMultipartUpload")
        assert_error(call("POST", url, None, data=b"<CompleteMultipartUpload/>"), 400, "no parts")
        # The part is not there yet.
        assert_error(call("POST", url, None, data=b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
                                                  b"<ETag>\"e\"</ETag></Part></CompleteMultipartUpload>"), 400, "missing")
        signature = url.rsplit("signature=", 1)[1]
        assert signature not in (ROOT / ".demo/logs/hub.log").read_text()
    finally:
        call("DELETE", f"{V2}/compute/cluster/jobs/{jobid}", alice_token)


@pytest.mark.parametrize(("method", "endpoint", "body"), [
    ("POST", "cp", {"sourcePath": "{work}/f.txt", "targetPath": "/home/bob/f.txt"}),
    ("POST", "upload", {"path": "{work}/b.bin", "transferDirectives": {"transferMethod": "s3", "fileSize": 9}}),
    ("POST", "download", {"path": "{work}/f.txt", "transferDirectives": {"transferMethod": "s3"}}),
    ("POST", "compress", {"path": "{work}/d", "targetPath": "/home/bob/d.tgz"}),
])
def test_bob_cannot_move_alices_files(bob_token, work, method, endpoint, body):
    body = {key: value.format(work=work) if isinstance(value, str) else value for key, value in body.items()}
    assert_error(call(method, f"{TRANSFER}/{endpoint}", bob_token, json=body), 403)


def test_bob_cannot_remove_alices_files(bob_token, work):
    assert_error(call("DELETE", f"{TRANSFER}/rm", bob_token, params={"path": f"{work}/f.txt"}), 403)
