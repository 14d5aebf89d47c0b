"""The unmodified pyfirecrest v1 client against the utilities endpoints; every result checked on disk."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from firecrest.FirecrestException import FirecrestException, HeaderException


pytestmark = pytest.mark.cluster

MACHINE = "cluster"


@pytest.fixture
async def work(alice):
    path = f"/home/alice/fc-pyfirecrest-{uuid.uuid4().hex[:10]}"
    setup = await alice.run(["bash", "-c", 'mkdir -p -- "$1/d" && printf "one\\ntwo\\nthree\\n" > "$1/f.txt"',
                             "setup", path])
    assert setup.ok, setup.stderr
    yield path
    await alice.run(["rm", "-rf", "--", path])


async def on_disk(alice, *argv: str) -> str:
    result = await alice.run(list(argv))
    assert result.ok, result.stderr
    return result.stdout


async def test_whoami_and_groups(client, alice):
    assert client.whoami(MACHINE) == "alice"
    groups = client.groups(MACHINE)
    assert groups["user"] == {"name": "alice", "id": (await on_disk(alice, "id", "-u")).strip()}
    assert groups["group"]["id"] == (await on_disk(alice, "id", "-g")).strip()


async def test_list_files(client, work, alice):
    await on_disk(alice, "touch", "--", f"{work}/.hidden", f"{work}/d/inner")
    assert [entry["name"] for entry in client.list_files(MACHINE, work)] == ["d", "f.txt"]
    assert [entry["name"] for entry in client.list_files(MACHINE, work, show_hidden=True)] == [".hidden", "d", "f.txt"]
    recursive = client.list_files(MACHINE, work, recursive=True)
    assert [entry["name"] for entry in recursive] == ["d", "f.txt", "d/inner"]
    f = recursive[1]
    assert (f["type"], f["user"], f["permissions"], f["size"]) == ("-", "alice", "rw-r--r--", "14")


async def test_mkdir(client, work, alice):
    assert client.mkdir(MACHINE, f"{work}/a/b", p=True) == f"{work}/a/b"
    client.mkdir(MACHINE, f"{work}/c")
    await on_disk(alice, "test", "-d", f"{work}/a/b")
    await on_disk(alice, "test", "-d", f"{work}/c")
    with pytest.raises(FirecrestException) as exists:
        client.mkdir(MACHINE, f"{work}/c")  # exists, no p
    assert "X-Exists" in exists.value.responses[-1].headers


async def test_simple_upload_and_download(client, work, alice, tmp_path):
    data = bytes(range(256)) * 200
    client.simple_upload(MACHINE, io.BytesIO(data), work, filename="blob.bin")
    assert (await on_disk(alice, "sha256sum", "--", f"{work}/blob.bin")).split()[0] == hashlib.sha256(data).hexdigest()
    local = tmp_path / "local.txt"
    local.write_bytes(b"from a local file\n")
    client.simple_upload(MACHINE, str(local), work)
    assert await on_disk(alice, "cat", "--", f"{work}/local.txt") == "from a local file\n"

    downloaded = io.BytesIO()
    client.simple_download(MACHINE, f"{work}/blob.bin", downloaded)
    assert downloaded.getvalue() == data
    client.simple_download(MACHINE, f"{work}/f.txt", tmp_path / "f.txt")
    assert (tmp_path / "f.txt").read_bytes() == b"one\ntwo\nthree\n"


async def test_reading_a_file(client, work, alice):
    target = f"{work}/f.txt"
    assert client.head(MACHINE, target, lines="2") == "one\ntwo\n"
    assert client.head(MACHINE, target, bytes="6", skip_ending=True) == "one\ntwo\n"
    assert client.tail(MACHINE, target, lines="1") == "three\n"
    assert client.tail(MACHINE, target, bytes="10", skip_beginning=True) == "hree\n"
    assert client.view(MACHINE, target) == "one\ntwo\nthree\n"
    assert client.file_type(MACHINE, target) == "ASCII text"
    assert client.checksum(MACHINE, target) == (await on_disk(alice, "sha256sum", "--", target)).split()[0]
    stat = client.stat(MACHINE, target)
    size, inode, mtime = (await on_disk(alice, "stat", "-c", "%s %i %Y", "--", target)).split()
    assert (stat["size"], stat["ino"], stat["mtime"]) == (int(size), int(inode), int(mtime))


async def test_changing_files(client, work, alice):
    assert client.mv(MACHINE, f"{work}/f.txt", f"{work}/g.txt") == f"{work}/g.txt"
    assert await on_disk(alice, "cat", "--", f"{work}/g.txt") == "one\ntwo\nthree\n"
    assert (await alice.run(["test", "-e", f"{work}/f.txt"])).exit_status == 1

    client.copy(MACHINE, f"{work}/g.txt", f"{work}/h.txt")
    assert await on_disk(alice, "cat", "--", f"{work}/h.txt") == "one\ntwo\nthree\n"

    client.chmod(MACHINE, f"{work}/h.txt", "640")
    assert (await on_disk(alice, "stat", "-c", "%a", "--", f"{work}/h.txt")).strip() == "640"
    group = (await on_disk(alice, "id", "-gn")).strip()
    client.chown(MACHINE, f"{work}/h.txt", owner="alice", group=group)
    assert (await on_disk(alice, "stat", "-c", "%U %G", "--", f"{work}/h.txt")).split() == ["alice", group]

    client.symlink(MACHINE, f"{work}/h.txt", f"{work}/link")
    assert (await on_disk(alice, "readlink", "--", f"{work}/link")).strip() == f"{work}/h.txt"

    client.simple_delete(MACHINE, f"{work}/link")
    client.simple_delete(MACHINE, f"{work}/d")
    assert (await alice.run(["test", "-e", f"{work}/link"])).exit_status == 1
    assert (await alice.run(["test", "-e", f"{work}/d"])).exit_status == 1
    assert (await alice.run(["test", "-e", f"{work}/h.txt"])).ok


async def test_compress_and_extract(client, work, alice):
    await on_disk(alice, "bash", "-c", 'printf inner > "$1/d/inner.txt"', "x", work)
    assert client.compress(MACHINE, f"{work}/d", f"{work}/d.tar.gz") == f"{work}/d.tar.gz"
    members = await on_disk(alice, "tar", "-tzf", f"{work}/d.tar.gz")
    assert sorted(members.split()) == ["d/", "d/inner.txt"]
    client.mkdir(MACHINE, f"{work}/out")
    client.extract(MACHINE, f"{work}/d.tar.gz", f"{work}/out")
    assert await on_disk(alice, "cat", "--", f"{work}/out/d/inner.txt") == "inner"


async def test_errors_are_header_exceptions(client, work, bob_client, alice):
    with pytest.raises(HeaderException) as outside:
        client.list_files(MACHINE, "/etc")
    assert "X-Invalid-Path" in outside.value.responses[-1].headers
    with pytest.raises(HeaderException) as missing:
        client.view(MACHINE, f"{work}/nothing")
    assert "X-Invalid-Path" in missing.value.responses[-1].headers

    await on_disk(alice, "chmod", "600", "--", f"{work}/f.txt")
    with pytest.raises(HeaderException) as denied:
        bob_client.view(MACHINE, f"{work}/f.txt")
    assert "X-Permission-Denied" in denied.value.responses[-1].headers
    with pytest.raises(FirecrestException):
        client.simple_upload(MACHINE, io.BytesIO(b"x" * (6 * 1024 * 1024)), work, filename="big.bin")
    assert (await alice.run(["test", "-e", f"{work}/big.bin"])).exit_status == 1
