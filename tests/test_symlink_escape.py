"""Symlinks do not carry a request out of the filesystems: bob, through the real hub proxy with his own
token, against links he made himself on the cluster.

Bob's work directory holds `x -> /etc` and `up -> ../../../etc`. Every operation that reads or writes
through such a path is refused with 400 and X-Invalid-Path, as `/etc` itself is; what acts on the link
itself (rm, rename, stat without dereference, copying it as a link) works and leaves /etc alone. Archives
are unpacked without their absolute or escaping symlinks.
"""

from __future__ import annotations

import io
import tarfile
import uuid

import pytest

from compute_support import call, created, finished_task, job_state, read

pytestmark = pytest.mark.cluster


@pytest.fixture
async def work(bob):
    """/home/bob/fc-escape-*: `f.txt`, `d/inner.txt`, `inner -> d` and the two links out, removed afterwards."""
    path = f"/home/bob/fc-escape-{uuid.uuid4().hex[:10]}"
    script = ('mkdir -p -- "$1/d" && printf "mine\\n" > "$1/f.txt" && printf "inner" > "$1/d/inner.txt" '
              '&& ln -s /etc "$1/x" && ln -s ../../../etc "$1/up" && ln -s d "$1/inner"')
    setup = await bob.run(["bash", "-c", script, "setup", path])
    assert setup.ok, setup.stderr
    yield path
    await bob.run(["rm", "-rf", "--", path])


def utilities(method: str, endpoint: str, token: str, **kwargs):
    return call(method, f"utilities/{endpoint}", token, **kwargs)


def refused(response, resolved: str = "/etc") -> None:
    """A 400 with X-Invalid-Path saying where the path leads, as for a path named outside."""
    assert response.status_code == 400, response.text
    description = response.json()["description"]
    assert f"resolves to '{resolved}" in description and "outside the filesystems" in description, description
    assert response.headers["X-Invalid-Path"] == description


async def exists(session, path: str) -> bool:
    return (await session.run(["test", "-e", path])).ok or (await session.run(["test", "-L", path])).ok


async def test_reading_through_a_link_out_is_refused_like_the_place_itself(bob_token, work):
    named_outside = utilities("GET", "view", bob_token, params={"targetPath": "/etc/hostname"})
    assert named_outside.status_code == 400 and "X-Invalid-Path" in named_outside.headers
    for endpoint in ("view", "head", "tail", "checksum", "file", "stat", "download"):
        parameter = "sourcePath" if endpoint == "download" else "targetPath"
        for path in (f"{work}/x/hostname", f"{work}/up/hostname"):
            # file and stat describe the name itself: for them it is the directory that leads to /etc.
            refused(utilities("GET", endpoint, bob_token, params={parameter: path}))
    for path in (f"{work}/x", f"{work}/up"):
        refused(utilities("GET", "ls", bob_token, params={"targetPath": path}))
        refused(utilities("GET", "stat", bob_token, params={"targetPath": path, "dereference": "true"}))


async def test_the_links_themselves_and_links_inside_stay_usable(bob_token, work):
    listing = utilities("GET", "ls", bob_token, params={"targetPath": work})
    assert listing.status_code == 200, listing.text
    assert {(e["name"], e["link_target"]) for e in listing.json()["output"] if e["type"] == "l"} == {
        ("x", "/etc"), ("up", "../../../etc"), ("inner", "d")}
    link = utilities("GET", "stat", bob_token, params={"targetPath": f"{work}/x"})
    assert link.status_code == 200 and link.json()["output"]["mode"] == 0o120777
    assert utilities("GET", "file", bob_token, params={"targetPath": f"{work}/x"}).json()["output"] == \
        "symbolic link to /etc"
    inside = utilities("GET", "view", bob_token, params={"targetPath": f"{work}/inner/inner.txt"})
    assert inside.status_code == 200 and inside.json()["output"] == "inner"


async def test_writing_through_a_link_out_is_refused(bob_token, bob, work):
    refused(utilities("POST", "mkdir", bob_token, data={"targetPath": f"{work}/x/fc-made"}), "/etc/fc-made")
    refused(utilities("POST", "mkdir", bob_token, data={"targetPath": f"{work}/x/a/b", "p": ""}), "/etc/a/b")
    refused(utilities("POST", "upload", bob_token, data={"targetPath": f"{work}/x"},
                      files={"file": ("fc-planted", b"data")}))
    refused(utilities("POST", "copy", bob_token, data={"sourcePath": f"{work}/x/hostname",
                                                       "targetPath": f"{work}/stolen"}))
    refused(utilities("POST", "copy", bob_token, data={"sourcePath": f"{work}/f.txt", "targetPath": f"{work}/x"}))
    refused(utilities("PUT", "rename", bob_token, data={"sourcePath": f"{work}/f.txt", "targetPath": f"{work}/up"}))
    refused(utilities("PUT", "chmod", bob_token, data={"targetPath": f"{work}/x", "mode": "777"}))
    refused(utilities("PUT", "chown", bob_token, data={"targetPath": f"{work}/x", "owner": "bob"}))
    refused(utilities("POST", "symlink", bob_token, data={"targetPath": f"{work}/x/shadow",
                                                          "linkPath": f"{work}/l"}), "/etc/shadow")
    refused(utilities("POST", "symlink", bob_token, data={"targetPath": f"{work}/f.txt",
                                                          "linkPath": f"{work}/x/fc-link"}))
    refused(utilities("POST", "compress", bob_token, data={"sourcePath": f"{work}/x", "targetPath": f"{work}/e.tgz",
                                                           "dereference": "true"}))
    refused(utilities("POST", "compress", bob_token, data={"sourcePath": f"{work}/d",
                                                           "targetPath": f"{work}/x/fc.tgz"}), "/etc/fc.tgz")
    refused(utilities("POST", "extract", bob_token, data={"sourcePath": f"{work}/x/fc.tgz",
                                                          "targetPath": f"{work}/out"}), "/etc/fc.tgz")
    for name in ("stolen", "l", "e.tgz", "out"):
        assert not await exists(bob, f"{work}/{name}")


async def test_staging_and_internal_transfers_refuse_links_out(bob_token, work):
    refused(call("POST", "storage/xfer-external/download", bob_token, data={"sourcePath": f"{work}/x/hostname"}),
            "/etc/hostname")
    refused(call("POST", "storage/xfer-external/upload", bob_token,
                 data={"sourcePath": "planted.txt", "targetPath": f"{work}/up"}))
    for operation, data in [
        ("cp", {"sourcePath": f"{work}/x/hostname", "targetPath": f"{work}/stolen"}),
        ("rsync", {"sourcePath": f"{work}/x/", "targetPath": f"{work}/stolen"}),
        ("mv", {"sourcePath": f"{work}/f.txt", "targetPath": f"{work}/x"}),
        ("rm", {"targetPath": f"{work}/x/fc-nothing"}),
        ("compress", {"sourcePath": f"{work}/d", "targetPath": f"{work}/up/fc.tgz"}),
        ("extract", {"sourcePath": f"{work}/f.txt", "targetPath": f"{work}/x", "type": ".tar"}),
    ]:
        refused(call("POST", f"storage/xfer-internal/{operation}", bob_token, data=data))


async def test_a_job_script_reached_through_a_link_out_is_not_submitted(bob_token, work):
    refused(call("POST", "compute/jobs/path", bob_token, data={"targetPath": f"{work}/x/hostname"}), "/etc/hostname")


async def test_acting_on_the_link_itself_leaves_its_target_alone(bob_token, bob, work):
    copied = utilities("POST", "copy", bob_token, data={"sourcePath": f"{work}/x", "targetPath": f"{work}/x2"})
    assert copied.status_code == 201, copied.text
    assert (await bob.run(["readlink", "--", f"{work}/x2"])).stdout.strip() == "/etc"  # a link, not /etc's files
    renamed = utilities("PUT", "rename", bob_token, data={"sourcePath": f"{work}/x2", "targetPath": f"{work}/x3"})
    assert renamed.status_code == 200, renamed.text
    for link in ("x", "x3", "up"):
        removed = utilities("DELETE", "rm", bob_token, data={"targetPath": f"{work}/{link}"})
        assert removed.status_code == 204, removed.text
        assert not await exists(bob, f"{work}/{link}")
    assert await read(bob, "/etc/hostname")  # still there, and still readable to bob by his own means


def archive_with_links_out() -> bytes:
    """A tar of `data.txt`, `ok -> data.txt` and links out: absolute, climbing, and through a link of its own."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = tarfile.TarInfo("data.txt")
        data.size = 4
        tar.addfile(data, io.BytesIO(b"data"))
        for name, target in [("ok", "data.txt"), ("absolute", "/etc"), ("climbing", "../../../etc/hostname"),
                             ("self", "."), ("through-self", "self/../../../etc")]:
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
    return buffer.getvalue()


async def uploaded_archive(token: str, directory: str) -> str:
    response = utilities("POST", "upload", token, data={"targetPath": directory},
                         files={"file": ("links.tgz", archive_with_links_out())})
    assert response.status_code == 201, response.text
    return f"{directory}/links.tgz"


async def links_in(session, directory: str) -> dict[str, str]:
    found = await session.run(["find", directory, "-type", "l", "-printf", "%P\\t%l\\n"])
    assert found.ok, found.stderr
    return dict(line.split("\t") for line in found.stdout.splitlines())


async def test_extraction_leaves_no_link_out(bob_token, bob, work):
    archive = await uploaded_archive(bob_token, work)
    extracted = utilities("POST", "extract", bob_token, data={"sourcePath": archive, "targetPath": f"{work}/out"})
    assert extracted.status_code == 201, extracted.text
    assert await links_in(bob, f"{work}/out") == {"ok": "data.txt", "self": "."}
    assert await read(bob, f"{work}/out/ok") == "data"


async def test_extraction_as_a_transfer_job_leaves_no_link_out_and_says_so(bob_token, bob, work):
    archive = await uploaded_archive(bob_token, work)
    task = await finished_task(bob_token, created(call(
        "POST", "storage/xfer-internal/extract", bob_token,
        data={"sourcePath": archive, "targetPath": f"{work}/job-out"}), 201))
    assert task["status"] == "200", task
    job = await job_state(bob_token, task["data"]["jobid"])
    assert job["state"] == "COMPLETED", job
    assert await links_in(bob, f"{work}/job-out") == {"ok": "data.txt", "self": "."}
    errors = await read(bob, task["data"]["job_file_err"])
    for name in ("absolute", "climbing", "through-self"):
        assert f"removed the symlink {name} -> " in errors, errors

