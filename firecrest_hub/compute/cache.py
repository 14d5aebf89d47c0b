"""One shared view of a system's job queue, refreshed on demand, at most once per interval.

Every API request, portal page and spawner poll reads the queue through here, so a system sees one
`squeue` (for all users) per interval however many readers there are, instead of one per user,
request or notebook.

How a read goes (`await cache.snapshot()`):

- a snapshot younger than `interval` is returned at once;
- otherwise one refresh runs and every reader that arrives meanwhile awaits that same refresh
  (single flight): 50 concurrent readers cost one `squeue`;
- `newer_than=t` (a `time.monotonic()` value) asks for a snapshot whose refresh started after `t`,
  e.g. for a spawner that has just submitted a job. It still never starts refreshes more often than
  once per `interval`: the reader waits for the next allowed refresh, which it shares with everyone.
- when a refresh fails, readers keep getting the previous snapshot (its `age` tells how old) until it
  is `stale_tolerance` intervals old; after that they get the error (SchedulerUnavailable,
  ClusterUnreachable...). A transient failure must not look like "every job vanished". Readers that
  asked for `newer_than` get the error at once, since an older snapshot cannot answer them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from traitlets import Float
from traitlets.config import Configurable

from ..errors import FirecrestError
from .scheduler import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSnapshot:
    """The queue as one `squeue` saw it; `taken_at` is the `time.monotonic()` when that read started."""

    jobs: tuple[Job, ...]
    taken_at: float
    _by_id: dict[str, Job] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_id", {job.jobid: job for job in self.jobs})

    @property
    def age(self) -> float:
        return time.monotonic() - self.taken_at

    def job(self, jobid: str) -> Job | None:
        return self._by_id.get(jobid)

    def with_jobs(self, jobs: Sequence[Job]) -> "QueueSnapshot":
        """This snapshot with `jobs` added (or replacing the records of the same ids), as old as it is."""
        added = {job.jobid for job in jobs}
        return QueueSnapshot(tuple(job for job in self.jobs if job.jobid not in added) + tuple(jobs), self.taken_at)

    def of_user(self, user: str) -> list[Job]:
        return [job for job in self.jobs if job.user == user]


class JobStateCache(Configurable):
    """The queue of one system, read through `read_queue` (one scheduler call for all users).

    `label` names the system in log messages.
    """

    interval = Float(
        5.0,
        min=0.1,
        help="""Seconds a queue snapshot is served before the next read of the queue (at least 0.1). The
        queue is read at most once per interval per system, whatever the number of readers.""",
    ).tag(config=True)

    stale_tolerance = Float(
        3.0,
        min=1.0,
        help="""When reading the queue fails, the last snapshot is still served until it is this many
        intervals old (at least 1); after that readers get the error.""",
    ).tag(config=True)

    def __init__(self, read_queue: Callable[[], Awaitable[Sequence[Job]]], label: str = "", **kwargs):
        super().__init__(**kwargs)
        self._read_queue = read_queue
        self.label = label
        self._snapshot: QueueSnapshot | None = None
        self._refresh: asyncio.Task | None = None
        self._last_started: float | None = None
        self._last_error: FirecrestError | None = None
        # Jobs a caller has seen since the last queue read started (just submitted ones): jobid -> (when, job).
        self._learned: dict[str, tuple[float, Job]] = {}
        # How many times the queue was read (one squeue each): what the benchmark checks.
        self.queue_reads = 0

    async def snapshot(self, newer_than: float | None = None) -> QueueSnapshot:
        while True:
            current = self._snapshot
            if current is not None and self._serves(current, newer_than):
                return current
            if self._refresh is None and self._last_error is not None and self._next_refresh_delay() > 0:
                # The last read failed moments ago; retrying before the interval is up would let a
                # crowd of readers hammer a scheduler that is already in trouble.
                return self._fallback(newer_than, self._last_error)
            if self._refresh is None:
                self._refresh = asyncio.get_running_loop().create_task(self._run_refresh())
            try:
                # Shielded: one reader giving up must not cancel the read the others are waiting for.
                await asyncio.shield(self._refresh)
            except FirecrestError as error:
                return self._fallback(newer_than, error)

    async def jobs_of(self, user: str, newer_than: float | None = None) -> list[Job]:
        return (await self.snapshot(newer_than)).of_user(user)

    async def job(self, jobid: str, newer_than: float | None = None) -> Job | None:
        return (await self.snapshot(newer_than)).job(jobid)

    def learn(self, job: Job) -> None:
        """Serve `job`, which a caller has just read from the scheduler itself (a submission), from now
        on: readers see a new job at once instead of after the next queue read. A queue read that
        started after this moment tells the truth about it again."""
        self._learned[job.jobid] = (time.monotonic(), job)
        if self._snapshot is not None:
            self._snapshot = self._snapshot.with_jobs([job])

    def _serves(self, snapshot: QueueSnapshot, newer_than: float | None) -> bool:
        return snapshot.age < self.interval and (newer_than is None or snapshot.taken_at > newer_than)

    def _next_refresh_delay(self) -> float:
        if self._last_started is None:
            return 0.0
        return max(0.0, self._last_started + self.interval - time.monotonic())

    def _fallback(self, newer_than: float | None, error: FirecrestError) -> QueueSnapshot:
        current = self._snapshot
        if newer_than is None and current is not None and current.age < self.interval * self.stale_tolerance:
            return current
        # A fresh exception per reader: re-raising one shared instance would grow its traceback
        # with every reader for as long as the outage lasts.
        raise type(error)(error.description) from error

    async def _run_refresh(self) -> None:
        try:
            await asyncio.sleep(self._next_refresh_delay())
            started = self._last_started = time.monotonic()
            self.queue_reads += 1
            try:
                jobs = await self._read_queue()
            except FirecrestError as error:
                log.warning("reading the job queue of %s failed: %s", self.label or "a system", error.description)
                self._last_error = error
                raise
            # A read that started before a job was learned may have missed it: that job stays served.
            self._learned = {jobid: entry for jobid, entry in self._learned.items() if entry[0] >= started}
            known = {job.jobid for job in jobs}
            missed = [job for _, job in self._learned.values() if job.jobid not in known]
            self._snapshot = QueueSnapshot(tuple(jobs) + tuple(missed), started)
            self._last_error = None
        finally:
            self._refresh = None
