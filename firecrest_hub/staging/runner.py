"""Running the cluster side of a staging transfer as the task's owner: over the pooled SSH connection,
or, for big files, as one Slurm job on the system's transfer partition (batch.py), so that long
transfers run where the centre wants them and survive a restart of the service.

Either way the caller gets the commands' own verdict (their `parse`), and a progress callback is called
every `progress_interval` seconds while they run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence

from ..access import Access
from ..remote import RemoteCommand, RemoteSession
from ..tasks import TaskHandle
from .batch import JobLogs, Progress, TransferJob
from .commands import Niced
from .transfer import TransferSettings


async def run_with_progress(work: Awaitable, progress: Progress, interval: float):
    """Await `work`, calling `progress()` every `interval` seconds until it is done."""
    running = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({running}, timeout=interval)
            if done:
                return running.result()
            await progress()
    finally:
        if not running.done():
            running.cancel()
            with contextlib.suppress(BaseException):
                await running


async def run_over_ssh(session: RemoteSession, commands: Sequence[RemoteCommand], progress: Progress,
                       interval: float) -> None:
    """Run the commands side by side, each on its own channel; the first failure is raised."""
    results = await run_with_progress(
        asyncio.gather(*(session.run(c.argv(), stdin=c.stdin(), timeout=c.timeout) for c in commands)),
        progress, interval)
    for command, result in zip(commands, results):
        command.parse(result)


class SystemRunner:
    """Runs the transfer commands of a task on its system, as the account the policy admits for its owner."""

    def __init__(self, settings: TransferSettings, access: Access):
        self.settings, self.access = settings, access

    async def session_of(self, user: str, system: str) -> RemoteSession:
        return await self.access.session_for(user, self.access.system(system))

    async def session(self, handle: TaskHandle) -> RemoteSession:
        """The task owner's session on the task's system."""
        return await self.session_of(handle.user, handle.system)

    async def submit_watched(self, session: RemoteSession, commands: list[RemoteCommand], time_limit: float,
                             logs: JobLogs, account: str | None) -> dict:
        """Submit the commands as a job that a client watches (writing `logs`), charged to `account`; the
        params that make the task's run pick it up."""
        job = await TransferJob.submit(self.access.scheduler, session, self._niced(commands), time_limit, logs, account)
        return {"jobid": job.jobid, "job_token": job.token, "job_logs": {"output": logs.output, "error": logs.error}}

    async def run(self, handle: TaskHandle, session: RemoteSession, commands: list[RemoteCommand], size: int,
                  progress: Progress, time_limit: float | None = None) -> None:
        """Run the commands: as a Slurm job for big files where the system has a transfer partition
        (picking up the job of a previous run, or one a client watches), else over SSH. A job's time
        limit is `time_limit`, by default the transfer time of `size` bytes."""
        settings = self.settings
        commands = self._niced(commands)
        job = self._picked_up_job(handle, session, commands[0])
        if job is None:
            if not (session.system.transfer_partition and size >= settings.job_threshold):
                return await run_over_ssh(session, commands, progress, settings.progress_interval)
            job = await TransferJob.submit(self.access.scheduler, session, commands,
                                           time_limit or settings.transfer_time(size))
            await handle.remember(jobid=job.jobid, job_token=job.token)
        try:
            await job.wait(progress, settings.progress_interval)
        except asyncio.CancelledError:
            raise  # stopped: a resume waits for the same job (or abandon stops it)
        except BaseException:
            await job.cancel()
            raise
        if job.logs is not None:
            return  # the job waits for the task's outcome (confirm)
        # Done with: a later resume must not wait for this job again.
        await handle.remember(jobid=None, job_token=None)
        await job.remove_files()

    async def abandon(self, handle: TaskHandle, session: RemoteSession) -> None:
        """Cancel the transfer job of a task that failed while its job still ran."""
        job = self._picked_up_job(handle, session, None)
        if job is not None and job.logs is None:
            await job.cancel()

    async def confirm(self, handle: TaskHandle, failure: str | None, message: str) -> None:
        """End the job a client watches, if the task has one: with `message` in its output, or, when the
        task failed, with `failure` in its error log. A job still moving data is cancelled then."""
        session = await self.session(handle)
        job = self._picked_up_job(handle, session, None)
        if job is None or job.logs is None:
            return
        if await job.moved():
            await job.confirm(failure, message)
        else:
            await job.cancel(failure or "stopped")
        await job.remove_files()

    def _niced(self, commands: list[RemoteCommand]) -> list[RemoteCommand]:
        return [Niced(command, self.settings.niceness) for command in commands]

    def _picked_up_job(self, handle: TaskHandle, session: RemoteSession, command) -> TransferJob | None:
        params = handle.params
        jobid, token, logs = params.get("jobid"), params.get("job_token"), params.get("job_logs")
        if not (jobid and token):
            return None
        return TransferJob(self.access.scheduler, session, command, jobid, token, logs and JobLogs(**logs))
