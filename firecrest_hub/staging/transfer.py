"""What each kind of external transfer (upload.py, download.py) is given instead of the whole `Staging`:
the settings it needs, the object store and the way onto the systems; and how it drops what it staged."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import FirecrestError
from ..tasks import TaskHandle
from .commands import CurlLimits
from .objectstore import MAX_SINGLE_PUT, MiB, ObjectStore

if TYPE_CHECKING:
    from .runner import SystemRunner

log = logging.getLogger(__name__)

# Each stream of a transfer in parts moves about this many parts.
_PARTS_PER_STREAM = 8


@dataclass(frozen=True)
class TransferSettings:
    """The Staging settings a transfer reads (see their help there), and the store's smallest part."""

    job_threshold: int
    parallel_streams: int
    poll_backoff: float
    max_poll_interval: float
    progress_interval: float
    min_transfer_rate: int
    stall_timeout: int
    outage_grace: float
    niceness: int
    min_part_size: int

    def transfer_time(self, size: int) -> float:
        """Seconds a transfer of `size` bytes is given: 5 minutes plus the size at min_transfer_rate."""
        return 300 + size / self.min_transfer_rate

    def part_size_for(self, size: int) -> int:
        """Parts of at least min_part_size, larger for big files, so that each stream moves about eight
        (every part costs requests of its own, and on the system a curl), but at most what one PUT carries."""
        wanted = max(self.min_part_size, size // (self.parallel_streams * _PARTS_PER_STREAM))
        return min(-(-wanted // MiB) * MiB, MAX_SINGLE_PUT)

    @property
    def limits(self) -> CurlLimits:
        return CurlLimits(stall_time=self.stall_timeout)


class TransferKind:
    """The work of one kind of transfer task, run (and resumed) with its settings, store and runner."""

    def __init__(self, settings: TransferSettings, objects: ObjectStore, runner: SystemRunner):
        self.settings, self.objects, self.runner = settings, objects, runner

    async def run(self, handle: TaskHandle):
        """The task's work: the transfer, whose outcome a job that a client watches then reports."""
        try:
            result = await self.transfer(handle)
        except asyncio.CancelledError:
            raise  # stopped: a resume goes on with the same job
        except BaseException as error:
            await self._confirm(handle, getattr(error, "description", None) or "the transfer was stopped")
            raise
        await self._confirm(handle, None)
        return result

    async def transfer(self, handle: TaskHandle):
        raise NotImplementedError

    def success_message(self, params: dict) -> str:
        """What the output of a job that a client watches says once the transfer is complete."""
        raise NotImplementedError

    async def _confirm(self, handle: TaskHandle, failure: str | None) -> None:
        if "job_logs" not in handle.params:
            return
        try:
            await self.runner.confirm(handle, failure, self.success_message(handle.params))
        except FirecrestError as error:
            log.warning("could not end the transfer job of task %s (it ends at its time limit): %s",
                        handle.id, error.description)

    async def discard(self, params: dict) -> None:
        """Delete what a task with these params staged in the store."""
        raise NotImplementedError

    async def discard_quietly(self, handle: TaskHandle) -> None:
        try:
            await self.discard(handle.params)
        except FirecrestError as error:
            log.warning("could not remove the staged object of task %s (the lifecycle rule will): %s",
                        handle.id, error.description)
