"""External transfers (v1's storage/xfer-external), what the handlers call: `Staging` starts upload and
download tasks, serves the multipart extension and invalidation, and shows its tasks to their owner with
the URLs signed at that moment (the views registered with `tasks.on_present`; no URL is ever stored). It
also sweeps what the URLs of ended transfers may still put in the store. The work of each task kind is in
upload.py and download.py, which get the settings they need (transfer.py), the store and the way onto
the systems (runner.py).

Task data carries `bytes_done` and `bytes_total` where they are known. The bytes never pass through the
service. Each kind's work reads everything from the task's params, so it is also its resume handler: a
transfer running as a Slurm job is picked up again, anything else is run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import shlex
import time

from traitlets import Float, Integer
from traitlets.config import Configurable

from ..access import Access
from ..errors import FirecrestError, InvalidInput
from ..tasks import Task, Tasks, codes
from ..tasks.model import utcnow
from .download import Downloads
from .objectstore import MAX_SINGLE_PUT, MiB, ObjectStore, ObjectStoreUnavailable, plan_parts
from .batch import JobLogs
from .runner import SystemRunner
from .transfer import TransferSettings
from .upload import Uploads

log = logging.getLogger(__name__)

UPLOAD = "xfer-external-upload"
DOWNLOAD = "xfer-external-download"
SERVICE = "storage"
INVALIDATED = "invalidated by its owner"
_COMPLETED_UPLOAD = {codes.UPLOAD_CONFIRMED, codes.UPLOAD_TRANSFER_STARTED, codes.UPLOAD_TRANSFER_FINISHED}


class Staging(Configurable):
    """Starts external transfers for users, through one ObjectStore, and shows them to their owners.

    The settings are read once, when the service starts (`settings`)."""

    answer_wait = Float(
        1.0,
        min=0,
        max=10,
        help="""Seconds a v1 request that starts an external transfer may wait before it answers: an
        upload until its task holds what the client needs (its URLs, status 111), a download until the
        file is staged (117). v1 clients ask for the task at once and sleep when it is not there yet
        (pyfirecrest 1 s), so without the wait every upload costs them that sleep, and so does every
        small download. A slower download answers after this long and goes on. 0 answers at once.""",
    ).tag(config=True)

    job_threshold = Integer(
        4096 * MiB,
        min=1,
        help="""Files of at least this many bytes move on the system as a Slurm job on its transfer
        partition (systems without one use SSH); smaller files move over the pooled SSH connection.
        A job waits for the scheduler (Slurm may hold batch jobs for up to 3 s), which only pays off
        for transfers of minutes.""",
    ).tag(config=True)

    parallel_streams = Integer(
        2,
        min=1,
        max=16,
        help="""Streams side by side on the system for files above the multipart threshold: byte ranges
        fetched for an upload, parts pushed for a download.""",
    ).tag(config=True)

    # The smallest values of the times below keep them positive (traitlets' bounds include the bound):
    # a pause of nothing would make a loop spin.
    poll_backoff = Float(
        0.02,
        min=0.001,
        help="""While an upload is awaited, the next look at the object store comes after this fraction
        of the time waited so far (from 0.1 s, at most max_poll_interval): the arrival is noticed within
        about that fraction of the client's upload time.""",
    ).tag(config=True)

    max_poll_interval = Float(5, min=0.01, help="Longest pause between two looks for an awaited upload.").tag(
        config=True)

    progress_interval = Float(
        1, min=0.01, help="Seconds between progress updates (bytes_done) of a running transfer.",
    ).tag(config=True)

    min_transfer_rate = Integer(
        10 * MiB,
        min=1,
        help="""Bytes per second a transfer is given time for: time limits of tasks, jobs and the URLs
        the system uses are 5 minutes plus the size at this rate.""",
    ).tag(config=True)

    stall_timeout = Integer(
        60, min=1, help="A transfer on the system is stopped after this many seconds below 1 KiB/s.",
    ).tag(config=True)

    outage_grace = Float(
        30,
        min=0.01,
        help="""Seconds the object store may fail to answer while an upload is awaited before the task
        fails (transfers on the system fail at once when the store goes away).""",
    ).tag(config=True)

    niceness = Integer(
        19,
        min=0,
        max=19,
        help="""The CPU priority (nice) the transfers on the systems run at: 19, the lowest, lets them take
        what the login node's CPU has left, so that they do not slow its interactive users; 0 runs them
        like any other command.""",
    ).tag(config=True)

    sweep_interval = Float(
        60,
        min=0,
        help="""Seconds between sweeps that delete staged downloads whose URL has expired, and whatever a
        client still PUTs with the URL of an upload that has ended (S3 cannot revoke a presigned URL).
        Sooner than the bucket's lifecycle rule, which counts in days. 0 turns sweeping off.""",
    ).tag(config=True)

    def __init__(self, objects: ObjectStore, access: Access, tasks: Tasks, **kwargs):
        super().__init__(**kwargs)
        self.objects, self.tasks = objects, tasks
        self.settings = TransferSettings(
            job_threshold=self.job_threshold, parallel_streams=self.parallel_streams,
            poll_backoff=self.poll_backoff, max_poll_interval=self.max_poll_interval,
            progress_interval=self.progress_interval, min_transfer_rate=self.min_transfer_rate,
            stall_timeout=self.stall_timeout, outage_grace=self.outage_grace, niceness=self.niceness,
            min_part_size=objects.part_size)
        runner = SystemRunner(self.settings, access)
        self.uploads = Uploads(self.settings, objects, runner, tasks.store)
        self.downloads = Downloads(self.settings, objects, runner)
        self._sweeper: asyncio.Task | None = None
        tasks.runner.on_resume(UPLOAD, self.uploads.run)
        tasks.runner.on_resume(DOWNLOAD, self.downloads.run)
        tasks.on_present(UPLOAD, self.present_upload)
        tasks.on_present(DOWNLOAD, self.present_download)

    # -- sweeping expired downloads ----------------------------------------------------------------

    def start(self) -> None:
        if self.sweep_interval and self.objects.configured:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="staging-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except FirecrestError as error:
                log.warning("sweeping expired downloads failed: %s", error.description)

    async def sweep(self) -> int:
        """Delete staged downloads whose URL has certainly expired (older than the longest push of their
        size, a multipart object being as old as its upload's start, plus the URL's lifetime), and in the
        folder of every ended upload what arrived after its end; an ended upload's mark goes once every URL
        of it has expired. Replicas may sweep at the same time: deleting twice is harmless."""
        expired = [key for key, size, age in await self.objects.listing("download/")
                   if age > 2 * self.settings.transfer_time(size) + self.objects.url_lifetime + 60]
        uploads = await self.objects.listing("upload/")
        marks = {key: age for key, _, age in uploads if ObjectStore.ended_folder(key)}
        ended = {ObjectStore.ended_folder(mark) for mark in marks}
        late = [key for key, _, _ in uploads if key not in marks and ObjectStore.folder(key) in ended]
        spent = [mark for mark, age in marks.items() if age > self.objects.url_lifetime + 60]
        for key in expired + late + spent:
            await self.objects.delete(key)
        if expired or late:
            log.info("deleted %d staged downloads whose URLs had expired and %d objects of ended uploads",
                     len(expired), len(late))
        return len(expired) + len(late)

    # -- starting (handlers) ------------------------------------------------------------------------

    async def start_upload(self, user: str, system: str, source: str, target: str, size: int | None = None,
                           sha256: str | None = None, *, multipart_paths: dict[str, str],
                           logs: JobLogs | None = None, account: str | None = None, wait: float = 0) -> Task:
        """`multipart_paths` are the API's paths an upload in parts names in its task data (`parts`,
        `complete`). With `logs`, the client watches the transfer as a Slurm job of its own (v2's): an
        upload in parts, whose job (charged to `account`) is submitted before this returns (the task's
        `params["jobid"]`) and writes those logs. Returns once the task holds the client's URLs, or has
        failed, or after `wait` seconds."""
        self._require_store()
        key = self.objects.new_key("upload", user, posixpath.basename(target))
        multipart = logs is not None or (size is not None and size > self.objects.multipart_threshold)
        if multipart and size is None:
            raise InvalidInput("the size of the file is needed for an upload in parts")
        params = {"source": source, "target": target, "key": key, "size": size, "sha256": sha256,
                  "multipart": multipart, "part_size": self.settings.part_size_for(size or 0),
                  "multipart_paths": multipart_paths}
        if logs is not None:
            params.update(await self.uploads.submit_watched(user, system, params, logs, account))
        budget = self.objects.url_lifetime + 2 * self.settings.transfer_time(MAX_SINGLE_PUT if size is None else size)
        return await self.tasks.runner.start(
            user, SERVICE, system, self.uploads.run, kind=UPLOAD, params=params, max_run_time=budget,
            success_status=codes.UPLOAD_TRANSFER_FINISHED, failure_status=codes.UPLOAD_TRANSFER_FAILED,
            wait=wait, until={codes.UPLOAD_URL_RECEIVED})

    async def start_download(self, user: str, system: str, source: str, size: int,
                             logs: JobLogs | None = None, account: str | None = None, wait: float = 0) -> Task:
        """With `logs`, the client watches the transfer as a Slurm job of its own (v2's), submitted before
        this returns (the task's `params["jobid"]`). Returns once the task has ended or after `wait`
        seconds."""
        self._require_store()
        params = {"source": source, "size": size,
                  "key": self.objects.new_key("download", user, posixpath.basename(source))}
        if logs is not None:
            params.update(await self.downloads.submit_watched(user, system, params, logs, account))
        return await self.tasks.runner.start(
            user, SERVICE, system, self.downloads.run, kind=DOWNLOAD, params=params,
            max_run_time=2 * self.settings.transfer_time(size),
            success_status=codes.DOWNLOAD_FINISHED, failure_status=codes.DOWNLOAD_FAILED, wait=wait)

    async def download_url(self, task: Task) -> str:
        """The presigned GET of a download's object, signed now, valid for as long as the object may take
        to arrive and then ObjectStore.url_lifetime (v2 gives it before the object is there)."""
        params = task.params
        return await self.objects.get_url(params["key"], public=True,
                                          lifetime=self.settings.transfer_time(params["size"]) + self.objects.url_lifetime,
                                          filename=posixpath.basename(params["source"]))

    def _require_store(self) -> None:
        if not self.objects.configured:
            raise ObjectStoreUnavailable("staging is not configured on this service (ObjectStore.endpoint_url)")

    # -- the multipart extension and invalidation (handlers, with the caller's own task) -------------

    def client_url_lifetime(self, task: Task) -> float:
        """How long a URL for the client's data, signed now, may live: ObjectStore.url_lifetime, but not
        past the moment the service stops waiting for that data."""
        remaining = self.uploads.client_time(task.params["size"]) - (utcnow() - task.created_at).total_seconds()
        return max(1.0, min(self.objects.url_lifetime, remaining))

    async def part_urls(self, task: Task, first: int, count: int) -> dict:
        """Presigned URLs for parts `first` .. `first + count - 1` of an upload in parts awaiting its data,
        each for exactly its part's bytes."""
        self._awaiting_parts(task)
        plan = plan_parts(task.params["size"], task.params["part_size"])
        if not 1 <= first <= len(plan):
            raise InvalidInput(f"first must be a part number from 1 to {len(plan)}")
        urls = await self._part_urls(task, plan[first - 1:first - 1 + count])
        parts = [{"part_number": part.number, "offset": part.offset, "size": part.size, "url": url}
                 for part, url in zip(plan[first - 1:first - 1 + count], urls)]
        return {"part_count": len(plan), "part_size": plan[0].size, "method": "PUT", "parts": parts}

    async def all_part_urls(self, task: Task) -> tuple[int, list[str]]:
        """The part size and the presigned PUT of every part of a new upload in parts (v2 gives them all
        at its start)."""
        plan = plan_parts(task.params["size"], task.params["part_size"])
        return plan[0].size, await self._part_urls(task, plan)

    async def _part_urls(self, task: Task, parts) -> list[str]:
        key, lifetime = task.params["key"], self.client_url_lifetime(task)
        return [await self.objects.put_url(ObjectStore.part_key(key, part.number), public=True, lifetime=lifetime,
                                           size=part.size) for part in parts]

    async def complete_upload(self, task: Task, etags: dict[int, str] | None = None) -> None:
        """Record that the client uploaded every part, once each is there in full (and, with `etags`, the
        ETag the store gave the client for each part is the one of the part it holds). Completing an upload
        that is already complete (a client's retry) changes nothing."""
        if task.kind == UPLOAD and task.params.get("multipart") and task.status in _COMPLETED_UPLOAD:
            return
        self._awaiting_parts(task)
        key = task.params["key"]
        uploaded = await self.objects.etags(ObjectStore.folder(key))
        plan = plan_parts(task.params["size"], task.params["part_size"])
        wrong = [part.number for part in plan
                 if uploaded.get(ObjectStore.part_key(key, part.number), (None,))[0] != part.size]
        if wrong:
            shown = ", ".join(map(str, wrong[:20])) + (" ..." if len(wrong) > 20 else "")
            raise InvalidInput(f"{len(wrong)} parts are missing or not of their planned size: {shown}")
        if etags is not None:
            if set(etags) != {part.number for part in plan}:
                raise InvalidInput(f"the completion must list each of the {len(plan)} parts once")
            changed = [number for number, etag in sorted(etags.items())
                       if uploaded[ObjectStore.part_key(key, number)][1] != etag.strip('"')]
            if changed:
                raise InvalidInput(f"the ETags of parts {', '.join(map(str, changed[:20]))} are not those of the "
                                   "parts in the staging area; upload them again")
        await self.objects.mark(ObjectStore.completion_key(key))
        self.uploads.wake(task.id)

    @staticmethod
    def _awaiting_parts(task: Task) -> None:
        if task.kind != UPLOAD or not task.params.get("multipart"):
            raise InvalidInput(f"task {task.id} is not a multipart upload")
        if task.status != codes.UPLOAD_URL_RECEIVED:
            raise InvalidInput(f"task {task.id} is not waiting for parts (status {task.status})")

    async def invalidate(self, task: Task) -> None:
        """Delete the task's staged object (its URLs then fail) and fail the task if it was still running."""
        if task.kind not in (UPLOAD, DOWNLOAD):
            raise InvalidInput(f"task {task.id} is not an external transfer")
        if not task.finished:
            failed = await self.tasks.store.fail(task.id, INVALIDATED)
            if failed is not None:
                self.tasks.events.publish_task(failed)
            self.uploads.wake(task.id)
        await (self.uploads if task.kind == UPLOAD else self.downloads).discard(task.params)

    # -- how the tasks look to their owner (signed now, never stored) --------------------------------

    async def present_upload(self, task: Task, body: dict) -> dict:
        """While the upload awaits the client's file (111), `data.msg` carries v1's POST form (`url` and
        `data`, the policy's fields) and the curl command that sends it, signed now and living no longer
        than the service waits for the file."""
        params = task.params
        if task.finished or task.status != codes.UPLOAD_URL_RECEIVED or params["multipart"]:
            return body
        try:
            url, fields = await self.objects.post_form(params["key"], public=True, size=params["size"],
                                                       lifetime=self.client_url_lifetime(task))
        except FirecrestError:
            return body  # staging was switched off meanwhile: the task fails on its own
        msg = body["data"]["msg"]
        # v1's command, each word quoted: pyfirecrest runs it with shlex.split.
        command = ["curl", "--fail", "--show-error", "--silent", "-X", "POST", url,
                   *(word for name, value in fields.items() for word in ("--form-string", f"{name}={value}")),
                   "-F", f"file=@{params['source']}"]
        msg = {"command": shlex.join(command), "parameters": {**msg["parameters"], "url": url, "data": fields}}
        return {**body, "data": {**body["data"], "msg": msg}}

    async def present_download(self, task: Task, body: dict) -> dict:
        """At 117, `data.url` (a presigned GET signed now, expiring when the download's URL does) and
        `expires_in`; past that moment the data says the link has expired."""
        if task.status != codes.DOWNLOAD_FINISHED or not isinstance(task.data, dict):
            return body
        data = dict(body["data"])
        remaining = data.pop("url_expires_at", 0) - time.time()
        if remaining <= 0:
            return {**body, "data": {**data, "msg": "the download link has expired; download the file again",
                                     "expires_in": 0}}
        try:
            url = await self.objects.get_url(task.params["key"], public=True, lifetime=remaining,
                                             filename=posixpath.basename(task.params["source"]))
        except FirecrestError:
            return {**body, "data": data}
        return {**body, "data": {**data, "url": url, "expires_in": int(remaining)}}
