"""The work of an upload task (client -> object store -> system), statuses 110 -> 111 -> 112 -> 113 -> 114,
or 115 with the reason.

    110  the task has its key
    111  `data.msg` holds what the client needs: v1's `command` and `parameters` (v1's presigned POST form
         for S3v4 stores: `url`, the policy's fields in `data`), or `multipart` (where to get part URLs,
         then where to complete: paths the API gives at the start). The form is signed when the owner
         reads the task (external.py's view), never stored; its policy allows exactly the announced size,
         when the client announced one
    112  the object has arrived (looked for with HEAD soon and often, backing off as the wait grows), or
         the client completed its upload in parts
    113  the system fetches the object as the user (over SSH, or as a Slurm job for big files; large
         objects in byte ranges side by side) into a hidden temporary file beside the target, whose size
         (and sha256, if the client gave one) is checked before it is renamed into place
    114  done; the staged objects are deleted

An upload in parts is fetched while it happens: from 111 on, the system takes each part as soon as it
is in the store, so the file is on the system moments after the client's last part, not one whole
download later. `bytes_done` then counts the bytes already on the system.

A client that watches the transfer as a job of its own (v2's `transferJob`) gets that job before the
task starts (`submit_watched`): the task then picks it up as after a restart, and the job, once it has
fetched the parts, waits for the task's outcome, which ends it (TransferKind.run, runner.confirm).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import posixpath

import asyncssh

from ..errors import FirecrestError
from ..remote import guarded
from ..remote import RemoteSession
from ..tasks import TaskHandle, TaskStore, TaskTakenOver, codes
from .commands import AllocatedBytes, FetchObject, FetchPieces, Sha256, StagingFailed
from .batch import JobLogs
from .objectstore import MAX_SINGLE_PUT, ObjectStore, ObjectStoreUnavailable, plan_parts
from .runner import SystemRunner
from .transfer import TransferKind, TransferSettings

# How often a waiting upload asks the task store whether its task was invalidated (on any replica).
_OWNER_CHECK_EVERY = 5.0


class Uploads(TransferKind):
    """Runs (and, after a restart, resumes) upload tasks; `store` tells whether a task is still its own."""

    def __init__(self, settings: TransferSettings, objects: ObjectStore, runner: SystemRunner, store: TaskStore):
        super().__init__(settings, objects, runner)
        self.store = store
        # Wakes an upload's wait at once when its owner completes it on this replica.
        self.arrivals: dict[str, asyncio.Event] = {}

    def wake(self, task_id: str) -> None:
        """Look again at once for what the upload `task_id` awaits, if it runs here."""
        if task_id in self.arrivals:
            self.arrivals[task_id].set()

    def client_time(self, size: int | None) -> float:
        """How long after its start an upload of `size` bytes (None: unknown) waits for the client's data:
        as long as a client may start plus the time the upload takes."""
        return self.objects.url_lifetime + self.settings.transfer_time(size or MAX_SINGLE_PUT)

    def success_message(self, params: dict) -> str:
        return f"File was successfully uploaded: {params['size']} bytes in {params['target']}"

    async def submit_watched(self, user: str, system: str, params: dict, logs: JobLogs,
                             account: str | None = None) -> dict:
        """Submit the job that fetches the parts of the upload with `params`, for a client to watch (v2)."""
        session = await self.runner.session_of(user, system)
        landing = _Landing.path_for(params)
        await _empty_file(session, landing)
        try:
            commands = await self._part_commands(params, landing)
            time_limit = self.client_time(params["size"]) + self.settings.transfer_time(params["size"])
            return await self.runner.submit_watched(session, commands, time_limit, logs, account)
        except BaseException:
            await _remove_quietly(session, landing)
            raise

    async def transfer(self, handle: TaskHandle):
        try:
            session = await self.runner.session(handle)
            if handle.status in (codes.QUEUED, codes.IN_PROGRESS, codes.UPLOAD_URL_WAITING):
                await self._issue(handle)
            if handle.params["multipart"]:
                return await self._fetch_parts(handle, session)
            return await self._fetch_object(handle, session)
        except asyncio.CancelledError:
            raise  # stopped: a resume continues, or the lifecycle rule removes the objects
        except BaseException:
            await self.discard_quietly(handle)
            raise
        finally:
            self.arrivals.pop(handle.id, None)

    async def discard(self, params: dict) -> None:
        key = params["key"]
        # The client may still hold a URL of it: the mark tells the sweeper to delete what comes late.
        await self.objects.mark(ObjectStore.ended_key(key))
        if params["multipart"]:  # the parts and the completion mark
            await self.objects.delete_all(ObjectStore.folder(key))
        else:
            await self.objects.delete(key)

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
            plan = plan_parts(size, params["part_size"])
            msg = {"multipart": {"part_size": plan[0].size, "part_count": len(plan), "method": "PUT",
                                 **params["multipart_paths"]}}
        else:
            # v1's POST form for S3v4 stores. Its URL, fields and the command that carries them are added
            # when the owner reads the task, for their eyes only.
            msg = {"parameters": {"method": "POST", "files": params["source"], "json": {}, "params": {},
                                  "headers": {}}}
        await handle.progress(codes.UPLOAD_URL_RECEIVED, self._data(
            handle, codes.UPLOAD_URL_RECEIVED, msg, bytes_done=0, bytes_total=size))

    async def _confirmed(self, handle: TaskHandle, size: int) -> dict:
        """Record 112 and 113; the data of 113, for progress updates."""
        msg = handle.data.get("msg") if isinstance(handle.data, dict) else None
        await handle.progress(codes.UPLOAD_CONFIRMED, self._data(
            handle, codes.UPLOAD_CONFIRMED, msg, bytes_done=0, bytes_total=size))
        started = self._data(handle, codes.UPLOAD_TRANSFER_STARTED,
                             codes.DESCRIPTIONS[codes.UPLOAD_TRANSFER_STARTED], bytes_done=0, bytes_total=size)
        await handle.progress(codes.UPLOAD_TRANSFER_STARTED, started)
        return started

    async def _await(self, handle: TaskHandle, key: str) -> int:
        """The size of the object at `key`, once it is there; fails when it does not come in time."""
        settings = self.settings
        arrived = self.arrivals.setdefault(handle.id, asyncio.Event())
        loop = asyncio.get_running_loop()
        started = owner_checked = loop.time()
        give_up = started + self.client_time(handle.params["size"])
        outage_since = None
        while True:
            try:
                size = await self.objects.size(key)
                outage_since = None
            except ObjectStoreUnavailable as error:
                outage_since = outage_since or loop.time()
                if loop.time() - outage_since > settings.outage_grace:
                    raise StagingFailed(f"{error.description}; the upload was given up") from None
                size = None
            if size is not None:
                return size
            now = loop.time()
            if now > give_up:
                raise StagingFailed(f"no file arrived in the staging area within {round(now - started)} s; "
                                    "start a new upload")
            if now - owner_checked >= _OWNER_CHECK_EVERY:
                owner_checked = now
                current = await self.store.get(handle.user, handle.id)
                if current is None or current.finished:
                    raise TaskTakenOver(handle.id)
            with contextlib.suppress(TimeoutError):
                pause = min(settings.max_poll_interval, 0.1 + (now - started) * settings.poll_backoff)
                await asyncio.wait_for(arrived.wait(), pause)
            arrived.clear()

    async def _finished(self, handle: TaskHandle, size: int, digest: str | None) -> dict:
        """The staged objects are removed; the data of 114."""
        await self.discard_quietly(handle)
        return self._data(handle, codes.UPLOAD_TRANSFER_FINISHED, codes.DESCRIPTIONS[codes.UPLOAD_TRANSFER_FINISHED],
                          bytes_done=size, bytes_total=size, size=size, sha256=digest)

    async def _fetch_object(self, handle: TaskHandle, session: RemoteSession) -> dict:
        """Wait for the client's single object, then fetch it (large ones in byte ranges side by side)."""
        settings, objects, params = self.settings, self.objects, handle.params
        if handle.status == codes.UPLOAD_URL_RECEIVED:
            size = await self._await(handle, params["key"])
            if params["size"] is not None and size != params["size"]:
                raise StagingFailed(f"the staged object has {size} bytes, not the {params['size']} announced")
        else:  # resumed after the object had arrived
            size = await objects.size(params["key"])
            if size is None:
                raise StagingFailed("the staged object is gone; start a new upload")
        started = await self._confirmed(handle, size)
        budget = settings.transfer_time(size)
        # One stream rarely fills the path: large objects come in byte ranges side by side.
        ranged = size > objects.multipart_threshold and settings.parallel_streams > 1
        async with _Landing(handle, session, size, sparse=ranged, check_time=budget) as landing:
            url = await objects.get_url(params["key"], lifetime=budget)
            if ranged:
                share = -(-size // settings.parallel_streams)
                commands = [FetchPieces(landing.path, [(offset, min(share, size - offset), url)], settings.limits,
                                        ranged=True, timeout=budget) for offset in range(0, size, share)]
            else:
                commands = [FetchObject(url, landing.path, settings.limits, timeout=budget)]
            await self.runner.run(handle, session, commands, size, landing.progress_as(started))
        return await self._finished(handle, size, landing.digest)

    async def _fetch_parts(self, handle: TaskHandle, session: RemoteSession) -> dict:
        """Fetch each part as it arrives, until the client completed the upload and every part is here."""
        settings, params = self.settings, handle.params
        size, key = params["size"], params["key"]
        budget = self.client_time(size)  # parts may come that late
        async with _Landing(handle, session, size, sparse=True, check_time=settings.transfer_time(size)) as landing:
            commands = await self._part_commands(params, landing.path)
            report = landing.progress_as(None)

            async def fetch():
                await self.runner.run(handle, session, commands, size, report, time_limit=budget)
                await report()  # the final count, shown while the client has yet to complete

            fetching = asyncio.ensure_future(fetch())
            try:
                if handle.status == codes.UPLOAD_URL_RECEIVED:
                    await _first_failure(fetching, self._await(handle, ObjectStore.completion_key(key)))
                if handle.status != codes.UPLOAD_TRANSFER_STARTED:
                    await self._confirmed(handle, size)
                await fetching
            except BaseException as failure:
                await _stopped(fetching)
                # Stopped (not failed): a resume fetches again, or waits for the job still fetching.
                if not isinstance(failure, asyncio.CancelledError):
                    await self.runner.abandon(handle, session)
                raise
        return await self._finished(handle, size, landing.digest)


    async def _part_commands(self, params: dict, path: str) -> list[FetchPieces]:
        """The streams that fetch the parts of an upload into `path`, each part as soon as it is there."""
        settings, size, key = self.settings, params["size"], params["key"]
        budget = self.client_time(size)
        plan = plan_parts(size, params["part_size"])
        pieces = [(part.offset, part.size, await self.objects.get_url(ObjectStore.part_key(key, part.number),
                                                                      lifetime=budget)) for part in plan]
        streams = min(settings.parallel_streams, len(plan))
        return [FetchPieces(path, pieces[first::streams], settings.limits, ranged=False, wait=math.ceil(budget),
                            timeout=budget) for first in range(streams)]


async def _first_failure(background: asyncio.Future, awaited) -> None:
    """Await `awaited`; if `background` fails first, raise its failure instead."""
    waiting = asyncio.ensure_future(awaited)
    try:
        await asyncio.wait({background, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if background.done() and not waiting.done():
            background.result()  # raises; a background done early and well leaves the wait to go on
        await waiting
    finally:
        await _stopped(waiting)


async def _stopped(future: asyncio.Future) -> None:
    if not future.done():
        future.cancel()
        with contextlib.suppress(BaseException):
            await future


class _Landing:
    """The hidden temporary file beside an upload's target that the system fills. On leaving the block
    normally, its size (and sha256, if the client gave one) is checked and it is renamed to the target;
    on a failure it is removed. A cancelled task leaves it, for the resumed task to fill again."""

    def __init__(self, handle: TaskHandle, session: RemoteSession, size: int, *, sparse: bool, check_time: float):
        params = handle.params
        self.handle, self.session, self.size, self.sparse = handle, session, size, sparse
        self.check_time = check_time
        self.target, self.sha256 = params["target"], params["sha256"]
        self.path = self.path_for(params)
        self.timeout = session.pool.command_timeout
        self.digest: str | None = None

    @staticmethod
    def path_for(params: dict) -> str:
        # Named after the key's random part, so a resumed task reuses (and overwrites) the same file.
        return posixpath.join(posixpath.dirname(params["target"]), ".firecrest-staging-" + params["key"].split("/")[2])

    async def __aenter__(self) -> "_Landing":
        self.sftp = await self.session.sftp()
        # Pieces are written into place in a file that must exist; a stale one from an interrupted
        # run is emptied first, unless a transfer job (picked up after a restart, or one a client
        # watches) is filling it.
        if self.sparse and not self.handle.params.get("jobid"):
            await _empty_file(self.session, self.path)
        return self

    def progress_as(self, data: dict | None):
        """A progress callback updating `bytes_done` in `data` (None: the task's current data and status)."""

        async def progress():
            with contextlib.suppress(FirecrestError):
                # A file filled in pieces has holes, so its size says nothing: count the bytes it occupies.
                done = await (self.session.execute(AllocatedBytes(self.path)) if self.sparse
                              else _file_size(self.sftp, self.path, self.timeout))
                handle = self.handle
                current = data if data is not None else handle.data
                if done is not None and isinstance(current, dict) and min(done, self.size) != current.get("bytes_done"):
                    status = data["status"] if data is not None else handle.status
                    await handle.progress(status, {**current, "bytes_done": min(done, self.size)})

        return progress

    async def __aexit__(self, kind, error, trace) -> None:
        if kind is None:
            try:
                await self._settle()
            except BaseException:
                await self._remove()
                raise
        elif not issubclass(kind, asyncio.CancelledError):
            await self._remove()

    async def _settle(self) -> None:
        arrived = await _file_size(self.sftp, self.path, self.timeout)
        if arrived != self.size:
            raise StagingFailed(f"the system received {arrived} bytes of the {self.size} staged; "
                                f"nothing was written to {self.target}")
        if self.sha256:
            self.digest = await self.session.execute(Sha256(self.path, timeout=self.check_time))
            if self.digest != self.sha256:
                raise StagingFailed(f"the file's sha256 on the system is {self.digest}, not the {self.sha256} "
                                    f"given; nothing was written to {self.target}")
        async with guarded(self.target, self.timeout):
            await self.sftp.posix_rename(self.path, self.target)

    async def _remove(self) -> None:
        await _remove_quietly(self.session, self.path)


async def _remove_quietly(session: RemoteSession, path: str) -> None:
    """Remove a temporary file; one that cannot be removed stays (its name says what it was)."""
    with contextlib.suppress(FirecrestError):
        sftp = await session.sftp()
        async with guarded(path, session.pool.command_timeout):
            await sftp.remove(path)


async def _empty_file(session: RemoteSession, path: str) -> None:
    sftp = await session.sftp()
    async with guarded(path, session.pool.command_timeout):
        await (await sftp.open(path, "wb")).close()


async def _file_size(sftp: asyncssh.SFTPClient, path: str, timeout: float) -> int | None:
    async with guarded(path, timeout):
        try:
            return (await sftp.stat(path)).size
        except asyncssh.SFTPNoSuchFile:
            return None
