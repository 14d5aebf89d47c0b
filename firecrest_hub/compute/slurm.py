"""The Slurm implementation of `Scheduler`, for the REST API, the portal and the spawner alike.

    scheduler = SlurmScheduler(pool, parent=app)          # one per process
    session = await access.session_for(hub_user, system)   # who acts, where (firecrest_hub/access.py)
    jobid = await scheduler.submit(session, JobRequest(script=text, name="run 1"))
    job = await scheduler.look_up(session, jobid)          # one squeue of that job; the cache learns it
    await scheduler.cancel(session, jobid)

Commands that act (sbatch, scancel) or ask on the caller's behalf (sacct, scontrol) run as the
session's account. Queue reads never run per caller: `jobs()` and `job()` read the system's shared
`JobStateCache` (`scheduler.job_cache(system)`), which runs one `squeue` for all users per interval as
the system's `service_account`. Configure it as `c.JobStateCache.interval`. The one exception is
`look_up()`, one `squeue` of one job right after its submission, which the cache then serves."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from traitlets import Bool, Float, default

from ..config import System
from ..errors import FirecrestError, PermissionDenied, UnknownJob
from ..remote import ConnectionPool, RemoteSession
from .cache import JobStateCache
from .scheduler import (
    AccountingRecord, Job, JobRequest, Node, Partition, Reservation, Scheduler, SlurmAccount,
)
from .slurm_commands import (
    CancelJob, ReadAccounting, ReadQueue, RunInJob, ShowAccounts, ShowBatchScript, ShowNodes, ShowPartitions,
    ShowReservations, SubmitBatchJob,
)
from .validation import check_job_id

# The hub user named in the key id of the service account's certificates, so sshd logs say who.
CACHE_HUB_USER = "job-state-cache"


class SlurmScheduler(Scheduler):
    """Slurm over pooled SSH, as the user; the queue through one shared cache per system."""

    command_timeout = Float(
        min=1,
        help="""Seconds sbatch, scancel, squeue and scontrol may run before they are stopped. By default
        ConnectionPool.command_timeout, the limit of every other remote command: set this only where
        Slurm's commands need a limit of their own.""",
    ).tag(config=True)

    @default("command_timeout")
    def _default_command_timeout(self):
        return self.pool.command_timeout

    accounting_timeout = Float(
        60,
        min=1,
        help="Seconds sacct may run before it is stopped; the accounting database can be slow.",
    ).tag(config=True)

    all_users_jobs = Bool(
        False,
        help="""Whether a user may list every user's queued and running jobs (v2's `allusers`; other users'
        jobs without their files), as squeue shows them on a site without PrivateData=jobs. Off, each user
        sees only their own jobs and such a listing is refused.""",
    ).tag(config=True)

    def __init__(self, pool: ConnectionPool, **kwargs):
        super().__init__(**kwargs)
        self.pool = pool
        self._caches: dict[str, JobStateCache] = {}

    def job_cache(self, system: System) -> JobStateCache:
        """The one queue cache of `system`, made on first use."""
        cache = self._caches.get(system.name)
        if cache is None:
            cache = JobStateCache(lambda: self._read_queue(system), label=system.name, parent=self)
            self._caches[system.name] = cache
        return cache

    async def _read_queue(self, system: System) -> list[Job]:
        session = self.pool.session(system, system.service_account, CACHE_HUB_USER)
        return await session.execute(ReadQueue(timeout=self.command_timeout))

    async def submit(self, session: RemoteSession, request: JobRequest) -> str:
        command = SubmitBatchJob(request, timeout=self.command_timeout)
        return await session.execute(command)

    async def jobs(self, session: RemoteSession, *, jobids: Sequence[str] | None = None,
                   all_users: bool = False, newer_than: float | None = None) -> list[Job]:
        for jobid in jobids or ():
            check_job_id(jobid)
        cache = self.job_cache(session.system)
        if all_users and not self.all_users_jobs:
            raise PermissionDenied("listing every user's jobs is not allowed on this system "
                                   "(SlurmScheduler.all_users_jobs)")
        if all_users:
            snapshot = await cache.snapshot(newer_than)
            jobs = [job if job.user == session.account else job.without_files() for job in snapshot.jobs]
        else:
            jobs = await cache.jobs_of(session.account, newer_than)
        if jobids:
            wanted = set(jobids)
            jobs = [job for job in jobs if job.jobid in wanted]
        return jobs

    async def job(self, session: RemoteSession, jobid: str, *, newer_than: float | None = None) -> Job:
        check_job_id(jobid)
        job = await self.job_cache(session.system).job(jobid, newer_than)
        # Another user's job is answered like a missing one: its details (paths) are not the caller's.
        if job is None or job.user != session.account:
            raise UnknownJob(f"job {jobid} is not in the queue of system {session.system.name!r}")
        return job

    async def look_up(self, session: RemoteSession, jobid: str) -> Job:
        jobs = await session.execute(ReadQueue(jobids=[jobid], timeout=self.command_timeout))
        job = next((job for job in jobs if job.jobid == jobid and job.user == session.account), None)
        if job is None:
            raise UnknownJob(f"job {jobid} is not in the queue of system {session.system.name!r}")
        self.job_cache(session.system).learn(job)
        return job

    async def cancel(self, session: RemoteSession, jobid: str) -> None:
        await session.execute(CancelJob(jobid, timeout=self.command_timeout))
        # Readers of the cache (a client listing its jobs right after) see the job cancelled, not pending.
        with contextlib.suppress(FirecrestError):
            await self.look_up(session, jobid)

    async def batch_script(self, session: RemoteSession, jobid: str) -> str | None:
        return await session.execute(ShowBatchScript(jobid, timeout=self.command_timeout))

    async def attach(self, session: RemoteSession, jobid: str, command: str) -> None:
        await session.execute(RunInJob(jobid, command, timeout=self.command_timeout))

    async def accounting(self, session: RemoteSession, *, start_time: str | None = None,
                         end_time: str | None = None,
                         jobids: Sequence[str] | None = None) -> list[AccountingRecord]:
        command = ReadAccounting(session.account, start_time, end_time, jobids, timeout=self.accounting_timeout)
        return await session.execute(command)

    async def nodes(self, session: RemoteSession, names: Sequence[str] | None = None) -> list[Node]:
        return await session.execute(ShowNodes(names, timeout=self.command_timeout))

    async def partitions(self, session: RemoteSession, names: Sequence[str] | None = None) -> list[Partition]:
        partitions = await session.execute(ShowPartitions(timeout=self.command_timeout))
        return [partition for partition in partitions if not names or partition.name in names]

    async def reservations(self, session: RemoteSession,
                           names: Sequence[str] | None = None) -> list[Reservation]:
        reservations = await session.execute(ShowReservations(timeout=self.command_timeout))
        return [reservation for reservation in reservations if not names or reservation.name in names]

    async def accounts(self, session: RemoteSession) -> list[SlurmAccount]:
        return await session.execute(ShowAccounts(session.account, timeout=self.accounting_timeout))
