"""The compute layer against the real dev cluster: sbatch, squeue (through the shared cache), scancel,
sacct and scontrol, as alice and bob over the pooled, certificate-authenticated SSH connections."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from traitlets.config import Config

from conftest import async_wait_for
from firecrest_hub.compute import JobRequest, SlurmScheduler
from firecrest_hub.errors import InvalidInput, NotFound, PermissionDenied, SubmissionRejected, UnknownJob

pytestmark = pytest.mark.cluster

FINISHED = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"}
SHORT_JOB = "#!/bin/bash\nwhoami\nsleep 1\n"


@pytest.fixture
def scheduler(pool):
    # A short interval keeps the suite fast; production uses the default of a few seconds. The listing of
    # every user's jobs is allowed, as a site may, so that its tests here see it.
    return SlurmScheduler(pool, config=Config({"JobStateCache": {"interval": 0.5},
                                               "SlurmScheduler": {"all_users_jobs": True}}))


@pytest.fixture
async def workdir(alice):
    """A fresh directory of alice's on the cluster for the jobs' files, removed afterwards."""
    sftp = await alice.sftp()
    path = f"/tmp/fc-compute-test-{secrets.token_hex(4)}"
    await sftp.mkdir(path)
    yield path
    await sftp.rmtree(path, ignore_errors=True)


async def states_until_finished(scheduler, session, jobid, timeout=30.0) -> list[str]:
    """Every distinct state the shared cache shows for the job, until it has finished."""
    seen: list[str] = []

    async def finished():
        state = (await scheduler.job(session, jobid)).state
        if not seen or seen[-1] != state:
            seen.append(state)
        return seen if state in FINISHED else None

    return await async_wait_for(finished, timeout, interval=0.2, what=f"job {jobid} to finish (states seen: {seen})")


async def accounted_record(scheduler, session, jobid, timeout=20.0):
    """The job's record in sacct, once slurmdbd has its final state (it lags slurmctld a little)."""

    async def accounted():
        records = await scheduler.accounting(session, jobids=[jobid])
        return records[0] if records and records[0].state in FINISHED else None

    return await async_wait_for(accounted, timeout, interval=0.3, what=f"sacct to report job {jobid} finished")


async def read_file(session, path: str) -> str:
    sftp = await session.sftp()
    async with sftp.open(path) as handle:
        return await handle.read()


async def test_a_job_runs_as_its_user_and_is_seen_through_cache_and_sacct(scheduler, alice, system, workdir):
    before = time.monotonic()
    jobid = await scheduler.submit(alice, JobRequest(script=SHORT_JOB, name="whoami test", workdir=workdir))
    assert jobid.isdigit()
    first = await scheduler.job(alice, jobid, newer_than=before)
    assert first.user == "alice" and first.partition == system.default_partition
    assert first.state in {"PENDING", "RUNNING"}, first
    states = await states_until_finished(scheduler, alice, jobid)
    assert states[-1] == "COMPLETED", states
    finished = await scheduler.job(alice, jobid)
    assert finished.nodelist == "localhost" and finished.job_file_out == f"{workdir}/slurm-{jobid}.out"
    assert (await read_file(alice, finished.job_file_out)).strip() == "alice"
    record = await accounted_record(scheduler, alice, jobid)
    assert (record.state, record.user, record.name, record.account) == ("COMPLETED", "alice", "whoami test", "demo")
    assert record.exit_code == "0:0" and record.nodelist == "localhost"
    recent = await scheduler.accounting(alice, start_time="now-1hours", end_time="now")
    assert jobid in {record.jobid for record in recent}


async def test_cancel_and_sacct_says_cancelled(scheduler, alice, workdir):
    request = JobRequest(script="#!/bin/bash\nsleep 120\n", name="to cancel", workdir=workdir)
    jobid = await scheduler.submit(alice, request)
    await scheduler.cancel(alice, jobid)
    assert (await states_until_finished(scheduler, alice, jobid))[-1] == "CANCELLED"
    assert (await accounted_record(scheduler, alice, jobid)).state == "CANCELLED"
    # Cancelling what has already ended is done, not an error; a job id nobody has is UnknownJob.
    await scheduler.cancel(alice, jobid)
    with pytest.raises(UnknownJob):
        await scheduler.cancel(alice, "99999999")


async def test_bob_cannot_cancel_or_inspect_alices_job(scheduler, alice, bob, workdir):
    request = JobRequest(script="#!/bin/bash\nsleep 120\n", name="alice only", workdir=workdir)
    jobid = await scheduler.submit(alice, request)
    try:
        with pytest.raises(PermissionDenied):
            await scheduler.cancel(bob, jobid)
        with pytest.raises(UnknownJob):
            await scheduler.job(bob, jobid)
        listed = {job.jobid: job for job in await scheduler.jobs(bob, all_users=True)}
        assert listed[jobid].user == "alice" and listed[jobid].job_file_out == ""
        assert jobid not in {job.jobid for job in await scheduler.jobs(bob)}
        assert (await scheduler.job(alice, jobid, newer_than=time.monotonic())).state in {"PENDING", "RUNNING"}
    finally:
        await scheduler.cancel(alice, jobid)


async def test_hostile_names_paths_and_env_values_execute_nothing(scheduler, alice, workdir):
    # An injected command would create the marker: absolutely in /tmp, or (from a path, which cannot
    # hold '/' in one component) relatively, in the home or working directory.
    marker = f"fc-injected-{secrets.token_hex(6)}"
    inject = f"$(touch /tmp/{marker}) `touch /tmp/{marker}` ; touch /tmp/{marker} && touch /tmp/{marker} |"
    inject_in_path = f"$(touch {marker}) `touch {marker}` ; touch {marker} &&"
    name = f"-J x' \"q\" {inject}"
    value = f"line one\n{inject}\n' \" \\ $HOME *"
    jobdir = f"{workdir}/' {inject_in_path}"
    script_path = f"{jobdir}/--job {inject_in_path}.sh"
    sftp = await alice.sftp()
    await sftp.mkdir(jobdir)
    async with sftp.open(script_path, "w") as handle:
        await handle.write('#!/bin/bash\nprintf "%s" "$HOSTILE" > value.txt\npwd > pwd.txt\n')
    with pytest.raises(InvalidInput):
        await scheduler.submit(alice, JobRequest(script=SHORT_JOB, name="two\nlines"))
    request = JobRequest(script_path=script_path, name=name, workdir=jobdir, env={"HOSTILE": value})
    jobid = await scheduler.submit(alice, request)
    assert (await states_until_finished(scheduler, alice, jobid))[-1] == "COMPLETED"
    assert (await scheduler.job(alice, jobid)).name == name
    assert await read_file(alice, f"{jobdir}/value.txt") == value
    assert (await read_file(alice, f"{jobdir}/pwd.txt")).rstrip("\n") == jobdir
    for place in ("/tmp", "/home/alice", workdir, jobdir):
        assert not await sftp.exists(f"{place}/{marker}")


async def test_unknown_partition_is_rejected_with_slurms_reason(scheduler, alice, workdir):
    request = JobRequest(script=SHORT_JOB, partition="no_such_partition", workdir=workdir)
    with pytest.raises(SubmissionRejected) as caught:
        await scheduler.submit(alice, request)
    assert caught.value.description == "Invalid partition name specified"


async def test_nodes_partitions_and_reservations(scheduler, alice):
    nodes = await scheduler.nodes(alice)
    assert [node.name for node in nodes] == ["localhost"]
    node = nodes[0]
    assert node.cpus_total == "64" and node.partitions == ["debug", "xfer"] and node.active_features == []
    assert node.state[0] in {"IDLE", "MIXED", "ALLOCATED"} and node.fields["NodeAddr"] == "127.0.0.1"
    assert (await scheduler.nodes(alice, ["localhost"]))[0].name == "localhost"
    with pytest.raises(NotFound):
        await scheduler.nodes(alice, ["no-such-node"])
    partitions = {partition.name: partition for partition in await scheduler.partitions(alice)}
    assert partitions.keys() == {"debug", "xfer"}
    assert partitions["debug"].default and not partitions["xfer"].default
    assert (partitions["debug"].max_time, partitions["debug"].state, partitions["debug"].total_cpus) == (
        "02:00:00", "UP", "64")
    assert [partition.name for partition in await scheduler.partitions(alice, ["xfer"])] == ["xfer"]
    # The dev cluster has none: scontrol says "No reservations in the system", which is an empty list.
    assert await scheduler.reservations(alice) == []


async def test_fifty_concurrent_readers_make_exactly_one_squeue(scheduler, alice, bob):
    cache = scheduler.job_cache(alice.system)
    readers = [scheduler.jobs(alice if index % 2 else bob, all_users=bool(index % 3)) for index in range(50)]
    results = await asyncio.gather(*readers)
    assert cache.queue_reads == 1
    assert all(isinstance(jobs, list) for jobs in results)
    assert (await cache.snapshot()).age < cache.interval and cache.queue_reads == 1
