"""Asynchronous tasks: the store (source of truth), the runner (work, resume, limits) and the event hub.

The service holds one `Tasks` as `service.tasks`; layers use `service.tasks.runner` to start tasks and
register resume handlers (see runner.py) and `service.tasks.events` to publish events (see events.py).
"""

from __future__ import annotations

from traitlets.config import Configurable

from . import codes
from .events import EventHub, TooManyStreams
from .model import Task
from .runner import TaskHandle, TaskRunner, TaskTakenOver
from .store import TaskStore, TaskStoreUnavailable

__all__ = ["EventHub", "Task", "TaskHandle", "TaskRunner", "TaskStore", "TaskStoreUnavailable", "TaskTakenOver",
           "Tasks", "TooManyStreams", "codes"]


class Tasks:
    """The store, the event hub and the runner of one service process, opened and closed together."""

    def __init__(self, parent: Configurable, url_prefix: str):
        self.store = TaskStore(url_prefix, parent=parent)
        self.events = EventHub(self.store, parent=parent)
        self.runner = TaskRunner(self.store, self.events, parent=parent)

    async def open(self) -> None:
        await self.store.open()
        await self.runner.open()

    async def close(self) -> None:
        await self.runner.close()
        await self.store.close()
