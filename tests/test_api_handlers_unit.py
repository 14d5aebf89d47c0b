"""The v1 handlers without hub or cluster (the `api` fixture, tests/handler_support.py): who gets in, how
parameters are read and refused, and how failures reach the client (status, v1's X-* header, the JSON body
{description, error}). What the cluster really answers is tested against it in test_utilities_api.py,
test_compute_api.py and the others marked `cluster`.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from firecrest_hub import api as api_package
from firecrest_hub.api.base import APIHandler
from firecrest_hub.api.docs import PublicHandler
from firecrest_hub.errors import ClusterUnreachable, CommandTimeout, OutputTooLarge
from firecrest_hub.tasks.model import utcnow
from handler_support import json_of, uid_lookup

CHECKSUM = {"targetPath": "/home/alice/data.txt"}


def assert_error(response, status: int, header: str | None = None, *, description: str | None = None) -> dict:
    """A JSON error of the API's one shape, with v1's header (carrying the description) if named."""
    assert response.code == status, (response.code, response.body)
    body = json_of(response)
    assert set(body) == {"description", "error"} and body["description"] and body["error"], body
    if header:
        assert response.headers.get(header) == body["description"], dict(response.headers)
    if description:
        assert re.search(description, body["description"]), body
    assert b"Traceback" not in response.body
    return body


# -- who gets in -------------------------------------------------------------------------------------


def authenticated_endpoints() -> list[tuple[str, str]]:
    """(method, path below api/v1) of every route that needs a token, with a placeholder for its groups."""
    endpoints = []
    for pattern, handler in api_package.routes(""):
        if not issubclass(handler, APIHandler) or issubclass(handler, PublicHandler):
            continue
        path = re.sub(r"\([^)]*\)", "x", pattern).replace("/?", "").replace("\\", "").lstrip("/")
        for method in ("GET", "POST", "PUT", "DELETE"):
            if getattr(handler, method.lower()) is not getattr(APIHandler, method.lower()):
                endpoints.append((method, path))
    return endpoints


ENDPOINTS = authenticated_endpoints()


def test_every_area_is_covered():
    paths = {path.split("/")[0] for _, path in ENDPOINTS}
    assert {"status", "tasks", "utilities", "compute", "storage"} <= paths  # and whatever areas come
    assert len(ENDPOINTS) > 40


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_no_token_is_a_json_401_never_a_redirect(api, method, path):
    response = await api.fetch(method, path)
    assert_error(response, 401, description="missing or invalid token")
    assert "Location" not in response.headers
    assert api.replay.log == []


@pytest.mark.parametrize("token", ["revoked-or-unknown", "", "alice-token-but-longer"])
async def test_an_unknown_or_revoked_token_is_a_401(api, token):
    response = await api.fetch("GET", "utilities/ls", token, params={"targetPath": "/home/alice"})
    assert_error(response, 401)
    assert api.replay.log == []


async def test_the_token_scheme_of_the_hub_is_accepted_too(api):
    response = await api.fetch("GET", "utilities/ls", headers={"Authorization": "token alice-token"},
                               params={"targetPath": "/home/alice"})
    assert response.code == 200, response.body
    assert json_of(response) == {"description": "List of contents", "output": []}


@pytest.mark.parametrize(("token", "description"), [
    ("no-scope-token", "user 'alice' has no access to this service"),
    ("service-token", "only users act on the systems"),
])
async def test_a_token_without_access_or_of_a_service_is_a_403(api, token, description):
    assert_error(await api.fetch("GET", "tasks/", token), 403, description=description)


async def test_a_hub_that_does_not_answer_is_a_503(api):
    assert_error(await api.fetch("GET", "tasks/", "hub-down-token"), 503, description="the hub cannot verify")


@pytest.mark.parametrize("token", ["root-token", "firecrest-token"])
async def test_a_hub_user_named_like_a_reserved_account_is_refused_before_anything_runs(api, token):
    response = await api.fetch("GET", "utilities/ls", token, params={"targetPath": "/home"})
    assert_error(response, 403, "X-Permission-Denied", description="an account reserved for the system or the service")
    assert api.replay.log == []  # refused by its name: not even the uid is asked


async def test_an_account_below_min_uid_is_refused_after_its_uid_is_asked(api):
    response = await api.fetch("GET", "utilities/ls", "www-data-token", params={"targetPath": "/home"})
    assert_error(response, 403, "X-Permission-Denied", description=r"system account .* \(uid 33, below 1000\)")
    assert api.replay.log == [uid_lookup("www-data")]


# -- which system ------------------------------------------------------------------------------------

MACHINE_ENDPOINTS = [("GET", "utilities/ls"), ("POST", "utilities/mkdir"), ("GET", "compute/jobs"),
                     ("POST", "compute/jobs/path"), ("POST", "storage/xfer-internal/cp")]


@pytest.mark.parametrize(("method", "path"), MACHINE_ENDPOINTS)
@pytest.mark.parametrize("machine", [None, "nosuch", "../cluster"])
async def test_a_missing_or_unknown_machine_is_a_400_with_v1s_header(api, method, path, machine):
    response = await api.fetch(method, path, "alice-token", machine=machine)
    body = assert_error(response, 400, "X-Machine-Does-Not-Exist")
    assert body["error"] == "Machine does not exist"
    assert api.replay.log == []


# -- paths are refused before anything runs ----------------------------------------------------------

BAD_PATHS = {
    "dot-dot": ("/home/alice/../bob/data.txt", r"contains '\.\.'"),
    "NUL": ("/home/alice/da\x00ta.txt", "control characters"),
    "newline": ("/home/alice/data\n.txt", "control characters"),
    "outside": ("/etc/passwd", "outside the filesystems of this system"),
    "prefix, not inside": ("/homeX/alice", "outside the filesystems of this system"),
    "missing": ("", "is missing"),
}
PATH_PARAMETERS = [
    ("GET", "utilities/ls", "targetPath"), ("GET", "utilities/checksum", "targetPath"),
    ("GET", "utilities/head", "targetPath"), ("GET", "utilities/download", "sourcePath"),
    ("POST", "utilities/mkdir", "targetPath"), ("PUT", "utilities/rename", "sourcePath"),
    ("PUT", "utilities/chmod", "targetPath"), ("DELETE", "utilities/rm", "targetPath"),
    ("POST", "compute/jobs/path", "targetPath"), ("POST", "storage/xfer-internal/cp", "sourcePath"),
    ("POST", "storage/xfer-external/download", "sourcePath"),
]
GOOD = {"targetPath": "/home/alice/target", "sourcePath": "/home/alice/source", "mode": "644"}


@pytest.mark.parametrize(("method", "path", "name"), PATH_PARAMETERS)
@pytest.mark.parametrize("bad", BAD_PATHS.values(), ids=BAD_PATHS.keys())
async def test_a_bad_path_is_a_400_before_anything_runs_as_the_user(api, method, path, name, bad):
    value, description = bad
    arguments = {**GOOD, name: value}
    form = arguments if method in ("POST", "PUT") else None
    response = await api.fetch(method, path, "alice-token", form=form, params=None if form else arguments)
    assert_error(response, 400, "X-Invalid-Path", description=f"{name} .*{description}|{name} {description}")
    assert api.replay.ran_as("alice") == []  # neither a command nor an SFTP request
    assert api.replay.log in ([], [uid_lookup("alice")])  # at most the account policy asked for the uid


@pytest.mark.parametrize(("method", "path", "name"), [("DELETE", "utilities/rm", "targetPath"),
                                                      ("PUT", "utilities/rename", "sourcePath")])
async def test_a_filesystem_root_is_never_removed_or_moved(api, method, path, name):
    arguments = {**GOOD, name: "/home/"}
    form = arguments if method == "PUT" else None
    response = await api.fetch(method, path, "alice-token", form=form, params=None if form else arguments)
    assert_error(response, 400, "X-Invalid-Path", description="is the root of a filesystem")
    assert api.replay.ran_as("alice") == []


# -- other parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "arguments", "description"), [
    ("GET", "utilities/ls", {"targetPath": "/home/alice", "pageSize": "0", "pageNumber": "1"},
     "pageSize must be a whole number"),
    ("GET", "utilities/ls", {"targetPath": "/home/alice", "showhidden": "maybe"}, "showhidden must be true or false"),
    ("GET", "utilities/head", {"targetPath": "/home/alice/a", "lines": "10; rm -rf ~"}, "lines .* is not a count"),
    ("GET", "utilities/head", {"targetPath": "/home/alice/a", "lines": "-n"}, "lines .* is not a count"),
    ("PUT", "utilities/chmod", {"targetPath": "/home/alice/a", "mode": "--reference=/etc"}, "mode"),
    ("GET", "compute/jobs", {"jobs": "1,2;id"}, "job"),
    ("GET", "compute/jobs", {"pageSize": "lots"}, "pageSize"),
    ("GET", "compute/acct", {"starttime": "2024-01-01;id"}, "starttime"),
    ("GET", "compute/partitions", {"partitions": "-a"}, "partition"),
    ("POST", "compute/jobs/path", {"targetPath": "/home/alice/job.sh", "env": "[1, 2]"}, "env must be a JSON object"),
])
async def test_bad_parameters_are_a_400_before_anything_runs_as_the_user(api, method, path, arguments, description):
    form = arguments if method in ("POST", "PUT") else None
    response = await api.fetch(method, path, "alice-token", form=form, params=None if form else arguments)
    assert_error(response, 400, description=description)
    assert api.replay.ran_as("alice") == []
    assert await api.service.tasks.store.tasks_of("alice") == []  # no task was started either


async def test_a_path_that_leads_out_of_the_filesystems_is_refused_before_the_command(api):
    api.replay.files.add_link("/home/alice/etc", "/etc")
    response = await api.fetch("GET", "utilities/checksum", "alice-token", params={"targetPath": "/home/alice/etc/shadow"})
    assert_error(response, 400, "X-Invalid-Path", description="resolves to '/etc/shadow', outside the filesystems")
    ran = api.replay.ran_as("alice")
    assert ran[0] == ("sftp.realpath", "/home/alice/etc/shadow")
    assert {argv[0] for argv in ran} == {"sftp.realpath"}  # then only the roots, to see where they lead


# -- what the system answers, and how it reaches the client ------------------------------------------


async def test_a_command_runs_with_its_path_after_a_double_dash_and_answers_in_v1s_shape(api):
    api.replay.answer(["sha256sum"], stdout="e3b0c442  /home/alice/data.txt\n")
    response = await api.fetch("GET", "utilities/checksum", "alice-token", params=CHECKSUM)
    assert response.code == 200
    assert json_of(response) == {"description": "Success to checksum file.", "output": "e3b0c442"}
    assert api.replay.log[0] == uid_lookup("alice")
    assert api.replay.ran_as("alice") == [("sftp.realpath", "/home/alice/data.txt"),
                                          ("sha256sum", "--", "/home/alice/data.txt")]


async def test_the_uid_of_an_account_is_asked_once(api):
    api.replay.answer(["sha256sum"], stdout="e3b0c442  /home/alice/data.txt\n")
    for _ in range(3):
        assert (await api.fetch("GET", "utilities/checksum", "alice-token", params=CHECKSUM)).code == 200
    assert [call for call in api.replay.log if call.argv[0] == "getent"] == [uid_lookup("alice")]


async def test_a_listing_comes_over_sftp(api):
    api.replay.files.add_file("/home/alice/notes.txt", b"hello")
    api.replay.files.add_link("/home/alice/latest", "notes.txt")
    response = await api.fetch("GET", "utilities/ls", "alice-token", params={"targetPath": "/home/alice"})
    assert response.code == 200
    entries = json_of(response)["output"]
    assert [(e["name"], e["type"], e["link_target"], e["size"]) for e in entries] == [
        ("latest", "l", "notes.txt", "9"), ("notes.txt", "-", "", "5")]
    assert all(argv[0].startswith("sftp.") for argv in api.replay.ran_as("alice"))  # no command, no shell


async def test_a_download_streams_the_file(api):
    api.replay.files.add_file("/home/alice/notes.txt", b"hello")
    response = await api.fetch("GET", "utilities/download", "alice-token", params={"sourcePath": "/home/alice/notes.txt"})
    assert response.code == 200 and response.body == b"hello"
    assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''notes.txt"


RECORDED_FAILURES = {
    "permission denied": (dict(exit_status=1, stderr="sha256sum: /home/alice/data.txt: Permission denied\n"),
                          400, "X-Permission-Denied", "Permission denied"),
    "no such file": (dict(exit_status=1, stderr="sha256sum: /home/alice/data.txt: No such file or directory\n"),
                     400, "X-Invalid-Path", "No such file or directory"),
    "anything else": (dict(exit_status=1, stderr="sha256sum: read error\n"), 400, "X-Error", "read error"),
}


@pytest.mark.parametrize(("result", "status", "header", "description"), RECORDED_FAILURES.values(),
                         ids=RECORDED_FAILURES.keys())
async def test_a_failed_command_maps_to_its_status_and_v1_header(api, result, status, header, description):
    api.replay.answer(["sha256sum"], **result)
    response = await api.fetch("GET", "utilities/checksum", "alice-token", params=CHECKSUM)
    assert_error(response, status, header, description=description)


POOL_FAILURES = {
    "timeout": (CommandTimeout("sha256sum did not finish within 30 s and was stopped"), 408, "X-Timeout"),
    "output too large": (OutputTooLarge("sha256sum printed more than 16777216 bytes"), 413, "X-Size-Limit"),
    "cluster unreachable": (ClusterUnreachable("system 'cluster' is unreachable: Connection refused"), 424,
                            "X-Machine-Not-Available"),
}


@pytest.mark.parametrize(("error", "status", "header"), POOL_FAILURES.values(), ids=POOL_FAILURES.keys())
async def test_what_the_pool_raises_maps_to_its_status_and_v1_header(api, error, status, header):
    api.replay.fail(["sha256sum"], error)
    response = await api.fetch("GET", "utilities/checksum", "alice-token", params=CHECKSUM)
    body = assert_error(response, status, header)
    assert body["description"] == error.description


async def test_an_sftp_permission_denial_is_v1s_400(api):
    api.replay.files.add_directory("/home/alice/private")
    api.replay.files.deny("/home/alice/private")
    response = await api.fetch("GET", "utilities/ls", "alice-token", params={"targetPath": "/home/alice/private"})
    assert_error(response, 400, "X-Permission-Denied", description="permission denied")


async def test_an_unforeseen_failure_is_a_500_that_tells_nothing(api):
    api.replay.fail(["sha256sum"], RuntimeError("secret detail of the service"))
    response = await api.fetch("GET", "utilities/checksum", "alice-token", params=CHECKSUM)
    assert assert_error(response, 500) == {"description": "Internal Server Error", "error": "Internal Server Error"}
    assert b"secret detail" not in response.body


async def test_a_header_carries_a_description_as_one_line_of_ascii(api):
    api.replay.answer(["sha256sum"], exit_status=1, stderr="sha256sum: /home/alice/d\u00e9j\u00e0: Permission denied\n"
                      "and a second line\n")
    response = await api.fetch("GET", "utilities/checksum", "alice-token", params=CHECKSUM)
    assert response.code == 400
    header = response.headers["X-Permission-Denied"]
    assert header.isascii() and "\n" not in header and "second line" in header


# -- tasks -------------------------------------------------------------------------------------------


async def make_task(api, user: str):
    now = utcnow()
    return await api.service.tasks.store.create(
        user=user, service="compute", system="cluster", kind="jobs", params={}, deadline=now + timedelta(hours=1),
        runner="elsewhere", lease_until=now + timedelta(hours=1))


async def test_a_task_of_another_user_answers_like_an_unknown_one(api):
    task = await make_task(api, "alice")
    mine = await api.fetch("GET", f"tasks/{task.id}", "alice-token", machine=None)
    assert mine.code == 200 and json_of(mine)["task"]["hash_id"] == task.id
    theirs = await api.fetch("GET", f"tasks/{task.id}", "bob-token", machine=None)
    unknown = await api.fetch("GET", f"tasks/{'0' * 32}", "bob-token", machine=None)
    assert assert_error(theirs, 404) == {"description": f"Task {task.id} does not exist", "error": "Task does not exist"}
    assert json_of(unknown)["error"] == "Task does not exist"


async def test_the_task_list_holds_only_the_callers_tasks(api):
    alices, bobs = await make_task(api, "alice"), await make_task(api, "bob")
    response = await api.fetch("GET", "tasks/", "bob-token", machine=None)
    assert list(json_of(response)["tasks"]) == [bobs.id]
    response = await api.fetch("GET", "tasks/", "bob-token", machine=None, params={"tasks": f"{alices.id},{bobs.id}"})
    assert list(json_of(response)["tasks"]) == [bobs.id]


@pytest.mark.parametrize("tasks", ["a;b", "../x", ",".join(["a"] * 1001)])
async def test_a_bad_task_list_is_a_400(api, tasks):
    response = await api.fetch("GET", "tasks/", "alice-token", machine=None, params={"tasks": tasks})
    assert assert_error(response, 400)["error"] == "Failed to retrieve tasks information"


async def test_a_staging_task_of_another_user_is_a_404(api):
    task = await make_task(api, "alice")
    response = await api.fetch("POST", "storage/xfer-external/invalidate", "bob-token", headers={"X-Task-Id": task.id})
    assert assert_error(response, 404)["error"] == "Task does not exist"


# -- uploads (multipart, read by the handler itself) -------------------------------------------------


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[dict, bytes]:
    boundary = "fc-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, b"".join(parts) + f"--{boundary}--\r\n".encode()


async def upload(api, target: str, filename: str = "notes.txt", data: bytes = b"hello"):
    headers, body = multipart({"targetPath": target}, filename, data)
    return await api.fetch("POST", "utilities/upload", "alice-token", headers=headers, body=body)


async def test_an_upload_lands_whole_under_its_file_name(api):
    response = await upload(api, "/home/alice")
    assert response.code == 201 and json_of(response) == {"description": "File upload successful", "output": ""}
    assert api.replay.files.nodes["/home/alice/notes.txt"]["data"] == b"hello"
    assert all(argv[0].startswith("sftp.") for argv in api.replay.ran_as("alice"))  # no command, no shell


@pytest.mark.parametrize(("target", "filename", "description"), [
    ("/etc", "notes.txt", "outside the filesystems"),
    ("/home/alice/../bob", "notes.txt", r"contains '\.\.'"),
    ("/home/alice", "..", "is not a plain file name"),
])
async def test_an_upload_to_a_bad_place_is_a_400_before_anything_runs(api, target, filename, description):
    response = await upload(api, target, filename)
    assert_error(response, 400, "X-Invalid-Path", description=description)
    assert api.replay.ran_as("alice") == []


async def test_a_part_header_with_a_control_character_is_a_400_not_a_500(api):
    response = await upload(api, "/home/alice", "a\x01b")
    assert_error(response, 400, description="not valid multipart/form-data")
    assert api.replay.ran_as("alice") == []


async def test_an_upload_over_the_cap_is_a_413(api):
    api.service.max_file_size = 1000
    response = await upload(api, "/home/alice", data=b"x" * 100_000)
    assert_error(response, 413, "X-Size-Limit", description="larger than the 1000 bytes this service carries")
    assert api.replay.ran_as("alice") == []


def test_no_failure_of_the_service_is_answered_with_a_500():
    """Every typed failure has its status: a 500 would mean a failure nobody thought about."""
    import importlib
    import pkgutil

    import firecrest_hub
    from firecrest_hub import errors
    from firecrest_hub.api.base import status_for

    for module in pkgutil.walk_packages(firecrest_hub.__path__, "firecrest_hub."):
        if not module.name.endswith("__main__"):  # that one starts the service
            importlib.import_module(module.name)
    kinds, pending = [], [errors.FirecrestError]
    while pending:
        kinds += (children := pending.pop().__subclasses__())
        pending += children
    assert len(kinds) > 20
    unmapped = [kind.__name__ for kind in kinds if status_for(kind("x"))[0] == 500]
    assert unmapped == []
