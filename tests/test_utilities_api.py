"""The v1 utilities endpoints through the real hub proxy, with real hub tokens, checked on the real disk.

Every endpoint: its success status and shape, and for every parameter a hostile value that must get a 4xx
JSON error with nothing run (the hostile strings would create a marker file if any shell ever read them).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid

import pytest
import requests

from conftest import API_URL

pytestmark = pytest.mark.cluster

MACHINE = "cluster"


@pytest.fixture
def api(alice_token):
    def call(method, endpoint, *, token=alice_token, machine=MACHINE, headers=(), **kwargs):
        headers = {"Authorization": f"Bearer {token}", **dict(headers)}
        if machine is not None:
            headers["X-Machine-Name"] = machine
        return requests.request(method, f"{API_URL}/utilities/{endpoint}", headers=headers, timeout=60, **kwargs)
    return call


@pytest.fixture
async def work(alice):
    """A fresh directory of alice's holding `f.txt` (three lines) and `d/inner.txt`, removed afterwards."""
    path = f"/home/alice/fc-utilities-{uuid.uuid4().hex[:10]}"
    setup = await alice.run(["bash", "-c", 'mkdir -p -- "$1/d" && printf "one\\ntwo\\nthree\\n" > "$1/f.txt" '
                             '&& printf "inner" > "$1/d/inner.txt"', "setup", path])
    assert setup.ok, setup.stderr
    yield path
    await alice.run(["rm", "-rf", "--", path])


async def read(session, path: str) -> bytes:
    result = await session.run(["cat", "--", path])
    assert result.ok, result.stderr
    return result.stdout.encode()


async def exists(session, path: str) -> bool:
    return (await session.run(["test", "-e", path])).ok or (await session.run(["test", "-L", path])).ok


def ok(response, status=200):
    assert response.status_code == status, response.text
    if status != 204:
        assert set(response.json()) == {"description", "output"}
        return response.json()["output"]


# ---- every endpoint's success, checked on disk --------------------------------------------------------

async def test_ls(api, work):
    output = ok(api("GET", "ls", params={"targetPath": work}))
    assert [entry["name"] for entry in output] == ["d", "f.txt"]
    entry = output[1]
    assert entry == {"name": "f.txt", "type": "-", "link_target": "", "user": "alice", "group": "alice",
                     "permissions": "rw-r--r--", "last_modified": entry["last_modified"], "size": "14"}
    recursive = ok(api("GET", "ls", params={"targetPath": work, "recursive": "true", "numericUid": "true"}))
    assert [e["name"] for e in recursive] == ["d", "f.txt", "d/inner.txt"]
    assert recursive[0]["user"].isdigit()
    page = ok(api("GET", "ls", params={"targetPath": work, "pageSize": "1", "pageNumber": "2"}))
    assert [e["name"] for e in page] == ["f.txt"]


async def test_ls_hidden_links_and_single_files(api, work, alice):
    await alice.run(["bash", "-c", 'touch -- "$1/.hidden" && ln -s -- "$1/f.txt" "$1/link"', "x", work])
    names = [e["name"] for e in ok(api("GET", "ls", params={"targetPath": work}))]
    assert names == ["d", "f.txt", "link"]
    entries = ok(api("GET", "ls", params={"targetPath": work, "showhidden": "True"}))
    assert [e["name"] for e in entries] == [".hidden", "d", "f.txt", "link"]
    assert entries[3]["type"] == "l" and entries[3]["link_target"] == f"{work}/f.txt"
    single = ok(api("GET", "ls", params={"targetPath": f"{work}/f.txt"}))
    assert [(e["name"], e["user"], e["size"]) for e in single] == [(f"{work}/f.txt", "alice", "14")]


async def test_file_stat_checksum_view_head_tail(api, work):
    target = f"{work}/f.txt"
    assert ok(api("GET", "file", params={"targetPath": target})) == "ASCII text"
    stat = ok(api("GET", "stat", params={"targetPath": target}))
    assert stat["size"] == 14 and stat["mode"] == 0o100644 and stat["nlink"] == 1
    assert set(stat) == {"mode", "ino", "dev", "nlink", "uid", "gid", "size", "atime", "mtime", "ctime"}
    assert ok(api("GET", "checksum", params={"targetPath": target})) == hashlib.sha256(b"one\ntwo\nthree\n").hexdigest()
    assert ok(api("GET", "view", params={"targetPath": target})) == "one\ntwo\nthree\n"
    assert ok(api("GET", "head", params={"targetPath": target, "lines": "1"})) == "one\n"
    assert ok(api("GET", "head", params={"targetPath": target, "bytes": "6", "skip_ending": "true"})) == "one\ntwo\n"
    assert ok(api("GET", "tail", params={"targetPath": target, "lines": "2"})) == "two\nthree\n"
    assert ok(api("GET", "tail", params={"targetPath": target, "lines": "3", "skip_beginning": "true"})) == "three\n"
    assert ok(api("GET", "head", params={"targetPath": target, "grep": "t"})) == "two\nthree\n"
    missing = api("GET", "tail", params={"targetPath": target, "lines": "2", "grep": "nothing"})
    assert missing.status_code == 404 and "X-Not-Found" in missing.headers  # v1's "pattern not found"


async def test_stat_dereference(api, work, alice):
    await alice.run(["ln", "-s", "--", f"{work}/f.txt", f"{work}/link"])
    assert ok(api("GET", "stat", params={"targetPath": f"{work}/link"}))["mode"] == 0o120777
    assert ok(api("GET", "stat", params={"targetPath": f"{work}/link", "dereference": "true"}))["size"] == 14


async def test_whoami(api):
    assert ok(api("GET", "whoami")) == "alice"
    groups = ok(api("GET", "whoami", params={"groups": "true"}))
    assert groups["user"]["name"] == "alice" and groups["user"]["id"].isdigit()
    assert {"name": groups["group"]["name"], "id": groups["group"]["id"]} in groups["groups"]


async def test_download_and_upload(api, work, alice):
    await alice.run(["bash", "-c", 'head -c 300000 /dev/urandom > "$1"', "x", f"{work}/blob"])
    expected = await alice.run(["sha256sum", "--", f"{work}/blob"])
    response = api("GET", "download", params={"sourcePath": f"{work}/blob"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert hashlib.sha256(response.content).hexdigest() == expected.stdout.split()[0]

    data = bytes(range(256)) * 1000
    ok(api("POST", "upload", data={"targetPath": work}, files={"file": ("up load.bin", data)}), 201)
    copy = await alice.run(["sha256sum", "--", f"{work}/up load.bin"])
    assert copy.stdout.split()[0] == hashlib.sha256(data).hexdigest()
    ok(api("POST", "upload", data={"targetPath": work}, files={"file": ("up load.bin", b"replaced")}), 201)
    assert await read(alice, f"{work}/up load.bin") == b"replaced"
    listing = (await alice.run(["ls", "-A", "--", work])).stdout.split("\n")
    assert not [name for name in listing if name.endswith(".upload")]  # no temporary file left behind


async def test_mkdir(api, work, alice):
    ok(api("POST", "mkdir", data={"targetPath": f"{work}/new"}), 201)
    assert (await alice.run(["test", "-d", f"{work}/new"])).ok
    ok(api("POST", "mkdir", data={"targetPath": f"{work}/a/b/c", "p": "True"}), 201)
    assert (await alice.run(["test", "-d", f"{work}/a/b/c"])).ok
    ok(api("POST", "mkdir", data={"targetPath": f"{work}/a/b/c", "p": ""}), 201)  # -p: existing is fine
    response = api("POST", "mkdir", data={"targetPath": f"{work}/new"})
    assert response.status_code == 400 and "X-Exists" in response.headers
    response = api("POST", "mkdir", data={"targetPath": f"{work}/x/y"})
    assert response.status_code == 400 and "X-Invalid-Path" in response.headers


async def test_rename_copy_symlink_chmod(api, work, alice):
    ok(api("PUT", "rename", data={"sourcePath": f"{work}/f.txt", "targetPath": f"{work}/g.txt"}))
    assert not await exists(alice, f"{work}/f.txt") and await read(alice, f"{work}/g.txt") == b"one\ntwo\nthree\n"
    ok(api("PUT", "rename", data={"sourcePath": f"{work}/g.txt", "targetPath": f"{work}/d"}))  # into a directory
    assert await read(alice, f"{work}/d/g.txt") == b"one\ntwo\nthree\n"
    ok(api("POST", "copy", data={"sourcePath": f"{work}/d", "targetPath": f"{work}/e"}), 201)
    assert await read(alice, f"{work}/e/inner.txt") == b"inner"
    ok(api("POST", "symlink", data={"targetPath": f"{work}/e/inner.txt", "linkPath": f"{work}/ln"}), 201)
    assert (await alice.run(["readlink", "--", f"{work}/ln"])).stdout.strip() == f"{work}/e/inner.txt"
    response = api("POST", "symlink", data={"targetPath": f"{work}/e", "linkPath": f"{work}/ln"})
    assert response.status_code == 400 and "X-Exists" in response.headers
    assert "0700" in ok(api("PUT", "chmod", data={"targetPath": f"{work}/e/inner.txt", "mode": "700"}))
    ok(api("PUT", "chmod", data={"targetPath": f"{work}/e/inner.txt", "mode": "g+r,o=r"}))
    assert (await alice.run(["stat", "-c", "%a", "--", f"{work}/e/inner.txt"])).stdout.strip() == "744"


async def test_missing_sources_are_x_not_found(api, work):
    for method, endpoint in (("PUT", "rename"), ("POST", "copy"), ("POST", "compress")):
        response = api(method, endpoint, data={"sourcePath": f"{work}/nothing", "targetPath": f"{work}/t"})
        assert response.status_code == 400 and "X-Not-Found" in response.headers, endpoint
        assert response.json()["description"]


async def test_chown(api, work, alice):
    group = (await alice.run(["id", "-gn"])).stdout.strip()
    output = ok(api("PUT", "chown", data={"targetPath": f"{work}/f.txt", "owner": "alice", "group": group}))
    assert "alice" in output
    response = api("PUT", "chown", data={"targetPath": f"{work}/f.txt", "owner": "bob"})
    assert response.status_code == 400 and "X-Permission-Denied" in response.headers  # as v1
    response = api("PUT", "chown", data={"targetPath": f"{work}/f.txt", "owner": "nosuchuser"})
    assert response.status_code == 400 and "X-Invalid-Owner" in response.headers


async def test_rm(api, work, alice):
    response = api("DELETE", "rm", data={"targetPath": f"{work}/f.txt"})
    assert response.status_code == 204 and not response.content
    ok(api("DELETE", "rm", data={"targetPath": f"{work}/d"}), 204)  # recursive, as v1's rm -r
    assert not await exists(alice, f"{work}/f.txt") and not await exists(alice, f"{work}/d")
    response = api("DELETE", "rm", data={"targetPath": f"{work}/f.txt"})
    assert response.status_code == 400 and "X-Invalid-Path" in response.headers


async def test_compress_and_extract(api, work, alice):
    ok(api("POST", "compress", data={"sourcePath": f"{work}/d", "targetPath": f"{work}/d.tar.gz"}), 201)
    with tarfile.open(fileobj=io.BytesIO(await download(api, f"{work}/d.tar.gz"))) as archive:
        assert sorted(archive.getnames()) == ["d", "d/inner.txt"]
    ok(api("POST", "mkdir", data={"targetPath": f"{work}/out"}), 201)
    ok(api("POST", "extract", data={"sourcePath": f"{work}/d.tar.gz", "targetPath": f"{work}/out",
                                     "extension": "auto"}), 201)
    assert await read(alice, f"{work}/out/d/inner.txt") == b"inner"
    await alice.run(["bash", "-c", 'cd -- "$1" && python3 -c "import zipfile; z = zipfile.ZipFile(\'z.zip\', \'w\'); '
                     'z.writestr(\'in/zipped.txt\', \'zipped\'); z.close()"', "x", work])
    ok(api("POST", "extract", data={"sourcePath": f"{work}/z.zip", "targetPath": f"{work}/unzipped"}), 201)
    assert await read(alice, f"{work}/unzipped/in/zipped.txt") == b"zipped"


async def download(api, path) -> bytes:
    response = api("GET", "download", params={"sourcePath": path})
    assert response.status_code == 200, response.text
    return response.content


# ---- limits -----------------------------------------------------------------------------------------

async def test_oversized_upload_is_refused_before_the_body(api, work, alice):
    big = b"x" * (50 * 1024 * 1024)
    response = api("POST", "upload", data={"targetPath": work}, files={"file": ("big.bin", big)})
    assert response.status_code == 413 and "X-Size-Limit" in response.headers
    assert "staging" in response.json()["description"]
    assert not await exists(alice, f"{work}/big.bin")


async def test_oversized_streamed_upload_is_refused_while_read(api, work, alice):
    """Chunked transfer: no Content-Length to refuse early, so the cap holds while the body arrives."""
    boundary = "firecrest-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"targetPath\"\r\n\r\n{work}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()

    def body(megabytes):
        yield head
        for _ in range(megabytes * 16):
            yield b"y" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = api("POST", "upload", data=body(6), headers=multipart)
    assert response.status_code == 413 and "X-Size-Limit" in response.headers
    assert not await exists(alice, f"{work}/big.bin")
    ok(api("POST", "upload", data=body(1), headers=multipart), 201)  # the same way, under the cap
    assert len(await read(alice, f"{work}/big.bin")) == 1024 * 1024


async def test_download_and_view_of_a_file_over_the_cap(api, work, alice):
    await alice.run(["truncate", "-s", "6M", "--", f"{work}/big"])
    for endpoint, key in (("download", "sourcePath"), ("view", "targetPath")):
        response = api("GET", endpoint, params={key: f"{work}/big"})
        assert response.status_code == 413 and "X-Size-Limit" in response.headers, endpoint
    response = api("GET", "head", params={"targetPath": f"{work}/big", "bytes": "6M"})
    assert response.status_code == 413 and "X-Size-Limit" in response.headers


# ---- hostile input: a 4xx JSON error, nothing run, nothing changed ------------------------------------

W, F = "{work}", "{work}/f.txt"
HOSTILE = {
    "path": "{work}/x\n$(touch {marker})",  # a control character
    "relative": "$(touch {marker})",
    "flag": "true; touch {marker}",
    "count": "1$(touch {marker})",
    "page": "1;touch {marker}",
    "mode": "700; touch {marker}",
    "name": "alice$(touch {marker})",
    "extension": ".zip`touch {marker}`",
    "text": "two\n$(touch {marker})",  # one line of text expected
}
CASES = [
    ("GET", "ls", {"targetPath": W}, "targetPath", "path"),
    ("GET", "ls", {"targetPath": W}, "targetPath", "relative"),
    ("GET", "ls", {"targetPath": W}, "showhidden", "flag"),
    ("GET", "ls", {"targetPath": W}, "numericUid", "flag"),
    ("GET", "ls", {"targetPath": W}, "recursive", "flag"),
    ("GET", "ls", {"targetPath": W, "pageNumber": "1"}, "pageSize", "page"),
    ("GET", "ls", {"targetPath": W, "pageSize": "1"}, "pageNumber", "page"),
    ("GET", "file", {"targetPath": F}, "targetPath", "path"),
    ("GET", "stat", {"targetPath": F}, "targetPath", "path"),
    ("GET", "stat", {"targetPath": F}, "dereference", "flag"),
    ("GET", "head", {"targetPath": F}, "targetPath", "relative"),
    ("GET", "head", {"targetPath": F}, "bytes", "count"),
    ("GET", "head", {"targetPath": F}, "lines", "count"),
    ("GET", "head", {"targetPath": F, "lines": "1"}, "skip_ending", "flag"),
    ("GET", "head", {"targetPath": F}, "grep", "text"),
    ("GET", "tail", {"targetPath": F}, "targetPath", "path"),
    ("GET", "tail", {"targetPath": F}, "bytes", "count"),
    ("GET", "tail", {"targetPath": F}, "lines", "count"),
    ("GET", "tail", {"targetPath": F, "lines": "1"}, "skip_beginning", "flag"),
    ("GET", "tail", {"targetPath": F}, "grep", "text"),
    ("GET", "view", {"targetPath": F}, "targetPath", "path"),
    ("GET", "checksum", {"targetPath": F}, "targetPath", "relative"),
    ("GET", "whoami", {}, "groups", "flag"),
    ("GET", "download", {"sourcePath": F}, "sourcePath", "path"),
    ("POST", "mkdir", {"targetPath": W + "/new"}, "targetPath", "path"),
    ("POST", "mkdir", {"targetPath": W + "/new"}, "p", "flag"),
    ("PUT", "rename", {"sourcePath": F, "targetPath": W + "/g"}, "sourcePath", "path"),
    ("PUT", "rename", {"sourcePath": F, "targetPath": W + "/g"}, "targetPath", "relative"),
    ("POST", "copy", {"sourcePath": F, "targetPath": W + "/g"}, "sourcePath", "relative"),
    ("POST", "copy", {"sourcePath": F, "targetPath": W + "/g"}, "targetPath", "path"),
    ("PUT", "chmod", {"targetPath": F, "mode": "600"}, "targetPath", "path"),
    ("PUT", "chmod", {"targetPath": F, "mode": "600"}, "mode", "mode"),
    ("PUT", "chown", {"targetPath": F, "owner": "alice"}, "targetPath", "relative"),
    ("PUT", "chown", {"targetPath": F, "owner": "alice"}, "owner", "name"),
    ("PUT", "chown", {"targetPath": F, "owner": "alice"}, "group", "name"),
    ("POST", "symlink", {"targetPath": F, "linkPath": W + "/ln"}, "targetPath", "path"),
    ("POST", "symlink", {"targetPath": F, "linkPath": W + "/ln"}, "linkPath", "relative"),
    ("DELETE", "rm", {"targetPath": F}, "targetPath", "path"),
    ("POST", "compress", {"sourcePath": W + "/d", "targetPath": W + "/d.tgz"}, "sourcePath", "path"),
    ("POST", "compress", {"sourcePath": W + "/d", "targetPath": W + "/d.tgz"}, "targetPath", "relative"),
    ("POST", "compress", {"sourcePath": W + "/d", "targetPath": W + "/d.tgz"}, "dereference", "flag"),
    ("POST", "extract", {"sourcePath": W + "/z.zip", "targetPath": W + "/o"}, "sourcePath", "relative"),
    ("POST", "extract", {"sourcePath": W + "/z.zip", "targetPath": W + "/o"}, "targetPath", "path"),
    ("POST", "extract", {"sourcePath": W + "/z.zip", "targetPath": W + "/o"}, "extension", "extension"),
    ("POST", "upload", {"targetPath": W}, "targetPath", "path"),
    ("POST", "upload", {"targetPath": W}, "file", "relative"),  # the uploaded file's name
]


async def tree(session, path: str) -> str:
    """Everything under `path` with its size and mode: equal before and after means nothing changed."""
    return (await session.run(["find", path, "-printf", "%p %s %m\\n"])).stdout


@pytest.mark.parametrize("method, endpoint, params, name, kind", CASES,
                         ids=[f"{case[1]}-{case[3]}-{case[4]}" for case in CASES])
async def test_hostile_parameters_are_refused_and_run_nothing(api, work, alice, method, endpoint, params, name,
                                                              kind):
    marker = f"{work}/MARKER"
    values = {key: value.format(work=work) for key, value in params.items()}
    hostile = HOSTILE[kind].format(work=work, marker=marker)
    before = await tree(alice, work)
    if endpoint == "upload":
        files = {"file": (hostile if name == "file" else "ok.txt", b"data")}
        values.update({} if name == "file" else {name: hostile})
        response = api(method, endpoint, data=values, files=files)
    else:
        values[name] = hostile
        where = "params" if method == "GET" else "data"
        response = api(method, endpoint, **{where: values})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["description"] and body["error"]
    assert not await exists(alice, marker)
    assert await tree(alice, work) == before


@pytest.mark.parametrize("method, endpoint", [("GET", "ls"), ("POST", "mkdir"), ("DELETE", "rm")])
async def test_hostile_or_missing_machine_names(api, work, alice, method, endpoint):
    marker = f"{work}/MARKER"
    where = "params" if method == "GET" else "data"
    for machine in (f"cluster$(touch {marker})", "nosuchsystem", None):
        response = api(method, endpoint, machine=machine, **{where: {"targetPath": f"{work}/d"}})
        assert response.status_code == 400 and "X-Machine-Does-Not-Exist" in response.headers
    assert not await exists(alice, marker) and await exists(alice, f"{work}/d")


async def test_legal_names_that_look_like_code_are_taken_literally(api, work, alice):
    # Names cannot hold a slash, so the marker is relative: a shell would create it in its working directory.
    marker = f"fc-marker-{uuid.uuid4().hex[:8]}"
    names = [f"$(touch {marker})", f"`touch {marker}`", f"a;touch {marker}", f"b' ; touch '{marker}", "-rf", "--help"]
    for name in names:
        ok(api("POST", "mkdir", data={"targetPath": f"{work}/d/{name}"}), 201)
        ok(api("POST", "upload", data={"targetPath": f"{work}/d/{name}"},
               files={"file": (f"{name}.txt", name.encode())}), 201)
        assert ok(api("GET", "view", params={"targetPath": f"{work}/d/{name}/{name}.txt"})) == name
    listed = {entry["name"] for entry in ok(api("GET", "ls", params={"targetPath": f"{work}/d"}))}
    assert listed == {"inner.txt", *names}
    ok(api("DELETE", "rm", data={"targetPath": f"{work}/d/-rf"}), 204)
    assert not await exists(alice, f"/home/alice/{marker}") and not await exists(alice, f"{work}/{marker}")
    assert await exists(alice, f"{work}/d/--help") and not await exists(alice, f"{work}/d/-rf")


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc", "/homeX/alice", "/home/../etc/passwd", "home/alice", "/",
                                  "/var/tmp"])
def test_paths_outside_the_filesystems_are_refused(api, path):
    for method, endpoint, where, key in (("GET", "ls", "params", "targetPath"), ("GET", "view", "params", "targetPath"),
                                         ("GET", "download", "params", "sourcePath"),
                                         ("POST", "mkdir", "data", "targetPath")):
        response = api(method, endpoint, **{where: {key: path}})
        assert response.status_code == 400, (endpoint, response.text)
        assert response.headers["X-Invalid-Path"] == response.json()["description"]


def test_filesystem_roots_cannot_be_removed(api):
    response = api("DELETE", "rm", data={"targetPath": "/tmp"})
    assert response.status_code == 400 and "root of a filesystem" in response.headers["X-Invalid-Path"]


def test_requests_without_a_token_get_json_401(api):
    response = api("GET", "ls", token="not-a-token", params={"targetPath": "/home/alice"})
    assert response.status_code == 401 and response.json()["description"]


# ---- isolation: as the user, so the cluster's permissions hold ----------------------------------------

async def test_bob_cannot_read_or_remove_alices_private_file(api, work, alice, bob_token):
    secret = f"{work}/secret.txt"
    await alice.run(["bash", "-c", 'printf "alice only" > "$1" && chmod 600 -- "$1"', "x", secret])
    for method, endpoint, where, key in (
            ("GET", "view", "params", "targetPath"), ("GET", "download", "params", "sourcePath"),
            ("GET", "head", "params", "targetPath"), ("GET", "tail", "params", "targetPath"),
            ("GET", "checksum", "params", "targetPath"), ("GET", "file", "params", "targetPath"),
            ("DELETE", "rm", "data", "targetPath"), ("PUT", "chmod", "data", "targetPath"),
            ("POST", "copy", "data", "sourcePath")):
        values = {key: secret, "mode": "644", "targetPath" if key == "sourcePath" else "sourcePath": "/tmp/stolen"}
        response = api(method, endpoint, token=bob_token, **{where: values})
        assert response.status_code in (400, 403), (endpoint, response.text)
        assert "X-Permission-Denied" in response.headers, endpoint
        assert "alice only" not in response.text
    assert await read(alice, secret) == b"alice only"
    assert (await alice.run(["stat", "-c", "%a", "--", secret])).stdout.strip() == "600"


@pytest.mark.parametrize("method, endpoint", [("get", "ls"), ("post", "mkdir")])
def test_control_characters_are_refused_not_turned_into_spaces(alice_token, method, endpoint):
    """Tornado's argument getters turn a NUL into a space; the path must be refused instead."""
    headers = {"Authorization": f"Bearer {alice_token}", "X-Machine-Name": "cluster"}
    target = "/home/alice/nul\x00name"
    if method == "get":
        response = requests.get(f"{API_URL}/utilities/{endpoint}", params={"targetPath": target},
                                headers=headers, timeout=30)
    else:
        response = requests.post(f"{API_URL}/utilities/{endpoint}", data={"targetPath": target},
                                 headers=headers, timeout=30)
    assert response.status_code == 400
    assert "X-Invalid-Path" in response.headers
    listing = requests.get(f"{API_URL}/utilities/ls", params={"targetPath": "/home/alice"},
                           headers=headers, timeout=30).json()["output"]
    assert "nul name" not in {entry["name"] for entry in listing}
