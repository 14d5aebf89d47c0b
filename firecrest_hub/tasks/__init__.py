"""Asynchronous tasks: the store (source of truth), the runner (work, resume, limits) and the event hub.

The service holds one `Tasks` as `service.tasks`; layers use `service.tasks.runner` to start tasks and
register resume handlers (see runner.py) and `service.tasks.events` to publish events (see events.py).
A kind whose tasks hand out credentials (staging's presigned URLs) registers a view with `on_present`:
the credential is made when the owner reads the task (`present`, for the API and the event streams),
from what the store holds (an object key), so the store never holds one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from traitlets.config import Configurable

from . import codes
from .events import EventHub, TooManyStreams
from .model import Task
from .runner import TaskHandle, TaskRunner, TaskTakenOver
from .store import TaskStore, TaskStoreUnavailable

__all__ = ["EventHub", "Task", "TaskHandle", "TaskRunner", "TaskStore", "TaskStoreUnavailable", "TaskTakenOver",
           "Tasks", "TooManyStreams", "codes"]


View = Callable[[Task, dict], Awaitable[dict]]


class Tasks:
    """The store, the event hub and the runner of one service process, opened and closed together."""

    def __init__(self, parent: Configurable, url_prefix: str):
        self.store = TaskStore(url_prefix, parent=parent)
        self.events = EventHub(self.store, present=self.present, parent=parent)
        self.runner = TaskRunner(self.store, self.events, parent=parent)
        self._views: dict[str, View] = {}

    def on_present(self, kind: str, view: View) -> None:
        """Register how tasks of `kind` look to their owner: `view(task, v1 object) -> v1 object`."""
        self._views[kind] = view

    async def present(self, task: Task) -> dict:
        """v1's task object as its owner sees it now."""
        body = task.to_json()
        view = self._views.get(task.kind)
        return await view(task, body) if view else body

    async def open(self) -> None:
        await self.store.open()
        await self.runner.open()

    async def close(self) -> None:
        await self.runner.close()
        await self.store.close()
