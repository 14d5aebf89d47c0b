"""What the compute, xfer-internal and restart tests share: HTTP calls through the hub proxy, waiting for
tasks and jobs (bounded), and looking at the queue directly as a user."""

from __future__ import annotations

import requests

from conftest import API_URL, async_wait_for
from firecrest_hub.jobs.submission import FindMarkedJobs, marker_of

MACHINE = "cluster"
ENDED = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"}
# Waits ten minutes before it may start: lets a test look at (and cancel) a waiting job.
HELD = "#!/bin/bash\n#SBATCH --begin=now+600\ntrue\n"


def call(method: str, path: str, token: str, *, machine: str | None = MACHINE, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    if machine is not None:
        headers["X-Machine-Name"] = machine
    return requests.request(method, f"{API_URL}/{path}", headers=headers, timeout=30, **kwargs)


def created(response: requests.Response, status: int = 200) -> str:
    """The task id of v1's task creation answer, after checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] == "Task created", body
    assert body["task_url"].endswith(f"/tasks/{body['task_id']}")
    return body["task_id"]


async def finished_task(token: str, task_id: str, timeout: float = 60) -> dict:
    """The task once it has finished (200 or 400)."""

    def finished():
        response = call("GET", f"tasks/{task_id}", token, machine=None)
        assert response.status_code == 200, response.text
        task = response.json()["task"]
        return task if task["status"] in ("200", "400") else None

    return await async_wait_for(finished, timeout, interval=0.2, what=f"task {task_id} to finish")


async def result(response: requests.Response, token: str, status: int = 200, expect: str = "200"):
    """Start a task with `response`, wait for it and return its `data` (or its error for expect="400")."""
    task = await finished_task(token, created(response, status))
    assert task["status"] == expect, task
    return task["data"]


async def submit(token: str, script: str, name: str = "script.sh", **data) -> dict:
    """Upload `script` through compute/jobs/upload; the submission's result."""
    response = call("POST", "compute/jobs/upload", token, files={"file": (name, script.encode())}, data=data)
    return await result(response, token, 201)


async def job_state(token: str, jobid, states=ENDED, timeout: float = 60) -> dict:
    """The job once its state is one of `states`: as GET compute/jobs shows it while it is active, and as
    compute/acct does once it has ended (v1 lists active jobs only, as a plain squeue does)."""

    async def reached():
        jobs = await result(call("GET", "compute/jobs", token, params={"jobs": str(jobid)}), token)
        if jobs:
            return jobs["0"] if jobs["0"]["state"] in states else None
        records = await result(call("GET", "compute/acct", token, params={"jobs": str(jobid)}), token)
        return next((record for record in records if record["state"] in states), None)

    return await async_wait_for(reached, timeout, interval=0.5, what=f"job {jobid} in one of {sorted(states)}")


async def marked_jobs(session, task_id: str) -> list[str]:
    """The jobs in the queue that the task submitted, asked of squeue as the task's user."""
    return await session.execute(FindMarkedJobs(session.account, marker_of(task_id)))


async def cancel_quietly(session, *jobids) -> None:
    await session.run(["scancel", "--", *map(str, jobids)])


async def exists(session, path: str) -> bool:
    return (await session.run(["test", "-e", path])).ok


async def read(session, path: str) -> str:
    done = await session.run(["cat", "--", path])
    assert done.ok, done.stderr
    return done.stdout
