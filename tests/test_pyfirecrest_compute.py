"""The unmodified pyfirecrest v1 client against the compute and xfer-internal endpoints, every result
checked on the real cluster: the job's output read back, the copied file really there.

pyfirecrest's calls block (requests, time.sleep while it polls tasks), so each runs in a thread.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from firecrest.FirecrestException import FirecrestException
from firecrest.v1 import Firecrest

from compute_support import ENDED, HELD, MACHINE, cancel_quietly, exists, read
from conftest import async_wait_for

pytestmark = pytest.mark.cluster

SUBMISSION_FIELDS = {"result", "jobid", "job_file", "job_file_out", "job_file_err", "job_data_out", "job_data_err",
                     "firecrest_taskid"}


@pytest.fixture
async def work(alice):
    path = f"/home/alice/fc-pyfirecrest-compute-{uuid.uuid4().hex[:10]}"
    setup = await alice.run(["bash", "-c", 'mkdir -p -- "$1/d" && printf "inner" > "$1/d/inner.txt"', "x", path])
    assert setup.ok, setup.stderr
    yield path
    await alice.run(["rm", "-rf", "--", path])


def in_thread(function, *args, **kwargs):
    return asyncio.to_thread(function, *args, **kwargs)


async def ended(client: Firecrest, jobid, timeout: float = 60) -> dict:
    """poll_active until the job is no longer active (v1 lists active jobs only, as a plain squeue does);
    its accounting record then (poll, sacct)."""

    async def has_ended():
        jobs = await in_thread(client.poll_active, MACHINE, [jobid])
        assert [job["jobid"] for job in jobs] in ([str(jobid)], [])
        return not jobs

    await async_wait_for(has_ended, timeout, interval=0.5, what=f"job {jobid} to end")
    return await accounted(client, jobid)


async def accounted(client: Firecrest, jobid, timeout: float = 30) -> dict:
    """poll (sacct) once slurmdbd has the job's end."""

    async def end_is_accounted():
        records = await in_thread(client.poll, MACHINE, [jobid])
        return records[0] if records and records[0]["state"] in ENDED else None

    return await async_wait_for(end_is_accounted, timeout, interval=0.5, what=f"sacct to report job {jobid} ended")


async def test_submit_a_local_script_and_poll(client, alice, tmp_path):
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/bash\n#SBATCH --job-name=pyfirecrest-hello\necho \"hello $WHO\"\n")
    submitted = await in_thread(client.submit, MACHINE, script_local_path=str(script), env_vars={"WHO": "alice"})
    assert set(submitted) == SUBMISSION_FIELDS and submitted["result"] == "Job submitted"
    assert submitted["job_file"].endswith("/hello.sh")
    record = await ended(client, submitted["jobid"])
    assert (record["jobid"], record["name"], record["state"], record["user"]) == (
        str(submitted["jobid"]), "pyfirecrest-hello", "COMPLETED", "alice")
    assert await read(alice, submitted["job_file_out"]) == "hello alice\n"


async def test_submit_a_script_text_and_a_remote_path(client, alice, work):
    submitted = await in_thread(client.submit, MACHINE, script_str="#!/bin/bash\necho from text\n")
    await ended(client, submitted["jobid"])
    assert await read(alice, submitted["job_file_out"]) == "from text\n"
    await alice.run(["bash", "-c", 'printf "#!/bin/bash\\npwd\\n" > "$1"', "x", f"{work}/remote.sh"])
    submitted = await in_thread(client.submit, MACHINE, script_remote_path=f"{work}/remote.sh")
    assert submitted["job_file"] == f"{work}/remote.sh"
    await ended(client, submitted["jobid"])
    assert await read(alice, f"{work}/slurm-{submitted['jobid']}.out") == f"{work}\n"


async def test_cancel(client, alice):
    submitted = await in_thread(client.submit, MACHINE, script_str=HELD)
    try:
        assert (await in_thread(client.poll_active, MACHINE, [submitted["jobid"]]))[0]["state"] == "PENDING"
        assert str(submitted["jobid"]) in await in_thread(client.cancel, MACHINE, submitted["jobid"])
        assert (await ended(client, submitted["jobid"]))["state"] == "CANCELLED"
    finally:
        await cancel_quietly(alice, submitted["jobid"])


async def test_errors_surface_as_exceptions(client, bob_client, alice):
    with pytest.raises(FirecrestException, match="(?i)invalid partition"):
        await in_thread(client.submit, MACHINE, script_str="#!/bin/bash\n#SBATCH --partition=nosuch\ntrue\n")
    held = await in_thread(client.submit, MACHINE, script_str=HELD)
    try:
        with pytest.raises(FirecrestException, match="another user"):
            await in_thread(bob_client.cancel, MACHINE, held["jobid"])
        assert await in_thread(bob_client.poll_active, MACHINE, [held["jobid"]]) == []
        with pytest.raises(FirecrestException, match="job id"):
            await in_thread(client.poll_active, MACHINE, ["not-a-job"])
    finally:
        await cancel_quietly(alice, held["jobid"])


async def test_nodes_partitions_reservations(client):
    nodes = await in_thread(client.nodes, MACHINE)
    assert [node["NodeName"] for node in nodes] == ["localhost"]
    assert nodes[0]["Partitions"] == ["debug", "xfer"]
    partitions = await in_thread(client.partitions, MACHINE, ["debug"])
    assert partitions == [{"PartitionName": "debug", "State": "UP", "TotalCPUs": "64", "TotalNodes": "1",
                           "Default": "YES"}]
    assert await in_thread(client.reservations, MACHINE) == []


async def test_internal_transfers(client, alice, work):
    await alice.run(["bash", "-c", 'printf "moving" > "$1/f.txt"', "x", work])
    copy, rsync, compress = await asyncio.gather(
        in_thread(client.submit_copy_job, MACHINE, f"{work}/d", f"{work}/copy", job_name="copy it"),
        in_thread(client.submit_rsync_job, MACHINE, f"{work}/d/", f"{work}/synced", time="10"),
        in_thread(client.submit_compress_job, MACHINE, f"{work}/d", f"{work}/d.tar.gz"),
    )
    # The move waits for the rsync job to complete (stage-out).
    move = await in_thread(client.submit_move_job, MACHINE, f"{work}/f.txt", f"{work}/moved.txt",
                           stage_out_job_id=str(rsync["jobid"]))
    assert copy["system"] == MACHINE and isinstance(copy["jobid"], int)
    jobs = await asyncio.gather(*(ended(client, job["jobid"]) for job in (copy, rsync, compress, move)))
    assert [job["state"] for job in jobs] == ["COMPLETED"] * 4
    assert (jobs[0]["partition"], jobs[0]["name"]) == ("xfer", "copy it")
    assert await read(alice, f"{work}/copy/inner.txt") == "inner"
    assert await read(alice, f"{work}/synced/inner.txt") == "inner"
    assert await read(alice, f"{work}/moved.txt") == "moving" and not await exists(alice, f"{work}/f.txt")

    await alice.run(["mkdir", "--", f"{work}/unpacked"])
    extract, remove = await asyncio.gather(
        in_thread(client.submit_extract_job, MACHINE, f"{work}/d.tar.gz", f"{work}/unpacked"),
        in_thread(client.submit_delete_job, MACHINE, f"{work}/copy"),
    )
    jobs = await asyncio.gather(ended(client, extract["jobid"]), ended(client, remove["jobid"]))
    assert [job["state"] for job in jobs] == ["COMPLETED"] * 2
    assert await read(alice, f"{work}/unpacked/d/inner.txt") == "inner"
    assert await in_thread(client.head, MACHINE, extract["job_file_err"]) == ""
    assert not await exists(alice, f"{work}/copy")
