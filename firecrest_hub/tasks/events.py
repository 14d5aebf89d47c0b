"""Events for a user's subscribers: task state changes, and whatever other layers publish (job states).

Publishing (from the event loop; never blocks, never fails the publisher):

    service.tasks.events.publish(user, "job", {"jobid": "42", "state": "RUNNING"})

Every task write of the runner is published as the event `task` with v1's task object as payload, as its
owner sees it at the moment it is sent (`present`: presigned URLs are signed then, never stored).

Subscribing: `events.stream(user, since)` is what `GET /tasks/events` sends. It starts from the store, the
source of truth: the user's tasks changed since `since` (a reconnecting client's `Last-Event-ID`), or else
their unfinished tasks; then live events. Task events carry the task's revision, so a stream never sends a
task state older than one it already sent.

Fan-out of live events is in-process: a replica's subscribers hear at once what that replica publishes.
Task changes made by other replicas (sharing the PostgreSQL store) reach them through the store: each
stream reads the user's recently changed tasks every `store_poll_interval` seconds. Published events that
are not tasks (job states) stay within the replica that published them. A subscriber that falls too far
behind is dropped; its client reconnects with `Last-Event-ID` and catches up from the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from traitlets import Float, Integer
from traitlets.config import Configurable

from ..errors import TooManyRequests
from .model import Task, event_id_at, utcnow
from .store import TaskStore

log = logging.getLogger(__name__)

# How far back a store poll looks beyond the previous one: writes commit a little after they take their
# time stamp, and replicas' clocks differ a little. Revisions discard what was already sent.
_POLL_OVERLAP = timedelta(seconds=5)


class TooManyStreams(TooManyRequests):
    """The user already has as many open event streams as allowed."""


Presenter = Callable[[Task], Awaitable[dict]]


async def as_stored(task: Task) -> dict:
    return task.to_json()


@dataclass(frozen=True)
class Event:
    name: str
    # A task event carries the Task until a stream presents it to its subscriber.
    payload: Any
    id: str
    # Set for task events: which task, and which of its writes.
    task_id: str | None = None
    revision: int = 0

    @classmethod
    def of_task(cls, task: Task) -> "Event":
        return cls("task", task, task.event_id, task.id, task.revision)

    def sse(self) -> str:
        """The event as a Server-Sent Events message (JSON never contains a raw newline)."""
        return f"id: {self.id}\nevent: {self.name}\ndata: {json.dumps(self.payload)}\n\n"


class _Subscription:
    def __init__(self, size: int):
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(size)
        self.closed = False

    def offer(self, event: Event) -> bool:
        try:
            self.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            # Wake the reader; the queue may be full (that is often why we close), so make room.
            while self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def next(self, timeout: float) -> Event | None:
        """The next event, or None after `timeout` seconds or once closed."""
        if not self.queue.empty():
            return self.queue.get_nowait()
        try:
            return await asyncio.wait_for(self.queue.get(), max(timeout, 0))
        except TimeoutError:
            return None


class EventHub(Configurable):
    """In-process fan-out of events to each user's open streams."""

    queue_size = Integer(
        1000,
        min=1,
        help="Events buffered per stream; a stream further behind is closed (its client reconnects).",
    ).tag(config=True)
    max_streams_per_user = Integer(
        10, min=1, help="Event streams one user may hold open at once.",
    ).tag(config=True)
    heartbeat_interval = Float(
        15,
        min=0.1,
        help="Seconds of silence after which a stream sends a comment, so proxies keep it open.",
    ).tag(config=True)
    store_poll_interval = Float(
        5,
        min=0,
        help="""Seconds between reads of the store by each stream, to pass on task changes made by other
        replicas. 0 turns it off (enough for a single replica).""",
    ).tag(config=True)
    max_stream_duration = Float(
        3600,
        min=1,
        help="""Seconds after which the service ends a stream; the client reconnects, which checks its token
        again.""",
    ).tag(config=True)

    def __init__(self, store: TaskStore, present: Presenter = as_stored, **kwargs):
        """`present` makes a task event's payload for its owner, when a stream sends it."""
        super().__init__(**kwargs)
        self.store = store
        self.present = present
        self._subscriptions: dict[str, set[_Subscription]] = defaultdict(set)

    def publish(self, user: str, event_name: str, payload: Any, event_id: str | None = None) -> None:
        """Send `payload` (anything JSON can encode) as event `event_name` to the user's open streams.

        `event_id` defaults to the current time, in the form `Last-Event-ID` expects back.
        """
        self._deliver(user, Event(event_name, payload, event_id or event_id_at(utcnow())))

    def publish_task(self, task: Task) -> None:
        self._deliver(task.user, Event.of_task(task))

    def streams(self, user: str) -> int:
        return len(self._subscriptions.get(user, ()))

    def stream(self, user: str, since: datetime | None = None) -> "EventStream":
        """A new stream of the user's events; TooManyStreams when they hold the maximum already."""
        if self.streams(user) >= self.max_streams_per_user:
            raise TooManyStreams(f"at most {self.max_streams_per_user} event streams at once; close one first")
        subscription = _Subscription(self.queue_size)
        self._subscriptions[user].add(subscription)
        return EventStream(self, user, subscription, since)

    def _deliver(self, user: str, event: Event) -> None:
        for subscription in list(self._subscriptions.get(user, ())):
            if not subscription.offer(event):
                log.warning("event stream of %s fell %d events behind; closing it", user, self.queue_size)
                subscription.close()

    def _forget(self, user: str, subscription: _Subscription) -> None:
        subscriptions = self._subscriptions.get(user)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscriptions[user]


class EventStream:
    """One subscriber's events, as an async iterator: an `Event`, or None when a heartbeat is due.

    `close()` (e.g. when the client went away) ends the iteration promptly.
    """

    def __init__(self, hub: EventHub, user: str, subscription: _Subscription, since: datetime | None):
        self.hub = hub
        self.user = user
        self.since = since
        self._subscription = subscription
        self._sent: dict[str, int] = {}
        self._events = None

    def __aiter__(self):
        if self._events is None:
            self._events = self._generate()
        return self._events

    def close(self) -> None:
        self._subscription.close()
        self.hub._forget(self.user, self._subscription)

    def _fresh(self, event: Event) -> bool:
        """Whether to send `event`: not a task state at or before one sent already."""
        if event.task_id is None:
            return True
        if self._sent.get(event.task_id, -1) >= event.revision:
            return False
        self._sent[event.task_id] = event.revision
        return True

    async def _presented(self, event: Event) -> Event:
        if event.task_id is None:
            return event
        return dataclasses.replace(event, payload=await self.hub.present(event.payload))

    async def _generate(self):
        hub, store, loop = self.hub, self.hub.store, asyncio.get_running_loop()
        try:
            polled_at = utcnow()
            initial = (await store.changed_since(self.user, self.since) if self.since is not None
                       else await store.unfinished(self.user))
            for task in initial:
                event = Event.of_task(task)
                if self._fresh(event):
                    yield await self._presented(event)
            now = loop.time()
            ends = now + hub.max_stream_duration
            next_heartbeat = now + hub.heartbeat_interval
            next_poll = now + hub.store_poll_interval if hub.store_poll_interval else float("inf")
            while not self._subscription.closed and now < ends:
                event = await self._subscription.next(min(next_heartbeat, next_poll, ends) - now)
                now = loop.time()
                if event is not None and self._fresh(event):
                    next_heartbeat = now + hub.heartbeat_interval
                    yield await self._presented(event)
                if now >= next_poll:
                    next_poll = now + hub.store_poll_interval
                    since, polled_at = polled_at - _POLL_OVERLAP, utcnow()
                    for task in await store.changed_since(self.user, since):
                        event = Event.of_task(task)
                        if self._fresh(event):
                            next_heartbeat = now + hub.heartbeat_interval
                            yield await self._presented(event)
                if now >= next_heartbeat:
                    next_heartbeat = now + hub.heartbeat_interval
                    yield None
                now = loop.time()
        finally:
            self.close()
