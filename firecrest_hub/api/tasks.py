"""tasks: v1's task endpoints, and a Server-Sent Events stream of the caller's task (and job) changes.

A user only ever sees their own tasks: another user's task id answers exactly like an unknown one.
"""

from __future__ import annotations

import asyncio
import logging
import re

from tornado.iostream import StreamClosedError

from ..tasks import TaskStoreUnavailable, TooManyStreams
from ..tasks.model import moment_of_event_id
from .base import APIError, APIHandler

log = logging.getLogger(__name__)

_TASK_ID = re.compile(r"^[0-9A-Za-z]{1,64}$")  # ours are 32 hex digits
_MAX_IDS = 1000
# Seconds a client told "too many streams" should wait before it tries again.
_RETRY_AFTER = 10
# Most seconds a stream waits for the hub to confirm its credential (it answers in milliseconds when up).
_CREDENTIAL_CHECK_TIMEOUT = 5.0


class TaskAPIHandler(APIHandler):
    def write_error(self, status_code: int, **kwargs) -> None:
        if status_code == 429:
            self.set_header("Retry-After", str(_RETRY_AFTER))
        super().write_error(status_code, **kwargs)

    @property
    def store(self):
        return self.service.tasks.store


class TasksHandler(TaskAPIHandler):
    async def get(self):
        """The caller's tasks, or those of them named in `?tasks=id1,id2` (other ids are left out, as in v1)."""
        tasks = await self.store.tasks_of(self.username, self._requested_ids())
        present = self.service.tasks.present
        self.write_json({"tasks": {task.id: await present(task) for task in tasks}})

    def _requested_ids(self) -> list[str] | None:
        value = self.get_query_argument("tasks", None)
        if value is None:
            return None
        ids = [part.strip() for part in value.split(",") if part.strip()]
        if len(ids) > _MAX_IDS:
            raise APIError(400, f"at most {_MAX_IDS} task ids at once", error="Failed to retrieve tasks information")
        bad = next((task_id for task_id in ids if not _TASK_ID.fullmatch(task_id)), None)
        if bad is not None:
            raise APIError(400, "'tasks' must be a comma-separated list of task ids",
                           error="Failed to retrieve tasks information")
        return ids


class TaskHandler(TaskAPIHandler):
    async def get(self, task_id: str):
        task = await self.store.get(self.username, task_id) if _TASK_ID.fullmatch(task_id) else None
        if task is None:
            raise APIError(404, f"Task {task_id} does not exist", error="Task does not exist")
        self.write_json({"task": await self.service.tasks.present(task)})


class TaskEventsHandler(TaskAPIHandler):
    """`text/event-stream`: `event: task` with v1's task object, `event: job` from the job-state cache.

    On connect: the tasks changed since `Last-Event-ID`, or without it the caller's unfinished tasks;
    then changes as they happen, and a comment line when quiet so that proxies keep the stream open.

    A stream lasts only while the hub accepts its credential: it is asked again while the stream is open,
    and the stream ends within `FirecrestService.credential_check_interval` seconds of a revocation or
    expiry, or of the hub no longer answering.
    """

    _stream = None
    _credential_refused = ""

    async def get(self):
        since = self._last_event_moment()
        # The hub's cached answer let this request in; the checks of the stream count from a fresh one.
        await self.reconfirm_credential()
        try:
            self._stream = stream = self.service.tasks.events.stream(self.username, since)
        except TooManyStreams as error:
            raise APIError(429, error.description) from None
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        watch = asyncio.ensure_future(self._end_when_credential_is_refused(stream))
        try:
            self.write("retry: 3000\n\n")
            await self.flush()
            async for event in stream:
                if self._credential_refused:
                    break
                self.write(": heartbeat\n\n" if event is None else event.sse())
                await self.flush()
            if self._credential_refused:
                self.write(f": ended: {self._credential_refused}\n\n")
        except (StreamClosedError, TaskStoreUnavailable):
            pass  # the client went away, or the store did (the client reconnects and catches up)
        finally:
            watch.cancel()
            stream.close()

    async def _end_when_credential_is_refused(self, stream) -> None:
        """Ask the hub about the stream's credential until it refuses or does not answer; then end the stream.

        A check starts every `interval - timeout` seconds and gives up after `timeout`, so the first check
        that begins after a revocation has its answer (or has failed) within `interval` of it.
        """
        interval = self.service.credential_check_interval
        timeout = min(_CREDENTIAL_CHECK_TIMEOUT, interval / 2)
        loop = asyncio.get_running_loop()
        next_check = loop.time()
        while True:
            next_check += interval - timeout
            await asyncio.sleep(next_check - loop.time())
            try:
                await asyncio.wait_for(self.reconfirm_credential(), timeout)
                continue
            except APIError as refusal:
                reason = refusal.description
            except TimeoutError:
                reason = f"the hub did not confirm the credential within {timeout:g} s"
            except Exception:  # a fault of the check must not leave the stream open unchecked
                log.exception("checking the credential of %s's event stream failed", self.username)
                reason = "the credential could not be checked"
            log.info("ending the event stream of %s: %s", self.username, reason)
            self._credential_refused = reason
            stream.close()
            return

    def on_connection_close(self):
        if self._stream is not None:
            self._stream.close()

    def _last_event_moment(self):
        value = self.request.headers.get("Last-Event-ID")
        if value is None:
            return None
        try:
            return moment_of_event_id(value.strip())
        except ValueError:
            raise APIError(400, "Last-Event-ID is not an id this stream sent") from None


routes = [
    (r"/tasks/?", TasksHandler),
    (r"/tasks/events", TaskEventsHandler),
    (r"/tasks/([^/]+)", TaskHandler),
]
