"""compute: v2's jobs on `{system_name}`, as the caller's own account, answered at once (no tasks).

Each calls the compute layer (access.scheduler) as v1's job tasks do: submit (201 `{"jobId"}`), the jobs
(the shared job-state cache for queued, running and just ended jobs, the accounting database for the
last day's), one job (the cache, else one squeue of it, else its accounting record), its metadata (script
and output files), cancel (204) and attach (204: a command run as a step of the running job).

A user sees only their own jobs. `allusers=true` lists everyone's queued and running jobs, without their
files, only where the site allows it (SlurmScheduler.all_users_jobs); otherwise it is a 403.
"""

from __future__ import annotations

from ...compute import AccountingRecord, Job, JobRequest
from ...compute.validation import check_job_id, check_slurm_name
from ...errors import FirecrestError, InvalidInput, UnknownJob
from ...filesystem import PathPolicy
from ...jobs.outputs import expand_output_path
from ...jobs.submission import check_script_file
from .base import V2Handler, field
from .times import duration_seconds, epoch_seconds

# How far back the job list reaches into the accounting database (v2's default time window).
HISTORY = "now-1days"
_JOB_FIELDS = {
    "name": ("name",), "account": ("account",), "partition": ("partition",), "reservation": ("reservation",),
    "standard_input": ("standardInput", "standard_input"), "standard_output": ("standardOutput", "standard_output"),
    "standard_error": ("standardError", "standard_error"),
}


def _state(text: str) -> str:
    return text.split(" ", 1)[0]  # "CANCELLED by 1001" -> "CANCELLED"


def job_json(job: Job, system: str) -> dict:
    """A job of the queue (the shared cache) as v2's JobModel."""
    return {
        "jobId": job.jobid, "name": job.name, "user": job.user, "account": job.account or None, "group": None,
        "cluster": system, "partition": job.partition, "nodes": job.nodelist,
        "allocationNodes": int(job.nodes) if job.nodes.isdigit() else 0, "workingDirectory": job.work_dir,
        "status": {"state": _state(job.state), "stateReason": job.reason or None, "exitCode": None,
                   "interruptSignal": None},
        "time": {"elapsed": duration_seconds(job.time), "start": epoch_seconds(job.start_time), "end": None,
                 "suspended": None, "limit": duration_seconds(job.time_limit)},
        "tasks": None, "priority": None, "killRequestUser": None,
    }


def accounting_json(record: AccountingRecord, system: str) -> dict:
    """A job of the accounting database as v2's JobModel."""
    exit_code, _, signal = record.exit_code.partition(":")
    return {
        "jobId": record.jobid, "name": record.name, "user": record.user, "account": record.account or None,
        "group": None, "cluster": system, "partition": record.partition, "nodes": record.nodelist,
        "allocationNodes": int(record.nodes) if record.nodes.isdigit() else 0, "workingDirectory": record.work_dir,
        "status": {"state": _state(record.state), "stateReason": None,
                   "exitCode": int(exit_code) if exit_code.isdigit() else None,
                   "interruptSignal": int(signal) if signal.isdigit() else None},
        "time": {"elapsed": duration_seconds(record.time), "start": epoch_seconds(record.start_time),
                 "end": epoch_seconds(record.end_time), "suspended": None,
                 "limit": duration_seconds(record.time_limit)},
        "tasks": None, "priority": None, "killRequestUser": None,
    }


class ComputeHandler(V2Handler):
    async def prepare(self):
        await super().prepare()
        self.target = self.system_named(self.path_args[0])
        self.caller = await self.session(self.target)

    @property
    def scheduler(self):
        return self.service.access.scheduler

    async def queued(self, jobid: str) -> Job | None:
        """The caller's job as the queue holds it: the shared cache, else one squeue of that job."""
        check_job_id(jobid)
        for read in (self.scheduler.job, self.scheduler.look_up):
            try:
                return await read(self.caller, jobid)
            except UnknownJob:
                continue
        return None

    async def recorded(self, jobid: str) -> AccountingRecord | None:
        records = await self.scheduler.accounting(self.caller, jobids=[jobid])
        return next((record for record in records if record.jobid == jobid), None)

    async def job_json(self, jobid: str) -> dict:
        job = await self.queued(jobid)
        if job is not None:
            return job_json(job, self.target.name)
        record = await self.recorded(jobid)
        if record is None:
            raise UnknownJob(f"job {jobid} is not the caller's on system {self.target.name!r}")
        return accounting_json(record, self.target.name)


class JobsHandler(ComputeHandler):
    async def get(self, _system):
        all_users = self.query_flag("allusers")
        account = self.query("account")
        if account is not None:
            check_slurm_name("account", account)
        queued = await self.scheduler.jobs(self.caller, all_users=all_users)
        jobs = {record.jobid: accounting_json(record, self.target.name)
                for record in await self.scheduler.accounting(self.caller, start_time=HISTORY)}
        jobs.update((job.jobid, job_json(job, self.target.name)) for job in queued)
        self.write_json({"jobs": [job for job in jobs.values() if account is None or job["account"] == account]})

    async def post(self, _system):
        body = self.json_body()
        description = body.get("job")
        if not isinstance(description, dict):
            raise InvalidInput("the body must be {\"job\": {...}}, the job's description")
        request = await self.job_request(description)
        jobid = await self.scheduler.submit(self.caller, request)
        self.write_json({"jobId": jobid}, 201)

    async def job_request(self, job: dict) -> JobRequest:
        paths = PathPolicy(self.target.filesystems)
        workdir = paths.check(field(job, "workingDirectory", "working_directory", "current_working_directory",
                                    required=True), "workingDirectory")
        script, script_path = field(job, "script"), field(job, "scriptPath", "script_path")
        env = job.get("env", job.get("environment")) or {}
        if not isinstance(env, dict) or not all(isinstance(value, str) for value in env.values()):
            raise InvalidInput("env must be an object of variable names to text values")
        if job.get("constraints"):
            raise InvalidInput("constraints are not supported here: put `#SBATCH --constraint` in the script")
        if script_path is not None:
            script_path = paths.check(script_path, "scriptPath")
        request = JobRequest(script=script, script_path=script_path, workdir=workdir, env=env,
                             **{name: field(job, *aliases) for name, aliases in _JOB_FIELDS.items()})
        if script_path is not None:
            await check_script_file(self.caller, script_path)
        return request


class JobHandler(ComputeHandler):
    async def get(self, _system, jobid):
        self.write_json({"jobs": [await self.job_json(jobid)]})

    async def delete(self, _system, jobid):
        check_job_id(jobid)
        await self.scheduler.cancel(self.caller, jobid)
        self.no_content()


class MetadataHandler(ComputeHandler):
    async def get(self, _system, jobid):
        job = await self.queued(jobid)
        if job is None and await self.recorded(jobid) is None:
            raise UnknownJob(f"job {jobid} is not the caller's on system {self.target.name!r}")
        try:
            script = await self.scheduler.batch_script(self.caller, jobid)
        except FirecrestError:
            script = None  # the job's other details still answer
        files = {"standardOutput": job and job.job_file_out, "standardError": job and job.job_file_err}
        self.write_json({"jobs": [{
            "jobId": jobid, "script": script, "standardInput": None,
            **{name: expand_output_path(path, job) if path else None for name, path in files.items()},
        }]})


class AttachHandler(ComputeHandler):
    async def put(self, _system, jobid):
        command = field(self.json_body(), "command", required=True)
        await self.scheduler.attach(self.caller, jobid, command)
        self.no_content()


_JOBS = r"/compute/([^/]+)/jobs"
routes = [
    (_JOBS, JobsHandler),
    (_JOBS + r"/([^/]+)", JobHandler),
    (_JOBS + r"/([^/]+)/metadata", MetadataHandler),
    (_JOBS + r"/([^/]+)/attach", AttachHandler),
]
