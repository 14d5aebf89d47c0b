"""The tasks behind the v1 compute and xfer-internal endpoints: started by the handlers, resumed after a restart.

    task = await service.job_tasks.start(user, system, "jobs", {"jobids": ["42"]})      # a query
    task = await service.job_tasks.submit_script(user, session, "script.sh", request)   # an upload
    task = await service.job_tasks.submit_path(user, session, request)                  # a script on the system

Each kind of task is one method that reads everything it needs from the task's params, so the method is
also its resume handler: queries and cancellations are simply run again after a restart. A submission
is the exception; it resumes by its marker (submission.py) and never submits twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import posixpath
import time

from traitlets import Float, Integer, TraitError, Unicode, validate
from traitlets.config import Configurable

from ..access import Access
from ..compute import JobRequest
from ..config import System
from ..errors import FirecrestError, SubmissionRejected, UnknownJob
from ..remote import RemoteSession
from ..tasks import Task, TaskHandle, Tasks
from .outputs import output_tail
from .submission import FindMarkedJobs, marker_of, stage_script
from .views import (
    NO_STDERR_FILE, NO_STDOUT_FILE, accounting_record, job_record, node_record, page, partition_record,
    reservation_record,
)

# The task service v1 recorded for compute tasks, internal transfers included (they were compute jobs).
SERVICE = "compute"
# The kinds of submissions: a user's job, and an internal transfer (xfer-internal), which the portal
# lists among the transfers. Both resume by their marker.
SUBMIT, TRANSFER = "submit", "xfer-internal"


class JobTasks(Configurable):
    script_directory = Unicode(
        "firecrest",
        help="""Where uploaded job scripts and the scripts of internal transfers are written, one new
        sub-directory per submission (its working directory, where relative output files land). Relative
        to the account's home directory, or absolute.""",
    ).tag(config=True)

    output_tail_bytes = Integer(
        1000,
        min=0,
        help="How much of the end of a job's output and error files GET compute/jobs shows (v1: 1000 bytes).",
    ).tag(config=True)

    submission_settle_time = Float(
        30,
        min=0,
        help="""Seconds after a submission's sbatch started during which a submission resumed after a
        restart waits for the job to appear in the queue before it concludes that sbatch never submitted
        it. Keep it above the time sbatch can take.""",
    ).tag(config=True)

    answer_wait = Float(
        1.0,
        min=0,
        max=10,
        help="""Seconds the request that starts a compute or xfer-internal task (a submission, a query, a
        cancellation) waits for the task to finish before it answers with the task's id, as v1 does. A
        quick task has its outcome when the client first asks for it: clients sleep before they ask a
        second time (pyfirecrest 1 s), so without the wait even a 20 ms submission costs them that sleep.
        A slower task answers after this long and goes on. 0 answers at once.""",
    ).tag(config=True)

    @validate("script_directory")
    def _validate_script_directory(self, proposal):
        value = proposal["value"]
        if not value or "\x00" in value or ".." in value.split("/"):
            raise TraitError("JobTasks.script_directory must be a path without '..'")
        return value

    def __init__(self, access: Access, tasks: Tasks, **kwargs):
        super().__init__(**kwargs)
        self.access, self.tasks = access, tasks
        self._work = {
            SUBMIT: self._submit, "jobs": self._list_jobs, "job": self._show_job, "cancel": self._cancel,
            "acct": self._accounting, "nodes": self._nodes, "partitions": self._partitions,
            "reservations": self._reservations,
        }
        for kind, work in self._work.items():
            tasks.runner.on_resume(kind, self._resume_submit if kind == SUBMIT else work)
        tasks.runner.on_resume(TRANSFER, self._resume_submit)

    @property
    def scheduler(self):
        return self.access.scheduler

    # ---- starting ----------------------------------------------------------------------------------

    async def start(self, user: str, system: System, kind: str, params: dict, work=None,
                    wait: float | None = None) -> Task:
        """Start a task of `kind`; it is returned once finished or after `wait` (default answer_wait) seconds."""
        return await self.tasks.runner.start(user, SERVICE, system.name, work or self._work[kind], kind=kind,
                                             params=params, wait=self.answer_wait if wait is None else wait)

    async def submit_script(self, user: str, session: RemoteSession, file_name: str, request: JobRequest, *,
                            kind: str = SUBMIT, wait: float | None = None, summary: str | None = None) -> Task:
        """Submit `request.script` from a file of its own on the system (v1's upload); `summary` says what
        the job does, for its owner's lists (an internal transfer's operation and paths)."""
        script_path = await stage_script(session, self.script_directory, file_name, request.script.encode())
        staged = dataclasses.replace(request, script=None, script_path=script_path,
                                     workdir=posixpath.dirname(script_path))
        return await self.submit_path(user, session, staged, kind=kind, wait=wait, summary=summary)

    async def submit_path(self, user: str, session: RemoteSession, request: JobRequest, *,
                          kind: str = SUBMIT, wait: float | None = None, summary: str | None = None) -> Task:
        """Submit the script at `request.script_path`, which must be on the system already; `kind` is
        SUBMIT or TRANSFER.

        The environment's values may be secrets: the task's work holds them, the task store only their
        names, so a copy of the store gives nobody a value."""
        if kind not in (SUBMIT, TRANSFER):
            raise ValueError(f"not a kind of submission: {kind!r}")
        params = {name: value for name, value in dataclasses.asdict(request).items()
                  if value not in (None, {}) and name != "env"}
        work = functools.partial(self._submit, env=request.env)
        task_params = {"request": params, "env_names": sorted(request.env)}
        if summary is not None:
            task_params["summary"] = summary
        return await self.start(user, session.system, kind, task_params, work=work, wait=wait)

    # ---- submissions ---------------------------------------------------------------------------------

    async def _submit(self, handle: TaskHandle, env: dict[str, str] | None = None) -> dict:
        session = await self._session(handle)
        request = JobRequest(**handle.params["request"], env=env or {})
        # Written before sbatch runs: a resumed task that finds it knows sbatch may have submitted a job.
        await handle.remember(sbatch_started_at=time.time())
        jobid = await self.scheduler.submit(session, dataclasses.replace(request, comment=marker_of(handle.id)))
        return await self._submitted(session, jobid, request.script_path)

    async def _resume_submit(self, handle: TaskHandle) -> dict:
        started_at = handle.params.get("sbatch_started_at")
        if started_at is None and handle.params.get("env_names"):
            raise SubmissionRejected(
                "the service restarted before this job was submitted, and its environment variables "
                f"({', '.join(handle.params['env_names'])}) are not kept where the service could resume them: "
                "the job was not submitted; submit it again")
        if started_at is None:
            return await self._submit(handle)  # sbatch never ran
        session = await self._session(handle)
        marker = marker_of(handle.id)
        while True:
            jobids = await session.execute(FindMarkedJobs(session.account, marker, self.scheduler.command_timeout))
            if jobids:
                return await self._submitted(session, jobids[0], handle.params["request"]["script_path"])
            if time.time() > started_at + self.submission_settle_time:
                raise SubmissionRejected(
                    f"the service restarted while submitting this job, and no job in the queue carries this "
                    f"submission's marker ({marker}): the job was not submitted; submit it again")
            await asyncio.sleep(1)

    async def _submitted(self, session: RemoteSession, jobid: str, script_path: str) -> dict:
        """v1's result of a submission: the job id and the job's files, as the scheduler reports them.

        One query of that job, right after sbatch: it tells the files, and the shared job-state cache
        learns the job, so that every later GET compute/jobs shows it at once (clients take a job missing
        from the queue for a finished one: pyfirecrest's compress() and extract() do).
        """
        record = {}
        try:
            record = job_record(await self.scheduler.look_up(session, jobid))
        except FirecrestError:
            pass  # submitted all the same; only where its output goes is unknown
        return {
            "result": "Job submitted",
            "jobid": int(jobid),
            "job_file": record.get("job_file", script_path),
            "job_file_out": record.get("job_file_out", NO_STDOUT_FILE),
            "job_file_err": record.get("job_file_err", NO_STDERR_FILE),
            "job_data_out": "",
            "job_data_err": "",
        }

    # ---- queries and cancellation --------------------------------------------------------------------

    async def _list_jobs(self, handle: TaskHandle) -> dict:
        params = handle.params
        session = await self._session(handle)
        # What a plain squeue lists: a job cancelled or completed a moment ago is no longer among them.
        jobs = [job for job in await self.scheduler.jobs(session, jobids=params.get("jobids")) if not job.ended]
        jobs = page(jobs, params.get("page_size"), params.get("page_number"))
        return {str(index): record for index, record in enumerate(await self._with_output(session, jobs))}

    async def _show_job(self, handle: TaskHandle) -> dict:
        session = await self._session(handle)
        jobid = handle.params["jobid"]
        job = await self.scheduler.job(session, jobid)
        if job.ended:
            raise UnknownJob(f"job {jobid} is not active (it ended {job.state}); its record is in compute/acct")
        return {"0": (await self._with_output(session, [job]))[0]}

    async def _with_output(self, session: RemoteSession, jobs) -> list[dict]:
        records = [job_record(job) for job in jobs]
        paths = sorted({record[key] for record in records for key in ("job_file_out", "job_file_err")})
        tails = await asyncio.gather(*(output_tail(session, path, self.output_tail_bytes) for path in paths))
        tail_of = dict(zip(paths, tails, strict=True))
        for record in records:
            record["job_data_out"] = tail_of[record["job_file_out"]]
            record["job_data_err"] = tail_of[record["job_file_err"]]
        return records

    async def _cancel(self, handle: TaskHandle) -> str:
        jobid = handle.params["jobid"]
        await self.scheduler.cancel(await self._session(handle), jobid)
        return f"job {jobid} cancelled"

    async def _accounting(self, handle: TaskHandle):
        params = handle.params
        records = await self.scheduler.accounting(
            await self._session(handle), start_time=params.get("start_time"), end_time=params.get("end_time"),
            jobids=params.get("jobids"))
        records = page([accounting_record(record) for record in records], params.get("page_size"),
                       params.get("page_number"))
        return records or {}  # v1 answered an empty result with an empty object, and pyfirecrest expects it

    async def _nodes(self, handle: TaskHandle) -> list[dict]:
        nodes = await self.scheduler.nodes(await self._session(handle), handle.params.get("names"))
        return [node_record(node) for node in nodes]

    async def _partitions(self, handle: TaskHandle) -> list[dict]:
        partitions = await self.scheduler.partitions(await self._session(handle), handle.params.get("names"))
        return [partition_record(partition) for partition in partitions]

    async def _reservations(self, handle: TaskHandle) -> list[dict]:
        reservations = await self.scheduler.reservations(await self._session(handle), handle.params.get("names"))
        return [reservation_record(reservation) for reservation in reservations]

    async def _session(self, handle: TaskHandle) -> RemoteSession:
        """The task owner's session on the task's system, as the account the policy admits for them."""
        return await self.access.session_for(handle.user, self.access.system(handle.system))
