"""Job state changes pushed to their owners' event streams (`event: job` on `GET /tasks/events`).

The publisher reads no queue of its own: it watches each system's shared job-state cache and, whenever the
cache has read the queue (for an API request, a portal page, a spawner poll), compares that snapshot with
the previous one. A job that is new or whose state changed is published to the hub users of its account
who have an event stream open; nobody subscribed, nothing is sent. So events cost no squeue at all; they
come as often as something reads the queue, at most once per cache interval.

Payload: the job as `GET /compute/jobs` shows it (without output tails), plus `system` and `previous_state`
(null for a job seen for the first time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from traitlets import Float
from traitlets.config import Configurable

from ..access import Access
from ..compute import QueueSnapshot
from ..config import System
from ..errors import FirecrestError
from ..tasks import EventHub
from .views import job_record

log = logging.getLogger(__name__)


class JobEventPublisher(Configurable):
    """Watches every system's job-state cache and publishes the changes it sees (see above)."""

    check_interval = Float(
        0.5,
        min=0.05,
        help="""Seconds between looks at the job-state caches for a new queue snapshot. Looking reads no
        queue; keep it well below JobStateCache.interval so that no snapshot is missed.""",
    ).tag(config=True)

    def __init__(self, access: Access, events: EventHub, **kwargs):
        super().__init__(**kwargs)
        self.access, self.events = access, events
        # Per system: how many queue reads its cache had made when we last looked, and the job states then.
        self._reads_seen: dict[str, int] = {}
        self._states: dict[str, dict[str, str]] = {}
        self._watcher: asyncio.Task | None = None

    def start(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="job-events")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            for system in self.access.systems.all():
                try:
                    await self._check(system)
                except Exception:
                    log.exception("publishing the job states of %s failed", system.name)

    async def _check(self, system: System) -> None:
        cache = self.access.scheduler.job_cache(system)
        if cache.queue_reads == self._reads_seen.get(system.name, 0):
            return
        self._reads_seen[system.name] = cache.queue_reads
        try:
            # The read just made (or still in flight, which this then shares): no queue read of our own.
            snapshot = await cache.snapshot()
        except FirecrestError:
            return  # the cache logged it; the next read will tell
        await self._publish_changes(system, snapshot)

    async def _publish_changes(self, system: System, snapshot: QueueSnapshot) -> None:
        before = self._states.get(system.name)
        self._states[system.name] = {job.jobid: job.state for job in snapshot.jobs}
        if before is None:
            return  # the first snapshot is the baseline
        subscribers: dict[str, list[str]] = {}
        for job in snapshot.jobs:
            previous = before.get(job.jobid)
            if previous == job.state:
                continue
            if job.user not in subscribers:
                subscribers[job.user] = await self._subscribed_hub_users(job.user, system)
            for hub_user in subscribers[job.user]:
                payload = {"system": system.name, "previous_state": previous, **job_record(job)}
                self.events.publish(hub_user, "job", payload)

    async def _subscribed_hub_users(self, account: str, system: System) -> list[str]:
        """The hub users acting as `account` on the system who have an event stream open."""
        if not any(self.events.streams(hub_user) for hub_user in self.access.accounts.candidates_for(account, system)):
            return []
        return [hub_user for hub_user in await self.access.hub_users_for(account, system)
                if self.events.streams(hub_user)]
