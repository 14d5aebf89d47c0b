"""The work of a download task (system -> object store -> client), statuses 116 -> 117, or 118 with the
reason: the system pushes the file as the user (large files in parts, several streams side by side), the
service checks the object's size, and 117 carries `data.url`, a presigned GET signed whenever the owner
reads the task (external.py's view, never stored), valid until ObjectStore.url_lifetime seconds after the push.
The object stays until `invalidate`, the sweep after its URL expired, or the bucket's lifecycle rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from ..errors import FirecrestError
from ..remote import RemoteSession
from ..tasks import TaskHandle, codes
from .batch import JobLogs
from .commands import PushFile, PushParts, StagingFailed
from .objectstore import ObjectStore, plan_parts
from .transfer import TransferKind


class Downloads(TransferKind):
    """Runs (and, after a restart, resumes) download tasks."""

    def success_message(self, params: dict) -> str:
        return f"File was successfully staged for download: {params['size']} bytes of {params['source']}"

    async def submit_watched(self, user: str, system: str, params: dict, logs: JobLogs,
                             account: str | None = None) -> dict:
        """Submit the job that pushes the file of the download with `params`, for a client to watch (v2)."""
        session = await self.runner.session_of(user, system)
        budget = self.settings.transfer_time(params["size"])
        if params["size"] <= self.objects.multipart_threshold:
            return await self.runner.submit_watched(session, [await self._push_command(params, budget)], budget, logs,
                                                    account)
        started = {"upload_id": await self.objects.start_multipart(params["key"])}
        try:
            commands = await self._part_commands({**params, **started}, budget)
            return {**started, **await self.runner.submit_watched(session, commands, budget, logs, account)}
        except BaseException:
            with contextlib.suppress(FirecrestError):  # else the lifecycle rule removes it
                await self.discard({**params, **started})
            raise

    async def transfer(self, handle: TaskHandle):
        settings, objects, params = self.settings, self.objects, handle.params
        source, size, key = params["source"], params["size"], params["key"]
        data = {"source": source, "system_name": handle.system, "msg": codes.DESCRIPTIONS[codes.DOWNLOAD_STARTED],
                "bytes_done": 0, "bytes_total": size}
        await handle.progress(codes.DOWNLOAD_STARTED, data)
        budget = settings.transfer_time(size)
        try:
            session = await self.runner.session(handle)
            if size > objects.multipart_threshold:
                await self._push_parts(handle, session, data, budget)
            else:
                await self.runner.run(handle, session, [await self._push_command(params, budget)], size, _no_progress)
            staged = await objects.size(key)
            if staged != size:
                raise StagingFailed(f"the staged object has {staged} bytes, but {source} had {size} when the "
                                    "download began; was the file changed meanwhile?")
        except asyncio.CancelledError:
            raise  # stopped: a resume pushes again (or waits for the push job)
        except BaseException:
            await self.discard_quietly(handle)
            raise
        return {**data, "msg": codes.DESCRIPTIONS[codes.DOWNLOAD_FINISHED], "bytes_done": size, "size": size,
                "url_expires_at": time.time() + objects.url_lifetime}

    async def discard(self, params: dict) -> None:
        if params.get("upload_id"):  # pushed in parts
            await self.objects.abort_multipart(params["key"], params["upload_id"])
        await self.objects.delete(params["key"])

    async def _push_parts(self, handle: TaskHandle, session: RemoteSession, data: dict, budget: float) -> None:
        settings, objects, params = self.settings, self.objects, handle.params
        key, size = params["key"], params["size"]
        upload_id = params.get("upload_id")
        if upload_id is None:
            upload_id = await objects.start_multipart(key)
            await handle.remember(upload_id=upload_id)
        commands = await self._part_commands({**params, "upload_id": upload_id}, budget)
        plan = plan_parts(size, settings.part_size_for(size))

        async def progress():
            done = await _pushed_bytes(objects, key, upload_id)
            if done != handle.data.get("bytes_done"):
                await handle.progress(codes.DOWNLOAD_STARTED, {**data, "bytes_done": done})

        await self.runner.run(handle, session, commands, size, progress)
        uploaded = await objects.uploaded_parts(key, upload_id)
        wrong = [part.number for part in plan if uploaded.get(part.number, (None,))[0] != part.size]
        if wrong:
            raise StagingFailed(f"{len(wrong)} parts did not reach the object store in full (first: {wrong[0]})")
        etags = {part.number: uploaded[part.number][1] for part in plan}
        await objects.complete_multipart(key, upload_id, etags)

    async def _push_command(self, params: dict, budget: float) -> PushFile:
        url = await self.objects.put_url(params["key"], lifetime=budget, size=params["size"])
        return PushFile(url, params["source"], self.settings.limits, timeout=budget)

    async def _part_commands(self, params: dict, budget: float) -> list[PushParts]:
        """The streams that push the file of a download in parts, to the multipart upload `upload_id`."""
        settings, key, size = self.settings, params["key"], params["size"]
        plan = plan_parts(size, settings.part_size_for(size))
        streams: list[list[tuple[int, int, int, str]]] = [[] for _ in range(min(settings.parallel_streams, len(plan)))]
        for index, part in enumerate(plan):
            url = await self.objects.part_url(key, params["upload_id"], part.number, lifetime=budget, size=part.size)
            streams[index % len(streams)].append((part.number, part.offset, part.size, url))
        return [PushParts(params["source"], stream, settings.limits, timeout=budget) for stream in streams]


async def _no_progress() -> None:
    """A single PUT tells nothing until it is done."""


async def _pushed_bytes(objects: ObjectStore, key: str, upload_id: str) -> int:
    """Bytes in the parts pushed so far (0 while the store cannot tell)."""
    with contextlib.suppress(FirecrestError):
        parts = await objects.uploaded_parts(key, upload_id)
        return sum(size for size, _ in parts.values())
    return 0
