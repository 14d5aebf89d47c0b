"""Runs the work behind asynchronous tasks, and makes sure no task stays unfinished forever.

Starting a task (in a handler; answer v1's 201 with `task.creation_json()` once `start` returns):

    async def submit(handle: TaskHandle):
        session = ...                                  # from handle.user and handle.system
        await handle.remember(marker=marker)           # persisted: what a resume needs
        jobid = ...
        return {"result": "Job submitted", "jobid": jobid, ...}   # becomes `data` of status 200

    task = await service.tasks.runner.start(user, "compute", system.name, submit,
                                            kind="submit", params={"script": path})

The runner stores the task (100, queued), runs `work(handle)` in the background (101, in progress), then
records `success_status` (default 200) with the returned value as `data`, or `failure_status` (default
400) with a description: a typed error (`firecrest_hub.errors`) gives its description; anything else is
logged with its traceback and shown as "internal error". Every write is published to the owner's event
streams. A task past its maximum run time (`TaskRunner.max_run_time`, or `max_run_time=` per task) is
cancelled and failed with a reason.

Progress: `await handle.progress(status, data)` records an intermediate code (101, 110-113, 116) with its
`data`, e.g. staging: 110 waiting for the URL, then 111 with the presigned URL in `data`; start such a task
with `success_status="114", failure_status="115"` (upload) or `"117"`, `"118"` (download).
`await handle.remember(**params)` merges parameters into what a resume receives.

Resuming after a restart: register, during the service's initialization, one handler per kind:

    service.tasks.runner.on_resume("submit", resume_submit)

`resume_submit(handle)` has the signature of a work function and is called with `handle.resumed` true,
the task's current `status` and `data` and its remembered `params`; what it returns or raises finishes
the task as above (e.g. find the job by its marker and return its id; kinds that are safe to repeat may
register their work function itself). Unfinished tasks of a kind without a handler are failed with the
reason "interrupted by a service restart".

Replicas: each runner holds a lease on the tasks it runs and renews it every `lease / 3` seconds. An
unfinished task whose lease lapsed (its replica stopped or stalled) is taken over, atomically, by the
first runner to notice, at its start or on its periodic check, and is resumed or failed as above. A
stopping runner releases its leases, so the next one takes its tasks over at once; after a crash, within
`lease` seconds. A write from a runner that lost its lease is discarded, and its work is stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta
from typing import Any

from traitlets import Float
from traitlets.config import Configurable

from ..errors import FirecrestError
from . import codes
from .events import EventHub
from .model import Task, utcnow
from .store import TaskStore, TaskStoreUnavailable

log = logging.getLogger(__name__)

RESTART_REASON = "interrupted by a service restart"
INTERNAL_ERROR = "internal error"
_PURGE_EVERY = 3600.0


class TaskTakenOver(Exception):
    """The task was finished or taken over elsewhere; the work must stop without recording anything."""


class TaskHandle:
    """What a task's work sees: whose task it is, where it runs, what to resume from, and how to report."""

    def __init__(self, runner: "TaskRunner", task: Task, resumed: bool):
        self._runner = runner
        self._task = task
        self.resumed = resumed

    id = property(lambda self: self._task.id)
    user = property(lambda self: self._task.user)
    service = property(lambda self: self._task.service)
    system = property(lambda self: self._task.system)
    kind = property(lambda self: self._task.kind)
    status = property(lambda self: self._task.status)
    data = property(lambda self: self._task.data)
    params = property(lambda self: dict(self._task.params))

    async def progress(self, status: str, data: Any = None) -> None:
        """Record an intermediate status (not a final one: the runner records that) and its `data`
        (by default, as in v1, the status's description)."""
        if status not in codes.PROGRESS:
            raise ValueError(f"{status!r} is not a progress status; return or raise to finish the task")
        await self._write(status=status, data=data if data is not None else codes.DESCRIPTIONS[status])

    async def remember(self, **params: Any) -> None:
        """Persist parameters (JSON values) that a resume after a restart will find in `params`."""
        await self._write(status=self._task.status, params={**self._task.params, **params})

    async def _write(self, **changes: Any) -> None:
        task = await self._runner.store.update(self.id, self._runner.id, **changes)
        if task is None:
            raise TaskTakenOver(self.id)
        self._task = task
        self._runner.events.publish_task(task)
        self._runner.status_written(task)


Work = Callable[[TaskHandle], Awaitable[Any]]


class TaskRunner(Configurable):
    """Starts tasks, runs their work, resumes or fails what a stopped runner left unfinished."""

    max_run_time = Float(
        3600,
        min=0.1,
        help="""Seconds a task may run before it is stopped and failed (a start may ask for another limit,
        e.g. a staging transfer that waits for the client's upload).""",
    ).tag(config=True)

    lease = Float(
        30,
        min=0.1,
        help="""Seconds a runner's claim on its tasks lasts unless renewed (every third of it). After a
        crash, its unfinished tasks are resumed or failed by the next runner within this time.""",
    ).tag(config=True)

    def __init__(self, store: TaskStore, events: EventHub, **kwargs):
        super().__init__(**kwargs)
        self.store = store
        self.events = events
        self.id = f"{socket.gethostname()[:64]}-{os.getpid()}-{secrets.token_hex(4)}"
        self._resumers: dict[str, Work] = {}
        self._running: dict[str, asyncio.Task] = {}
        self._maintenance: asyncio.Task | None = None
        self._purged_at = 0.0
        # The starts that wait for their task to reach one of some statuses: task id -> (statuses, event).
        self._awaited: dict[str, tuple[Collection[str], asyncio.Event]] = {}

    def on_resume(self, kind: str, resume: Work) -> None:
        """Register how to continue an unfinished task of `kind` after a restart (one handler per kind)."""
        if kind in self._resumers and self._resumers[kind] is not resume:
            raise ValueError(f"a resume handler for task kind {kind!r} is registered already")
        self._resumers[kind] = resume

    async def start(self, user: str, service: str, system: str | None, work: Work, *, kind: str,
                    params: dict | None = None, max_run_time: float | None = None,
                    success_status: str = codes.FINISHED, failure_status: str = codes.FAILED,
                    wait: float = 0, until: Collection[str] = ()) -> Task:
        """Store a new task of `user` (status 100) and run `work` for it in the background. With `wait`,
        return once the work has finished, or its task has reached one of the statuses `until`, or `wait`
        seconds have passed, whichever comes first; the work goes on either way. The task returned is
        the one created."""
        if success_status not in codes.SUCCESS or failure_status not in codes.FAILURE:
            raise ValueError(f"unknown final statuses {success_status!r}, {failure_status!r}")
        run_time = max_run_time if max_run_time is not None else self.max_run_time
        now = utcnow()
        task = await self.store.create(
            user=user, service=service, system=system, kind=kind, params=dict(params or {}),
            deadline=now + timedelta(seconds=run_time), runner=self.id, lease_until=self._lease_end(),
            success_status=success_status, failure_status=failure_status,
        )
        self.events.publish_task(task)
        reached = asyncio.Event()
        if wait > 0 and until:
            self._awaited[task.id] = (until, reached)
        running = self._launch(task, work, resumed=False)
        if wait > 0:
            watching = asyncio.ensure_future(reached.wait())
            try:  # a timeout cancels neither the work nor anything else
                await asyncio.wait([running, watching], timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watching.cancel()
                self._awaited.pop(task.id, None)
        return task

    def status_written(self, task: Task) -> None:
        """Wakes the start waiting for `task` once it has reached a status that start waits for."""
        awaited = self._awaited.get(task.id)
        if awaited is not None and task.status in awaited[0]:
            awaited[1].set()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Take over what stopped runners left unfinished, then keep doing so periodically."""
        await self._maintain()
        self._maintenance = asyncio.create_task(self._maintain_forever(), name="task-maintenance")

    async def close(self) -> None:
        """Stop the work in progress without recording an outcome and release it for the next runner."""
        tasks = [t for t in (self._maintenance, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._maintenance = None
        try:
            await self.store.release(self.id)
        except TaskStoreUnavailable:
            log.warning("could not release the tasks of %s; they are taken over when its lease lapses", self.id)

    # -- running -----------------------------------------------------------------------------------

    def _launch(self, task: Task, work: Work, resumed: bool) -> asyncio.Task:
        running = asyncio.create_task(self._run(task, work, resumed), name=f"task-{task.id}")
        self._running[task.id] = running
        running.add_done_callback(lambda _: self._running.pop(task.id, None))
        return running

    async def _run(self, task: Task, work: Work, resumed: bool) -> None:
        handle = TaskHandle(self, task, resumed)
        budget = (task.deadline - utcnow()).total_seconds()
        try:
            try:
                async with asyncio.timeout(budget) as limit:
                    if not resumed:
                        await handle.progress(codes.IN_PROGRESS)
                    result = await work(handle)
                json.dumps(result)
            except TimeoutError:
                if not limit.expired():
                    raise
                await self._finish(handle, task.failure_status, _overdue_reason(task))
            except FirecrestError as error:
                await self._finish(handle, task.failure_status, error.description)
            else:
                await self._finish(handle, task.success_status, result)
        except TaskTakenOver:
            log.info("task %s was finished or taken over elsewhere; its work here stops", task.id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task %s (%s of %s) failed", task.id, task.kind, task.user)
            await self._finish(handle, task.failure_status, INTERNAL_ERROR)

    async def _finish(self, handle: TaskHandle, status: str, data: Any) -> None:
        # Outcomes are what the user waits for: retry a little when the database is briefly away; after
        # that the lease lapses and the task is failed or resumed as if this runner had stopped.
        for delay in (0.5, 2, 5, None):
            try:
                await handle._write(status=status, data=data)
                return
            except TaskTakenOver:
                return
            except TaskStoreUnavailable:
                if delay is None:
                    log.error("could not record the outcome of task %s", handle.id)
                    return
                await asyncio.sleep(delay)

    # -- maintenance -------------------------------------------------------------------------------

    def _lease_end(self):
        return utcnow() + timedelta(seconds=self.lease)

    async def _maintain_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self._maintain()
            except TaskStoreUnavailable:
                pass  # logged by the store; the next round tries again
            except Exception:
                log.exception("task maintenance failed")

    async def _maintain(self) -> None:
        if self._running:
            await self.store.renew(self.id, list(self._running), self._lease_end())
        for orphan in await self.store.orphans():
            task = await self.store.claim(orphan.id, self.id, self._lease_end())
            if task is not None:
                await self._take_over(task)
        # Tasks that outlived their deadline by a whole lease although a runner holds them (a stuck one).
        for task in await self.store.overdue(utcnow() - timedelta(seconds=self.lease)):
            if task.id not in self._running:
                failed = await self.store.fail(task.id, _overdue_reason(task))
                if failed is not None:
                    self.events.publish_task(failed)
        if time.monotonic() - self._purged_at > _PURGE_EVERY:
            self._purged_at = time.monotonic()
            purged = await self.store.purge()
            if purged:
                log.info("deleted %d finished tasks past their retention", purged)

    async def _take_over(self, task: Task) -> None:
        resume = self._resumers.get(task.kind)
        if task.deadline <= utcnow():
            reason = _overdue_reason(task)
        elif resume is None:
            reason = RESTART_REASON
        else:
            log.info("resuming task %s (%s of %s) at status %s", task.id, task.kind, task.user, task.status)
            self._launch(task, resume, resumed=True)
            return
        log.info("task %s (%s of %s) failed: %s", task.id, task.kind, task.user, reason)
        failed = await self.store.update(task.id, self.id, status=task.failure_status, data=reason)
        if failed is not None:
            self.events.publish_task(failed)


def _overdue_reason(task: Task) -> str:
    limit = round((task.deadline - task.created_at).total_seconds())
    return f"the task did not finish within its maximum run time ({limit} s)"
