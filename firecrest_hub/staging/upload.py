"""The work of an upload task (client -> object store -> system), statuses 110 -> 111 -> 112 -> 113 -> 114,
or 115 with the reason.

    110  the task has its key (and, when the client announced a large size, a multipart upload)
    111  `data.msg` holds what the client needs: v1's `command` and `parameters` (one presigned PUT), or
         `multipart` (part URLs from GET upload/parts, then POST upload/complete)
    112  the object has arrived: looked for with HEAD soon and often, backing off as the wait grows
    113  the system fetches it as the user (over SSH, or as a Slurm job for big files; large objects in
         byte ranges side by side) into a hidden temporary file beside the target, whose size (and sha256,
         if the client gave one) is checked before it is renamed into place
    114  done; the staged object is deleted
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import shlex
from typing import TYPE_CHECKING

import asyncssh

from ..errors import FirecrestError
from ..filesystem.sftp_ops import guarded
from ..remote import RemoteSession
from ..tasks import TaskHandle, TaskTakenOver, codes
from .commands import AllocatedBytes, FetchObject, FetchRanges, Sha256, StagingFailed
from .objectstore import MAX_SINGLE_PUT, ObjectStoreUnavailable, plan_parts

if TYPE_CHECKING:
    from .workflows import Staging

PARTS_PATH = "/storage/xfer-external/upload/parts"
COMPLETE_PATH = "/storage/xfer-external/upload/complete"
# How often a waiting upload asks the task store whether its task was invalidated (on any replica).
_OWNER_CHECK_EVERY = 5.0


class Uploads:
    """Runs (and, after a restart, resumes) upload tasks with the settings and store of `staging`."""

    def __init__(self, staging: "Staging"):
        self.staging = staging

    async def run(self, handle: TaskHandle):
        try:
            session = self.staging.session(handle)
            if handle.status in (codes.QUEUED, codes.IN_PROGRESS, codes.UPLOAD_URL_WAITING):
                await self._issue(handle)
            if handle.status == codes.UPLOAD_URL_RECEIVED:
                size = await self._await(handle)
            else:  # resumed after the object had arrived
                size = await self.staging.objects.size(handle.params["key"])
                if size is None:
                    raise StagingFailed("the staged object is gone; start a new upload")
            msg = handle.data.get("msg") if isinstance(handle.data, dict) else None
            await handle.progress(codes.UPLOAD_CONFIRMED, self._data(
                handle, codes.UPLOAD_CONFIRMED, msg, bytes_done=0, bytes_total=size))
            return await self._fetch(handle, session, size)
        except asyncio.CancelledError:
            raise  # stopped: a resume continues, or the lifecycle rule removes the object
        except BaseException:
            await self.staging.discard_quietly(handle)
            raise
        finally:
            self.staging.arrivals.pop(handle.id, None)

    def _data(self, handle: TaskHandle, status: str, msg, **extra) -> dict:
        params = handle.params
        return {"user": handle.user, "system_name": handle.system, "source": params["source"],
                "target": params["target"], "status": status, "hash_id": handle.id, "msg": msg, **extra}

    async def _issue(self, handle: TaskHandle) -> None:
        params = handle.params
        size = params["size"]
        await handle.progress(codes.UPLOAD_URL_WAITING, self._data(
            handle, codes.UPLOAD_URL_WAITING, codes.DESCRIPTIONS[codes.UPLOAD_URL_WAITING], bytes_total=size))
        if params["multipart"]:
            if params.get("upload_id") is None:
                await handle.remember(upload_id=await self.staging.objects.start_multipart(params["key"]))
            plan = plan_parts(size, params["part_size"])
            msg = {"multipart": {"part_size": plan[0].size, "part_count": len(plan), "method": "PUT",
                                 "parts": PARTS_PATH, "complete": COMPLETE_PATH}}
        else:
            url = await self.staging.objects.put_url(params["key"], public=True)
            msg = {
                "command": shlex.join(["curl", "--fail", "--silent", "--show-error", "--upload-file",
                                       params["source"], url]),
                "parameters": {"method": "PUT", "url": url, "data": {}, "files": params["source"], "json": {},
                               "params": {}, "headers": {}},
            }
        await handle.progress(codes.UPLOAD_URL_RECEIVED, self._data(
            handle, codes.UPLOAD_URL_RECEIVED, msg, bytes_done=0, bytes_total=size))

    async def _await(self, handle: TaskHandle) -> int:
        """The size of the uploaded object, once it is there; fails when it does not come in time."""
        staging, params = self.staging, handle.params
        arrived = staging.arrivals.setdefault(handle.id, asyncio.Event())
        loop = asyncio.get_running_loop()
        started = owner_checked = progress_at = loop.time()
        give_up = started + staging.objects.url_lifetime + staging.transfer_time(params["size"] or MAX_SINGLE_PUT)
        outage_since = None
        bytes_done = 0
        while True:
            try:
                size = await staging.objects.size(params["key"])
                outage_since = None
            except ObjectStoreUnavailable as error:
                outage_since = outage_since or loop.time()
                if loop.time() - outage_since > staging.outage_grace:
                    raise StagingFailed(f"{error.description}; the upload was given up") from None
                size = None
            now = loop.time()
            if size is not None:
                if params["size"] is not None and size != params["size"]:
                    raise StagingFailed(f"the staged object has {size} bytes, not the {params['size']} announced")
                return size
            if now > give_up:
                raise StagingFailed(f"no file arrived in the staging area within {round(now - started)} s; "
                                    "start a new upload")
            if now - owner_checked >= _OWNER_CHECK_EVERY:
                owner_checked = now
                current = await staging.tasks.store.get(handle.user, handle.id)
                if current is None or current.finished:
                    raise TaskTakenOver(handle.id)
            if params.get("upload_id") and outage_since is None and now - progress_at >= staging.progress_interval:
                progress_at = now
                done = await staging.uploaded_bytes(params)
                if done != bytes_done:
                    bytes_done = done
                    await handle.progress(codes.UPLOAD_URL_RECEIVED, {**handle.data, "bytes_done": done})
            with contextlib.suppress(TimeoutError):
                pause = min(staging.max_poll_interval, 0.1 + (now - started) * staging.poll_backoff)
                await asyncio.wait_for(arrived.wait(), pause)
            arrived.clear()

    async def _fetch(self, handle: TaskHandle, session: RemoteSession, size: int) -> dict:
        """Fetch the object into a temporary file beside the target, check it, and rename it into place."""
        staging, params = self.staging, handle.params
        target = params["target"]
        # Named after the key's random part, so a resumed task reuses (and overwrites) the same file.
        temporary = posixpath.join(posixpath.dirname(target), ".firecrest-staging-" + params["key"].split("/")[2])
        budget = staging.transfer_time(size)
        started = self._data(handle, codes.UPLOAD_TRANSFER_STARTED, codes.DESCRIPTIONS[codes.UPLOAD_TRANSFER_STARTED],
                             bytes_done=0, bytes_total=size)
        await handle.progress(codes.UPLOAD_TRANSFER_STARTED, started)
        sftp = await session.sftp()
        sftp_timeout = session.pool.command_timeout
        # Large objects come in byte ranges side by side (one stream rarely fills the path); their sparse
        # file's size says nothing, so progress is read as the bytes it occupies.
        ranged = size > staging.objects.multipart_threshold and staging.parallel_streams > 1

        async def progress():
            with contextlib.suppress(FirecrestError):
                done = await (session.execute(AllocatedBytes(temporary)) if ranged
                              else _file_size(sftp, temporary, sftp_timeout))
                if done is not None and min(done, size) != handle.data.get("bytes_done"):
                    await handle.progress(codes.UPLOAD_TRANSFER_STARTED, {**started, "bytes_done": min(done, size)})

        try:
            url = await staging.objects.get_url(params["key"], lifetime=budget)
            if ranged:
                async with guarded(temporary, sftp_timeout):
                    await (await sftp.open(temporary, "wb")).close()  # empty, also after a resume
                share = -(-size // staging.parallel_streams)
                commands = [FetchRanges(url, temporary, [(offset, min(share, size - offset))], staging.limits,
                                        timeout=budget) for offset in range(0, size, share)]
            else:
                commands = [FetchObject(url, temporary, staging.limits, timeout=budget)]
            await staging.run_on_system(handle, session, commands, size, progress)
            arrived = await _file_size(sftp, temporary, sftp_timeout)
            if arrived != size:
                raise StagingFailed(f"the system received {arrived} bytes of the {size} staged; "
                                    f"nothing was written to {target}")
            digest = None
            if params["sha256"]:
                digest = await session.execute(Sha256(temporary, timeout=budget))
                if digest != params["sha256"]:
                    raise StagingFailed(f"the file's sha256 on the system is {digest}, not the {params['sha256']} "
                                        f"given; nothing was written to {target}")
            async with guarded(target, sftp_timeout):
                await sftp.posix_rename(temporary, target)
        except asyncio.CancelledError:
            raise  # stopped: a resume fetches into the same file again, or waits for the job still filling it
        except BaseException:
            with contextlib.suppress(Exception):
                async with guarded(temporary, sftp_timeout):
                    await sftp.remove(temporary)
            raise
        await staging.discard_quietly(handle)
        return self._data(handle, codes.UPLOAD_TRANSFER_FINISHED, codes.DESCRIPTIONS[codes.UPLOAD_TRANSFER_FINISHED],
                          bytes_done=size, bytes_total=size, size=size, sha256=digest)


async def _file_size(sftp: asyncssh.SFTPClient, path: str, timeout: float) -> int | None:
    async with guarded(path, timeout):
        try:
            return (await sftp.stat(path)).size
        except asyncssh.SFTPNoSuchFile:
            return None
