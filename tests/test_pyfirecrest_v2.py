"""The unmodified pyfirecrest v2 clients (`firecrest.v2.Firecrest` and `AsyncFirecrest`) against the v2 API of
the demo: every public function of both, each result checked on the cluster (files read back over SSH as
alice, jobs seen in Slurm). The transfers are in test_pyfirecrest_v2_transfers.py."""

from __future__ import annotations

import hashlib
import time

import pytest
from firecrest.FirecrestException import FirecrestException
from firecrest.v2 import AsyncFirecrest, Firecrest

from conftest import HUB_URL, HubToken, async_wait_for, wait_for
from test_pyfirecrest_utilities import on_disk, work  # noqa: F401 (work is a fixture)

pytestmark = pytest.mark.cluster

V2_URL = f"{HUB_URL}/services/firecrest/api/v2"
MACHINE = "cluster"


@pytest.fixture
def client(alice_token):
    return Firecrest(firecrest_url=V2_URL, authorization=HubToken(alice_token))


@pytest.fixture
def async_client(alice_token):
    return AsyncFirecrest(firecrest_url=V2_URL, authorization=HubToken(alice_token))


def status_of(error: pytest.ExceptionInfo) -> int:
    return error.value.responses[-1].status_code


# -- status ----------------------------------------------------------------------------------------


def test_server_version_and_systems(client):
    assert client.server_version() == "2.5.6"
    (system,) = client.systems()
    assert system["name"] == MACHINE and system["scheduler"]["type"] == "slurm"
    kinds = {health["serviceType"] for health in system["servicesHealth"]}
    assert kinds == {"ssh", "scheduler", "filesystem"}
    assert [fs["path"] for fs in system["fileSystems"]][:1] == ["/home"]


async def test_userinfo_partitions_nodes_reservations(client, alice):
    info = client.userinfo(MACHINE)
    assert info["user"] == {"name": "alice", "id": (await on_disk(alice, "id", "-u")).strip()}
    assert info["group"]["id"] == (await on_disk(alice, "id", "-g")).strip()
    assert any(account["default"] for account in info["accounts"])
    slurm_partitions = (await on_disk(alice, "sinfo", "--noheader", "--format=%R")).split()
    assert sorted(p["name"] for p in client.partitions(MACHINE)) == sorted(slurm_partitions)
    nodes = client.nodes(MACHINE)
    assert nodes and all(node["cpus"] and node["state"] for node in nodes)
    assert isinstance(client.reservations(MACHINE), list)


# -- files -----------------------------------------------------------------------------------------


async def test_list_files_with_every_option(client, work, alice):
    await on_disk(alice, "touch", "--", f"{work}/.hidden", f"{work}/d/inner")
    await on_disk(alice, "ln", "-s", "--", f"{work}/f.txt", f"{work}/link")
    assert [e["name"] for e in client.list_files(MACHINE, work)] == ["d", "f.txt", "link"]
    assert [e["name"] for e in client.list_files(MACHINE, work, show_hidden=True)][0] == ".hidden"
    assert [e["name"] for e in client.list_files(MACHINE, work, recursive=True)] == ["d", "f.txt", "link", "d/inner"]
    link = client.list_files(MACHINE, work)[2]
    assert (link["type"], link["linkTarget"]) == ("l", f"{work}/f.txt")
    followed = client.list_files(MACHINE, work, dereference=True)[2]
    assert (followed["type"], followed["linkTarget"], followed["size"]) == ("-", None, "14")
    uid = (await on_disk(alice, "id", "-u")).strip()
    assert client.list_files(MACHINE, work, numeric_uid=True)[0]["user"] == uid


async def test_head_tail_view_checksum_file_stat(client, work, alice):
    path = f"{work}/f.txt"
    assert client.head(MACHINE, path, num_lines=2)["content"] == "one\ntwo\n"
    assert client.head(MACHINE, path, num_bytes=2, exclude_trailing=True)["content"] == "one\ntwo\nthre"
    assert client.tail(MACHINE, path, num_lines=1)["content"] == "three\n"
    assert client.tail(MACHINE, path, num_lines=2, exclude_beginning=True)["content"] == "two\nthree\n"
    assert client.view(MACHINE, path) == "one\ntwo\nthree\n"
    assert client.checksum(MACHINE, path) == {"algorithm": "SHA256",
                                              "checksum": hashlib.sha256(b"one\ntwo\nthree\n").hexdigest()}
    assert client.file_type(MACHINE, path) == "ASCII text"
    stat = client.stat(MACHINE, path)
    assert stat["size"] == 14 and stat["uid"] == int((await on_disk(alice, "id", "-u")).strip())


async def test_mkdir_chmod_chown_symlink_rm(client, work, alice):
    made = client.mkdir(MACHINE, f"{work}/a/b", create_parents=True)
    assert made["name"] == f"{work}/a/b" and made["type"] == "d"
    await on_disk(alice, "test", "-d", f"{work}/a/b")
    assert client.chmod(MACHINE, f"{work}/f.txt", "600")["permissions"] == "rw-------"
    assert (await on_disk(alice, "stat", "--format=%a", "--", f"{work}/f.txt")).strip() == "600"
    assert client.chown(MACHINE, f"{work}/f.txt", "alice", "alice")["user"] == "alice"
    client.symlink(MACHINE, f"{work}/f.txt", f"{work}/ln")
    assert (await on_disk(alice, "readlink", "--", f"{work}/ln")).strip() == f"{work}/f.txt"
    client.rm(MACHINE, f"{work}/a")
    assert not (await alice.run(["test", "-e", f"{work}/a"])).ok


async def test_upload_download_compress_extract(client, work, alice, tmp_path):
    local = tmp_path / "up.bin"
    local.write_bytes(b"\x00payload\xff" * 100)
    assert client.upload(MACHINE, str(local), work, "up.bin") is None
    assert (await on_disk(alice, "sha256sum", "--", f"{work}/up.bin")).split()[0] == \
        hashlib.sha256(local.read_bytes()).hexdigest()
    back = tmp_path / "back.bin"
    assert client.download(MACHINE, f"{work}/up.bin", str(back)) is None
    assert back.read_bytes() == local.read_bytes()
    client.compress(MACHINE, f"{work}/d", f"{work}/d.tar.gz")
    assert "d/" in await on_disk(alice, "tar", "-tzf", f"{work}/d.tar.gz")
    client.mkdir(MACHINE, f"{work}/out")
    client.extract(MACHINE, f"{work}/d.tar.gz", f"{work}/out")
    await on_disk(alice, "test", "-d", f"{work}/out/d")


def test_missing_paths_are_404_as_pyfirecrest_reads_them(client, work, tmp_path):
    with pytest.raises(FirecrestException) as missing:
        client.view(MACHINE, f"{work}/nothing")
    assert status_of(missing) == 404
    assert "No such file or directory" in missing.value.responses[-1].json()["message"]
    with pytest.raises(FileNotFoundError):
        client.download(MACHINE, f"{work}/nothing", str(tmp_path / "x"))


def test_bob_cannot_read_alices_private_files(bob_token, work, client):
    client.chmod(MACHINE, work, "700")
    bob = Firecrest(firecrest_url=V2_URL, authorization=HubToken(bob_token))
    with pytest.raises(FirecrestException) as refused:
        bob.view(MACHINE, f"{work}/f.txt")
    assert status_of(refused) == 403


# -- jobs --------------------------------------------------------------------------------------------


async def test_submit_wait_metadata(client, work, alice):
    script = "#!/bin/bash\n#SBATCH --time=1\necho hello from $SLURM_JOB_ID\n"
    job = client.submit(MACHINE, working_dir=work, script_str=script, env_vars={"GREETING": "hi"})
    jobid = job["jobId"]
    assert jobid in await on_disk(alice, "squeue", "--states=all", "--noheader", "--format=%i", f"--jobs={jobid}")
    done = client.wait_for_job(MACHINE, jobid, timeout=120)
    assert done[0]["status"]["state"] == "COMPLETED"
    listed = [entry["jobId"] for entry in client.job_info(MACHINE)]
    assert jobid in listed
    metadata = client.job_metadata(MACHINE, jobid)[0]
    assert metadata["standardOutput"] == f"{work}/slurm-{jobid}.out"
    assert metadata["script"] is None or "hello from" in metadata["script"]
    assert f"hello from {jobid}" in await on_disk(alice, "cat", "--", f"{work}/slurm-{jobid}.out")


async def test_submit_from_a_script_path_with_files_attach_and_cancel(client, work, alice):
    await on_disk(alice, "bash", "-c", 'printf "#!/bin/bash\\nsleep 120\\n" > "$1"', "x", f"{work}/long.sh")
    job = client.submit(MACHINE, working_dir=work, script_remote_path=f"{work}/long.sh")
    jobid = job["jobId"]
    wait_for(lambda: client.job_info(MACHINE, jobid)[0]["status"]["state"] == "RUNNING", 60, interval=0.5,
             what="the job to run")
    assert "sleep 120" in client.job_metadata(MACHINE, jobid)[0]["script"]
    client.attach_to_job(MACHINE, jobid, f"echo attached > {work}/attached.txt")
    assert (await on_disk(alice, "cat", "--", f"{work}/attached.txt")).strip() == "attached"
    client.cancel_job(MACHINE, jobid)
    wait_for(lambda: client.job_info(MACHINE, jobid)[0]["status"]["state"] == "CANCELLED", 30, interval=0.5,
             what="the job to be cancelled")
    state = await on_disk(alice, "sacct", "--noheader", "--parsable2", "--format=State", "-X", f"--jobs={jobid}")
    assert state.startswith("CANCELLED")


def test_bob_neither_sees_nor_cancels_alices_jobs(client, bob_token, work):
    jobid = client.submit(MACHINE, working_dir=work, script_str="#!/bin/bash\nsleep 60\n")["jobId"]
    bob = Firecrest(firecrest_url=V2_URL, authorization=HubToken(bob_token))
    try:
        assert jobid not in [job["jobId"] for job in bob.job_info(MACHINE)]
        for call in (lambda: bob.job_info(MACHINE, jobid), lambda: bob.job_metadata(MACHINE, jobid)):
            with pytest.raises(FirecrestException) as hidden:
                call()
            assert status_of(hidden) == 404 and "Job not found" in hidden.value.responses[-1].json()["message"]
        with pytest.raises(FirecrestException) as refused:
            bob.cancel_job(MACHINE, jobid)
        assert status_of(refused) == 403
        with pytest.raises(FirecrestException) as everyone:
            bob.job_info(MACHINE, allusers=True)
        assert status_of(everyone) == 403
        assert client.job_info(MACHINE, jobid)[0]["status"]["state"] in ("PENDING", "RUNNING")
    finally:
        client.cancel_job(MACHINE, jobid)


# -- the asynchronous client ---------------------------------------------------------------------------


async def test_the_async_client_does_the_same(async_client, work, alice, tmp_path):
    assert (await async_client.userinfo(MACHINE))["user"]["name"] == "alice"
    assert [e["name"] for e in await async_client.list_files(MACHINE, work)] == ["d", "f.txt"]
    assert (await async_client.head(MACHINE, f"{work}/f.txt", num_lines=1))["content"] == "one\n"
    await async_client.mkdir(MACHINE, f"{work}/x/y", create_parents=True)
    await on_disk(alice, "test", "-d", f"{work}/x/y")
    local = tmp_path / "a.txt"
    local.write_text("async\n")
    await async_client.upload(MACHINE, str(local), work, "a.txt")
    assert await on_disk(alice, "cat", "--", f"{work}/a.txt") == "async\n"
    await async_client.rm(MACHINE, f"{work}/a.txt")
    job = await async_client.submit(MACHINE, working_dir=work, script_str="#!/bin/bash\necho async job\n")
    started = time.monotonic()
    done = await async_client.wait_for_job(MACHINE, job["jobId"], timeout=120)
    assert done[0]["status"]["state"] == "COMPLETED", time.monotonic() - started
    assert (await async_client.job_metadata(MACHINE, job["jobId"]))[0]["jobId"] == job["jobId"]


async def test_the_async_client_covers_the_rest(async_client, work, alice):
    """The async client's other public functions, each checked like its sync twin above."""
    (system,) = await async_client.systems()
    assert system["name"] == MACHINE
    assert await async_client.nodes(MACHINE) and await async_client.partitions(MACHINE)
    assert isinstance(await async_client.reservations(MACHINE), list)
    path = f"{work}/f.txt"
    assert (await async_client.tail(MACHINE, path, num_lines=1))["content"] == "three\n"
    assert await async_client.view(MACHINE, path) == "one\ntwo\nthree\n"
    assert (await async_client.checksum(MACHINE, path))["checksum"] == \
        hashlib.sha256(b"one\ntwo\nthree\n").hexdigest()
    assert await async_client.file_type(MACHINE, path) == "ASCII text"
    assert (await async_client.stat(MACHINE, path))["size"] == 14
    assert (await async_client.chmod(MACHINE, path, "640"))["permissions"] == "rw-r-----"
    assert (await async_client.chown(MACHINE, path, "alice", "alice"))["user"] == "alice"
    await async_client.symlink(MACHINE, path, f"{work}/ln")
    assert (await on_disk(alice, "readlink", "--", f"{work}/ln")).strip() == path
    await async_client.compress(MACHINE, f"{work}/d", f"{work}/d.tar.gz")
    await async_client.mkdir(MACHINE, f"{work}/out")
    await async_client.extract(MACHINE, f"{work}/d.tar.gz", f"{work}/out")
    await on_disk(alice, "test", "-d", f"{work}/out/d")
    job = await async_client.submit(MACHINE, working_dir=work, script_str="#!/bin/bash\nsleep 120\n")
    jobid = job["jobId"]
    assert [entry["jobId"] for entry in await async_client.job_info(MACHINE, jobid)] == [jobid]

    async def running():
        return (await async_client.job_info(MACHINE, jobid))[0]["status"]["state"] == "RUNNING"

    await async_wait_for(running, 60, interval=0.5, what="the job to run")
    await async_client.attach_to_job(MACHINE, jobid, f"echo attached > {work}/attached.txt")
    assert (await on_disk(alice, "cat", "--", f"{work}/attached.txt")).strip() == "attached"
    await async_client.cancel_job(MACHINE, jobid)
    done = await async_client.wait_for_job(MACHINE, jobid, timeout=60)
    assert done[0]["status"]["state"] == "CANCELLED"
