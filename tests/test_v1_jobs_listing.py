"""GET compute/jobs as v1 clients rely on it: it lists what a plain squeue lists (active jobs), and a job
is there the moment its submission's task reports its id, without waiting for the next queue read."""

from __future__ import annotations

import time

import pytest

from compute_support import HELD, call, cancel_quietly, created, finished_task, result, submit

pytestmark = pytest.mark.cluster


async def listed(token: str) -> set[int]:
    jobs = await result(call("GET", "compute/jobs", token), token)
    return {int(job["jobid"]) for job in jobs.values()}


async def test_a_cancelled_job_is_no_longer_listed(alice_token, alice):
    submitted = await submit(alice_token, HELD, name="held.sh")
    jobid = submitted["jobid"]
    try:
        assert jobid in await listed(alice_token)
        cancelled = await finished_task(alice_token, created(call("DELETE", f"compute/jobs/{jobid}", alice_token)))
        assert cancelled["status"] == "200", cancelled
        # slurmctld still holds the job (CANCELLED, for MinJobAge): a plain squeue does not list it.
        assert jobid not in await listed(alice_token)
        shown = await finished_task(alice_token, created(call("GET", f"compute/jobs/{jobid}", alice_token)))
        assert shown["status"] == "400" and "not active" in shown["data"], shown
        assert (await alice.run(["squeue", "--noheader", "--states=all", f"--jobs={jobid}"])).stdout.strip()
    finally:
        await cancel_quietly(alice, jobid)


async def test_the_job_id_is_known_at_once_and_listed_right_after(alice_token, alice):
    started = time.monotonic()
    response = call("POST", "compute/jobs/upload", alice_token, files={"file": ("held.sh", HELD.encode())})
    task = await finished_task(alice_token, created(response, 201))
    elapsed = time.monotonic() - started
    assert task["status"] == "200", task
    jobid = task["data"]["jobid"]
    try:
        # The queue is read every 2 s on the demo; the submission no longer waits for that read.
        assert elapsed < 1.0, f"the job id took {elapsed:.2f} s"
        assert task["data"]["job_file_out"].endswith(f"/slurm-{jobid}.out")
        assert jobid in await listed(alice_token)
    finally:
        await cancel_quietly(alice, jobid)
