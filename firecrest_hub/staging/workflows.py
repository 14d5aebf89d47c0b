"""External transfers (v1's storage/xfer-external): `Staging` starts upload and download tasks for the
handlers, serves the multipart extension and invalidation, sweeps what the URLs of ended transfers may
still put in the store, and runs the cluster side of a transfer as the user. The work of each task kind,
and how its tasks look to their owner (the URLs, signed when read), is in upload.py and download.py.

Task data carries `bytes_done` and `bytes_total` where they are known. The bytes never pass through the
service. Each kind's work reads everything from the task's params, so it is also its resume handler: a
transfer running as a Slurm job is picked up again, anything else is run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath

from traitlets import Float, Integer, TraitError, validate
from traitlets.config import Configurable

from ..access import Access
from ..errors import FirecrestError, InvalidInput
from ..remote import RemoteCommand, RemoteSession
from ..tasks import Task, TaskHandle, Tasks, codes
from ..tasks.model import utcnow
from .cluster import TransferJob, run_over_ssh
from .commands import CurlLimits
from .download import Downloads
from .objectstore import MAX_SINGLE_PUT, MiB, ObjectStore, ObjectStoreUnavailable, plan_parts
from .upload import Uploads

log = logging.getLogger(__name__)

UPLOAD = "xfer-external-upload"
DOWNLOAD = "xfer-external-download"
SERVICE = "storage"
INVALIDATED = "invalidated by its owner"
# Each stream of a transfer in parts moves about this many parts.
_PARTS_PER_STREAM = 8
_COMPLETED_UPLOAD = {codes.UPLOAD_CONFIRMED, codes.UPLOAD_TRANSFER_STARTED, codes.UPLOAD_TRANSFER_FINISHED}


class Staging(Configurable):
    """Starts and runs external transfers for users, through one ObjectStore."""

    job_threshold = Integer(
        4096 * MiB,
        help="""Files of at least this many bytes move on the system as a Slurm job on its transfer
        partition (systems without one use SSH); smaller files move over the pooled SSH connection.
        A job waits for the scheduler (Slurm may hold batch jobs for up to 3 s), which only pays off
        for transfers of minutes.""",
    ).tag(config=True)

    parallel_streams = Integer(
        2,
        help="""Streams side by side on the system for files above the multipart threshold: byte ranges
        fetched for an upload, parts pushed for a download.""",
    ).tag(config=True)

    poll_backoff = Float(
        0.02,
        help="""While an upload is awaited, the next look at the object store comes after this fraction
        of the time waited so far (from 0.1 s, at most max_poll_interval): the arrival is noticed within
        about that fraction of the client's upload time.""",
    ).tag(config=True)

    max_poll_interval = Float(5, help="Longest pause between two looks for an awaited upload.").tag(config=True)

    progress_interval = Float(
        1, help="Seconds between progress updates (bytes_done) of a running transfer.",
    ).tag(config=True)

    min_transfer_rate = Integer(
        10 * MiB,
        help="""Bytes per second a transfer is given time for: time limits of tasks, jobs and the URLs
        the system uses are 5 minutes plus the size at this rate.""",
    ).tag(config=True)

    stall_timeout = Integer(
        60, help="A transfer on the system is stopped after this many seconds below 1 KiB/s.",
    ).tag(config=True)

    outage_grace = Float(
        30,
        help="""Seconds the object store may fail to answer while an upload is awaited before the task
        fails (transfers on the system fail at once when the store goes away).""",
    ).tag(config=True)

    sweep_interval = Float(
        60,
        help="""Seconds between sweeps that delete staged downloads whose URL has expired, and whatever a
        client still PUTs with the URL of an upload that has ended (S3 cannot revoke a presigned URL).
        Sooner than the bucket's lifecycle rule, which counts in days. 0 turns sweeping off.""",
    ).tag(config=True)

    @validate("parallel_streams")
    def _validate_streams(self, proposal):
        if not 1 <= proposal["value"] <= 16:
            raise TraitError("Staging.parallel_streams must be from 1 to 16")
        return proposal["value"]

    @validate("poll_backoff", "max_poll_interval", "progress_interval", "outage_grace")
    def _validate_positive(self, proposal):
        if proposal["value"] <= 0:
            raise TraitError(f"Staging.{proposal['trait'].name} must be positive")
        return proposal["value"]

    @validate("sweep_interval")
    def _validate_sweep_interval(self, proposal):
        if proposal["value"] < 0:
            raise TraitError("Staging.sweep_interval must be 0 (off) or positive")
        return proposal["value"]

    @validate("job_threshold", "min_transfer_rate", "stall_timeout")
    def _validate_positive_int(self, proposal):
        if proposal["value"] < 1:
            raise TraitError(f"Staging.{proposal['trait'].name} must be at least 1")
        return proposal["value"]

    def __init__(self, objects: ObjectStore, access: Access, tasks: Tasks, **kwargs):
        super().__init__(**kwargs)
        self.objects, self.access, self.tasks = objects, access, tasks
        # Wakes an upload's wait at once when its owner completes it on this replica.
        self.arrivals: dict[str, asyncio.Event] = {}
        self._sweeper: asyncio.Task | None = None
        self.uploads, self.downloads = Uploads(self), Downloads(self)
        tasks.runner.on_resume(UPLOAD, self.uploads.run)
        tasks.runner.on_resume(DOWNLOAD, self.downloads.run)
        tasks.on_present(UPLOAD, self.uploads.present)
        tasks.on_present(DOWNLOAD, self.downloads.present)

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
                   if age > 2 * self.transfer_time(size) + self.objects.url_lifetime + 60]
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

    def part_size_for(self, size: int) -> int:
        """Parts of at least ObjectStore.part_size, larger for big files, so that each stream moves about
        eight (every part costs requests of its own, and on the system a curl), but at most what one
        PUT carries."""
        wanted = max(self.objects.part_size, size // (self.parallel_streams * _PARTS_PER_STREAM))
        return min(-(-wanted // MiB) * MiB, MAX_SINGLE_PUT)

    def transfer_time(self, size: int) -> float:
        return 300 + size / self.min_transfer_rate

    @property
    def limits(self) -> CurlLimits:
        return CurlLimits(stall_time=self.stall_timeout)

    # -- starting (handlers) ------------------------------------------------------------------------

    async def start_upload(self, user: str, system: str, source: str, target: str, size: int | None = None,
                           sha256: str | None = None) -> Task:
        self._require_store()
        key = self.objects.new_key("upload", user, posixpath.basename(target))
        params = {"source": source, "target": target, "key": key, "size": size, "sha256": sha256,
                  "multipart": size is not None and size > self.objects.multipart_threshold,
                  "part_size": self.part_size_for(size or 0)}
        budget = self.objects.url_lifetime + 2 * self.transfer_time(MAX_SINGLE_PUT if size is None else size)
        return await self.tasks.runner.start(
            user, SERVICE, system, self.uploads.run, kind=UPLOAD, params=params, max_run_time=budget,
            success_status=codes.UPLOAD_TRANSFER_FINISHED, failure_status=codes.UPLOAD_TRANSFER_FAILED)

    async def start_download(self, user: str, system: str, source: str, size: int) -> Task:
        self._require_store()
        params = {"source": source, "size": size,
                  "key": self.objects.new_key("download", user, posixpath.basename(source))}
        return await self.tasks.runner.start(
            user, SERVICE, system, self.downloads.run, kind=DOWNLOAD, params=params,
            max_run_time=2 * self.transfer_time(size),
            success_status=codes.DOWNLOAD_FINISHED, failure_status=codes.DOWNLOAD_FAILED)

    def _require_store(self) -> None:
        if not self.objects.configured:
            raise ObjectStoreUnavailable("staging is not configured on this service (ObjectStore.endpoint_url)")

    # -- the multipart extension and invalidation (handlers, with the caller's own task) -------------

    def client_url_lifetime(self, task: Task) -> float:
        """How long a URL for the client's data, signed now, may live: ObjectStore.url_lifetime, but not
        past the moment the service stops waiting for that data."""
        waits = self.objects.url_lifetime + self.transfer_time(task.params["size"] or MAX_SINGLE_PUT)
        remaining = waits - (utcnow() - task.created_at).total_seconds()
        return max(1.0, min(self.objects.url_lifetime, remaining))

    async def part_urls(self, task: Task, first: int, count: int) -> dict:
        """Presigned URLs for parts `first` .. `first + count - 1` of an upload in parts awaiting its data,
        each for exactly its part's bytes."""
        self._awaiting_parts(task)
        plan = plan_parts(task.params["size"], task.params["part_size"])
        if not 1 <= first <= len(plan):
            raise InvalidInput(f"first must be a part number from 1 to {len(plan)}")
        key, lifetime = task.params["key"], self.client_url_lifetime(task)
        parts = [{"part_number": part.number, "offset": part.offset, "size": part.size,
                  "url": await self.objects.put_url(ObjectStore.part_key(key, part.number), public=True,
                                                    lifetime=lifetime, size=part.size)}
                 for part in plan[first - 1:first - 1 + count]]
        return {"part_count": len(plan), "part_size": plan[0].size, "method": "PUT", "parts": parts}

    async def complete_upload(self, task: Task) -> None:
        """Record that the client uploaded every part, once each is there in full. Completing an upload
        that is already complete (a client's retry) changes nothing."""
        if task.kind == UPLOAD and task.params.get("multipart") and task.status in _COMPLETED_UPLOAD:
            return
        self._awaiting_parts(task)
        key = task.params["key"]
        uploaded = {name: size for name, size, _ in await self.objects.listing(ObjectStore.folder(key))}
        plan = plan_parts(task.params["size"], task.params["part_size"])
        wrong = [part.number for part in plan if uploaded.get(ObjectStore.part_key(key, part.number)) != part.size]
        if wrong:
            shown = ", ".join(map(str, wrong[:20])) + (" ..." if len(wrong) > 20 else "")
            raise InvalidInput(f"{len(wrong)} parts are missing or not of their planned size: {shown}")
        await self.objects.mark(ObjectStore.completion_key(key))
        if task.id in self.arrivals:
            self.arrivals[task.id].set()

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
            if task.id in self.arrivals:
                self.arrivals[task.id].set()
        await self._discard(task.params)

    async def _discard(self, params: dict) -> None:
        key = params["key"]
        if key.startswith("upload/"):
            # The client may still hold a URL of it: the mark tells the sweeper to delete what comes late.
            await self.objects.mark(ObjectStore.ended_key(key))
        if params.get("multipart"):  # an upload in parts: the parts and the completion mark
            return await self.objects.delete_all(ObjectStore.folder(key))
        if params.get("upload_id"):  # a download pushed in parts
            await self.objects.abort_multipart(key, params["upload_id"])
        await self.objects.delete(key)

    async def discard_quietly(self, handle: TaskHandle) -> None:
        try:
            await self._discard(handle.params)
        except FirecrestError as error:
            log.warning("could not remove the staged object of task %s (the lifecycle rule will): %s",
                        handle.id, error.description)

    # -- on the system -------------------------------------------------------------------------------

    async def session(self, handle: TaskHandle) -> RemoteSession:
        """The task owner's session on the task's system, as the account the policy admits for them."""
        return await self.access.session_for(handle.user, self.access.system(handle.system))

    async def run_on_system(self, handle: TaskHandle, session: RemoteSession, commands: list[RemoteCommand],
                            size: int, progress, time_limit: float | None = None) -> None:
        """Run the transfer commands: as a Slurm job for big files where the system has a transfer
        partition (picking up the job of a previous run after a restart), else over SSH. A job's time
        limit is `time_limit`, by default the transfer time of `size` bytes."""
        if not (session.system.transfer_partition and size >= self.job_threshold):
            return await run_over_ssh(session, commands, progress, self.progress_interval)
        job = self._picked_up_job(handle, session, commands[0])
        if job is None:
            job = await TransferJob.submit(self.access.scheduler, session, commands, time_limit or self.transfer_time(size))
            await handle.remember(jobid=job.jobid, job_token=job.token)
        try:
            await job.wait(progress, self.progress_interval)
        except asyncio.CancelledError:
            raise  # stopped: a resume waits for the same job (or abandon_job stops it)
        except BaseException:
            await job.cancel()
            raise
        # Done with: a later resume must not wait for this job again.
        await handle.remember(jobid=None, job_token=None)
        await job.remove_files()

    async def abandon_job(self, handle: TaskHandle, session: RemoteSession) -> None:
        """Cancel the transfer job of a task that failed while its job still ran."""
        job = self._picked_up_job(handle, session, None)
        if job is not None:
            await job.cancel()

    def _picked_up_job(self, handle: TaskHandle, session: RemoteSession, command) -> TransferJob | None:
        jobid, token = handle.params.get("jobid"), handle.params.get("job_token")
        return TransferJob(self.access.scheduler, session, command, jobid, token) if jobid and token else None
