"""The v2 handlers without hub or cluster (the `api` fixture, tests/handler_support.py): who gets in, how
parameters and bodies are read and refused before anything runs, and how failures reach the client (v2's
status codes and its error shape {errorType, message, data, user}). What the cluster really answers is
tested in test_api_v2.py and test_pyfirecrest_v2.py."""

from __future__ import annotations

import json
import re

import pytest
from tornado.httpclient import AsyncHTTPClient

from firecrest_hub.api.v2 import routes as v2_routes
from firecrest_hub.api.v2.base import APP_VERSION, V2Handler, V2PublicHandler
from firecrest_hub.api.v2.times import duration_seconds, epoch_seconds
from firecrest_hub.api.v2.transfer import completed_parts, completion_signature
from firecrest_hub.errors import ClusterUnreachable, CommandTimeout, InvalidInput, OutputTooLarge

FILE = "/home/alice/data.txt"


async def fetch(api, method: str, path: str, token: str | None = "alice-token", *, params: dict | None = None,
                body=None, headers: dict | None = None):
    """One v2 request: the token as Bearer, `body` sent as JSON unless it is bytes."""
    from urllib.parse import urlencode

    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if body is None and method in ("POST", "PUT"):
        body = b""
    url = api.url.replace("/api/v1", "/api/v2") + "/" + path + (f"?{urlencode(params)}" if params else "")
    return await AsyncHTTPClient().fetch(url, method=method, headers=headers, body=body, raise_error=False,
                                         follow_redirects=False, allow_nonstandard_methods=True, request_timeout=10)


def assert_v2_error(response, status: int, message: str | None = None, *, kind: str | None = None) -> dict:
    assert response.code == status, (response.code, response.body)
    assert response.headers["F7T-AppVersion"] == APP_VERSION
    body = json.loads(response.body)
    assert set(body) == {"errorType", "message", "data", "user"} and body["message"], body
    assert body["errorType"] in ("error", "validation")
    if kind:
        assert body["errorType"] == kind, body
    if message:
        assert re.search(message, body["message"]), body
    assert b"Traceback" not in response.body
    return body


def authenticated_endpoints() -> list[tuple[str, str]]:
    endpoints = []
    for pattern, handler in v2_routes(""):
        if issubclass(handler, V2PublicHandler):
            continue
        path = re.sub(r"\([^)]*\)", "cluster", pattern, count=1)
        path = re.sub(r"\([^)]*\)", "42", path).replace("/?", "").replace("\\", "").lstrip("/")
        for method in ("GET", "POST", "PUT", "DELETE"):
            if getattr(handler, method.lower()) is not getattr(V2Handler, method.lower()):
                endpoints.append((method, path))
    return endpoints


ENDPOINTS = authenticated_endpoints()


def test_every_area_is_covered():
    assert {path.split("/")[0] for _, path in ENDPOINTS} == {"status", "filesystem", "compute"}
    assert len(ENDPOINTS) >= 27


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_no_token_is_a_v2_401(api, method, path):
    body = assert_v2_error(await fetch(api, method, path, None), 401, "missing or invalid token")
    assert body["user"] is None
    assert api.replay.log == []


async def test_a_token_without_access_and_a_service_token_are_403(api):
    for token in ("no-scope-token", "service-token"):
        assert_v2_error(await fetch(api, "GET", "status/systems", token), 403)


async def test_a_reserved_account_is_refused_before_any_certificate(api):
    assert_v2_error(await fetch(api, "GET", "filesystem/cluster/ops/ls", "root-token", params={"path": "/home"}), 403)
    assert [call.argv[0] for call in api.replay.log] == []


async def test_unknown_system_and_unknown_path_are_v2_404s(api):
    body = assert_v2_error(await fetch(api, "GET", "filesystem/nowhere/ops/ls", params={"path": "/home"}), 404,
                           "System not found")
    assert body["user"] == "alice"
    assert_v2_error(await fetch(api, "GET", "no/such/endpoint"), 404, "Not Found")
    assert api.replay.log == []


async def test_liveness_and_the_spec_are_public(api):
    for probe in (["true"], ["scontrol", "ping"], ["stat"]):  # liveness starts a round of health checks
        api.replay.answer(probe, stdout="directory\n")
    response = await fetch(api, "GET", "status/liveness/", None)
    assert response.code == 200 and set(json.loads(response.body)) == {"healthcheckRuns", "lastUpdate"}
    for extension in ("json", "yaml"):
        assert (await fetch(api, "GET", f"openapi.{extension}", None)).code == 200


@pytest.mark.parametrize("path", ["relative/file", "/etc/passwd", "/home/../etc/passwd", "/home/alice/a\nb", ""])
async def test_paths_outside_the_policy_are_refused_before_anything_runs(api, path):
    assert_v2_error(await fetch(api, "GET", "filesystem/cluster/ops/checksum", params={"path": path}), 400,
                    kind="validation")
    assert api.replay.ran_as("alice") == []


@pytest.mark.parametrize(("endpoint", "params", "message"), [
    ("head", {"bytes": "2", "lines": "3"}, "Only one of"),
    ("head", {"lines": "-1"}, "lines"),
    ("tail", {"bytes": "1e3"}, "bytes"),
    ("ls", {"showHidden": "maybe"}, "showHidden"),
    ("view", {"size": "0"}, "size"),
    ("view", {"offset": "-5"}, "offset"),
])
async def test_bad_parameters_are_400_validation(api, endpoint, params, message):
    response = await fetch(api, "GET", f"filesystem/cluster/ops/{endpoint}", params={"path": FILE, **params})
    assert_v2_error(response, 400, message, kind="validation")
    assert api.replay.ran_as("alice") == []


@pytest.mark.parametrize(("method", "endpoint", "body", "message"), [
    ("POST", "mkdir", b"{not json", "not JSON"),
    ("POST", "mkdir", [1, 2], "JSON object"),
    ("POST", "mkdir", {"parent": True}, "path"),
    ("PUT", "chmod", {"path": FILE, "mode": "u+s;rm"}, "mode"),
    ("PUT", "chmod", {"path": FILE, "mode": 755}, "mode must be a string"),
    ("PUT", "chown", {"path": FILE, "owner": "-rf"}, "owner"),
    ("POST", "symlink", {"path": FILE}, "linkPath"),
    ("POST", "compress", {"path": "/home/alice/d", "targetPath": "/home/alice/d.tar.xz", "compression": "xz"}, "gzip"),
    ("POST", "compress", {"path": "/home/alice/d", "targetPath": "/home/alice/d.tgz", "matchPattern": ".*"},
     "matchPattern"),
    ("POST", "extract", {"path": "/home/alice/d.tgz", "targetPath": "/home/alice", "compression": "zip"},
     "compression"),
])
async def test_bad_bodies_are_400_before_anything_runs(api, method, endpoint, body, message):
    response = await fetch(api, method, f"filesystem/cluster/ops/{endpoint}", body=body)
    assert_v2_error(response, 400, message)
    assert [call for call in api.replay.ran_as("alice") if not call[0].startswith("sftp.")] == []


async def test_the_path_field_has_v2s_aliases(api):
    api.replay.answer(["stat", "--format=%U %G"], stdout="alice alice\n")
    for name in ("path", "sourcePath", "source_path"):
        target = f"/home/alice/new-{name}"
        response = await fetch(api, "POST", "filesystem/cluster/ops/mkdir", body={name: target})
        assert response.code == 201, response.body
        assert target in api.replay.files.nodes


@pytest.mark.parametrize(("error", "status"), [
    (CommandTimeout("sha256sum did not finish within 30 s"), 408),
    (OutputTooLarge("more output than allowed"), 413),
    (ClusterUnreachable("the login node does not answer"), 424),
])
async def test_layer_failures_have_v2_status_codes(api, error, status):
    api.replay.files.add_file(FILE, b"x")
    api.replay.fail(["sha256sum"], error)
    assert_v2_error(await fetch(api, "GET", "filesystem/cluster/ops/checksum", params={"path": FILE}), status,
                    kind="error")


@pytest.mark.parametrize(("stderr", "status", "message"), [
    ("sha256sum: /home/alice/data.txt: No such file or directory\n", 404, "No such file or directory"),
    ("sha256sum: /home/alice/data.txt: Permission denied\n", 403, "Permission denied"),
])
async def test_what_the_tools_say_decides_the_status(api, stderr, status, message):
    api.replay.answer(["sha256sum"], stderr=stderr, exit_status=1)
    assert_v2_error(await fetch(api, "GET", "filesystem/cluster/ops/checksum", params={"path": FILE}), status,
                    message)


async def test_a_missing_path_over_sftp_is_404_with_the_systems_words(api):
    response = await fetch(api, "GET", "filesystem/cluster/ops/view", params={"path": "/home/alice/nothing"})
    assert_v2_error(response, 404, "No such file or directory")


async def test_checksum_and_head_answer_in_v2s_models(api):
    api.replay.files.add_file(FILE, b"one\ntwo\n")
    api.replay.answer(["sha256sum"], stdout="abc  /home/alice/data.txt\n")
    response = await fetch(api, "GET", "filesystem/cluster/ops/checksum", params={"path": FILE})
    assert json.loads(response.body) == {"output": {"algorithm": "SHA256", "checksum": "abc"}}
    assert response.headers["F7T-AuthUsername"] == "alice"
    api.replay.answer(["head"], stdout="one\n")
    response = await fetch(api, "GET", "filesystem/cluster/ops/head",
                           params={"path": FILE, "lines": "1", "skipTrailing": "true"})
    assert json.loads(response.body)["output"] == {"content": "one\n", "contentType": "lines", "startPosition": 0,
                                                   "endPosition": -1}
    assert ("head", "--lines=-1", "--", FILE) in api.replay.ran_as("alice")


async def test_view_reads_a_range_of_a_file_larger_than_the_cap(api):
    api.replay.files.add_file(FILE, b"0123456789" * (api.service.max_file_size // 10 + 1))
    response = await fetch(api, "GET", "filesystem/cluster/ops/view", params={"path": FILE, "offset": "3", "size": "4"})
    assert json.loads(response.body) == {"output": "3456"}
    assert_v2_error(await fetch(api, "GET", "filesystem/cluster/ops/view", params={"path": FILE}), 413)


async def test_ls_dereference_shows_what_a_link_inside_leads_to_and_leaves_others_links(api):
    api.replay.files.add_directory("/home/alice/d")
    api.replay.files.add_file("/home/alice/d/target.txt", b"12345")
    api.replay.files.add_link("/home/alice/d/inside", "/home/alice/d/target.txt")
    api.replay.files.add_link("/home/alice/d/outside", "/etc/passwd")
    api.replay.files.add_file("/etc/passwd", b"root:x:0:0")
    params = {"path": "/home/alice/d", "dereference": "true", "numericUid": "true"}
    entries = {entry["name"]: entry for entry in json.loads((await fetch(
        api, "GET", "filesystem/cluster/ops/ls", params=params)).body)["output"]}
    assert (entries["inside"]["type"], entries["inside"]["size"], entries["inside"]["linkTarget"]) == ("-", "5", None)
    assert (entries["outside"]["type"], entries["outside"]["linkTarget"]) == ("l", "/etc/passwd")


async def test_rm_of_a_filesystem_root_is_refused(api):
    assert_v2_error(await fetch(api, "DELETE", "filesystem/cluster/ops/rm", params={"path": "/home"}), 400)
    assert api.replay.ran_as("alice") == []


async def test_an_upload_over_the_cap_is_413(api):
    size = api.service.max_file_size + 100 * 1024
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n" + b"x" * size
            + b"\r\n--b--\r\n")
    response = await fetch(api, "POST", "filesystem/cluster/ops/upload", params={"path": "/home/alice"}, body=body,
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_v2_error(response, 413, "too large")
    assert "/home/alice/x" not in api.replay.files.nodes


# -- compute ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("job", "message"), [
    (None, "job"),
    ({"script": "#!/bin/bash\n"}, "workingDirectory"),
    ({"script": "#!/bin/bash\ntrue\n", "workingDirectory": "relative"}, "absolute|workingDirectory"),
    ({"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "env": {"A": 1}}, "env"),
    ({"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "env": {"A-B": "x"}}, "A-B"),
    ({"script": "x", "scriptPath": "/home/alice/s.sh", "workingDirectory": "/home/alice"}, "either"),
    ({"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "name": "a\nb"}, "control"),
    ({"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "account": "--uid=0"}, "account"),
    ({"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "standardOutput": "o\n"}, "control"),
    ({"script": "#!/bin/bash\ntrue\n", "workingDirectory": "/home/alice", "constraints": "gpu"}, "constraint"),
])
async def test_bad_submissions_are_400_before_sbatch(api, job, message):
    response = await fetch(api, "POST", "compute/cluster/jobs", body={"job": job} if job is not None else {})
    assert_v2_error(response, 400, message)
    assert not [argv for argv in api.replay.ran_as("alice") if argv[0] in ("sbatch", "bash")]


async def test_a_submission_passes_each_option_in_its_own_word(api):
    api.replay.answer(["sbatch"], stdout="77\n")
    job = {"script": "#!/bin/bash\ntrue\n", "working_directory": "/home/alice", "name": "n", "account": "demo",
           "partition": "debug", "standardOutput": "out-%j.txt", "standardError": "err-%j.txt",
           "standardInput": "/dev/null"}
    response = await fetch(api, "POST", "compute/cluster/jobs", body={"job": job})
    assert response.code == 201 and json.loads(response.body) == {"jobId": "77"}
    (sbatch,) = [argv for argv in api.replay.ran_as("alice") if argv[0] == "sbatch"]
    assert {"--job-name=n", "--account=demo", "--partition=debug", "--chdir=/home/alice", "--output=out-%j.txt",
            "--error=err-%j.txt", "--input=/dev/null"} <= set(sbatch)


@pytest.mark.parametrize("jobid", ["1;id", "-1", "abc", "1 2"])
@pytest.mark.parametrize("suffix", ["", "/metadata"])
async def test_hostile_job_ids_are_400(api, jobid, suffix):
    from urllib.parse import quote

    assert_v2_error(await fetch(api, "GET", f"compute/cluster/jobs/{quote(jobid)}{suffix}"), 400)
    assert api.replay.ran_as("alice") == []


async def test_allusers_is_refused_unless_the_site_allows_it(api):
    assert_v2_error(await fetch(api, "GET", "compute/cluster/jobs", params={"allusers": "true"}), 403, "every user")


async def test_attach_needs_a_command_and_runs_it_as_one_word(api):
    assert_v2_error(await fetch(api, "PUT", "compute/cluster/jobs/42/attach", body={}), 400, "command")
    api.replay.answer(["srun"])
    response = await fetch(api, "PUT", "compute/cluster/jobs/42/attach", body={"command": "echo $HOME; --help"})
    assert response.code == 204
    assert ("srun", "--jobid=42", "--overlap", "--quiet", "--", "bash", "-c", "--", "echo $HOME; --help") in \
        api.replay.ran_as("alice")


async def test_cancel_of_an_unknown_job_is_404_and_someone_elses_403(api):
    api.replay.answer(["scancel"], stderr="scancel: error: Kill job error on job id 42: Invalid job id specified\n")
    assert_v2_error(await fetch(api, "DELETE", "compute/cluster/jobs/42"), 404, "Job not found")
    api.replay.answer(["scancel"], stderr="scancel: error: Kill job error on job id 42: Access/permission denied\n")
    assert_v2_error(await fetch(api, "DELETE", "compute/cluster/jobs/42"), 403)


def test_slurm_times_become_v2_integers():
    assert [duration_seconds(text) for text in ("0:05", "1:02:03", "2-01:00:00", "10", "UNLIMITED", "")] == \
        [5, 3723, 176400, 600, None, None]
    assert epoch_seconds("Unknown") is None and epoch_seconds("N/A") is None
    assert isinstance(epoch_seconds("2024-05-01T12:00:00"), int)


# -- the completion of a v2 upload ------------------------------------------------------------------------


def test_a_completion_reads_s3s_xml_with_or_without_its_namespace():
    namespaced = (b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>2'
                  b'</PartNumber><ETag>"b"</ETag></Part><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part>'
                  b'</CompleteMultipartUpload>')
    assert completed_parts(namespaced) == {1: '"a"', 2: '"b"'}
    assert completed_parts(b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>"
                           b"</CompleteMultipartUpload>") == {1: "a"}


@pytest.mark.parametrize("body", [
    b"", b"not xml", b"<CompleteMultipartUpload/>",
    b"<C><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></C>",
    b"<C><Part><PartNumber>1</PartNumber></Part></C>",
    b"<C><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></C>",
    b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><C><Part><PartNumber>1</PartNumber><ETag>&b;</ETag>'
    b"</Part></C>",
])
def test_a_completion_that_is_not_s3s_is_refused(body):
    with pytest.raises(InvalidInput):
        completed_parts(body)


def test_a_completion_signature_is_bound_to_its_user_and_upload():
    signature = completion_signature("key", "alice", "t1")
    assert signature == completion_signature("key", "alice", "t1")
    assert len({signature, completion_signature("key", "bob", "t1"), completion_signature("key", "alice", "t2"),
                completion_signature("other", "alice", "t1")}) == 4
