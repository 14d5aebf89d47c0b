"""What the portal's pages read besides the REST API: small JSON endpoints under `<base>portal/api/`.

v1 answers reads of the queue, the accounting and the partitions only through a task, which would fill
the user's task list with page views. These endpoints call the same layer functions as those tasks
(`scheduler.jobs`, ...), without a task; everything that changes something goes through the REST API.
Authentication, XSRF and errors are the REST API's own (APIHandler).
"""

from __future__ import annotations

import asyncio
import posixpath

from jupyterhub.utils import url_path_join

from ..api import APIHandler
from ..api.base import APIError
from ..compute.validation import check_job_id, check_time_spec
from ..errors import UnknownJob
from ..jobs.views import accounting_record, job_record
from ..numbers import whole_number
from ..remote import read_tail

# The task list shows what the user did, not what the pages read.
QUERY_KINDS = frozenset({"jobs", "job", "acct", "nodes", "partitions", "reservations"})
_DEFAULT_TASKS, _MAX_TASKS = 50, 500
# The job history's default range, in sacct's own words.
_HISTORY_START = "now-7days"
_MAX_TAIL_BYTES = 256 * 1024


class PortalDataHandler(APIHandler):
    def system_argument(self):
        """The system named by `?system=` (the portal's pages name it in the URL, not a header)."""
        return self.system(self.argument("system") or self.request.headers.get("X-Machine-Name"))

    def job_argument(self) -> str:
        jobid = self.argument("jobid") or ""
        check_job_id(jobid)
        return jobid

    async def own_job(self, session, jobid: str) -> dict:
        """The caller's job: from the queue while Slurm holds it there, else from the accounting.
        Another user's job and a job that never was are the same 404: nothing of the first shows."""
        scheduler = self.service.access.scheduler
        try:
            job = await scheduler.job(session, jobid)
        except UnknownJob:
            pass
        else:
            queued = dict(job_record(job), account=job.account, submit_time=job.submit_time, reason=job.reason,
                          time_limit=job.time_limit, work_dir=job.work_dir, active=not job.ended)
            if job.ended:  # the accounting knows how it ended
                for record in await self.accounting_of(session, jobid):
                    queued.update(exit_code=record.exit_code, end_time=record.end_time)
            return queued
        records = await self.accounting_of(session, jobid)
        if not records:
            raise APIError(404, f"You have no job {jobid} on {session.system.name}.", error="Unknown job")
        record = records[-1]
        files = await self.submitted_files(jobid, session.system.name)
        # Without the submission's record, Slurm's default output file in the job's directory.
        default_out = posixpath.join(record.work_dir, f"slurm-{jobid}.out") if record.work_dir else ""
        return dict(accounting_record(record), account=record.account, submit_time=record.submit_time,
                    end_time=record.end_time, time_limit=record.time_limit, work_dir=record.work_dir,
                    job_file_out=files.get("job_file_out", default_out),
                    job_file_err=files.get("job_file_err", default_out), active=False)

    async def accounting_of(self, session, jobid: str) -> list:
        records = await self.service.access.scheduler.accounting(session, jobids=[jobid])
        return [record for record in records if record.jobid == jobid]

    async def submitted_files(self, jobid: str, system: str) -> dict:
        """The output files the portal or the API recorded when it submitted the job (sacct of Slurm
        22.05 does not know them)."""
        submissions = await self.service.tasks.store.with_data(self.username, "submit", system, "jobid", jobid)
        return submissions[0].data if submissions else {}


class ActiveJobsHandler(PortalDataHandler):
    async def get(self):
        """The caller's jobs in the queue of `?system=`, from the shared job-state cache."""
        system = self.system_argument()
        jobs = await self.service.access.scheduler.jobs(await self.session(system))
        self.write_json({"system": system.name, "jobs": [job_record(job) for job in jobs if not job.ended]})


class TasksHandler(PortalDataHandler):
    async def get(self):
        """The caller's newest tasks, as v1 shows them plus their `kind`, without page reads: `?limit=`
        of them (default 50, at most 500), only those of the `?kinds=` given (comma-separated)."""
        limit = whole_number("limit", self.argument("limit") or str(_DEFAULT_TASKS), 1, _MAX_TASKS)
        kinds = {kind for kind in (self.argument("kinds") or "").split(",") if kind}
        present = self.service.tasks.present
        tasks = await self.service.tasks.store.newest_of(self.username, limit, kinds=kinds, excluding=QUERY_KINDS)
        # An internal transfer's summary (operation and paths) is the owner's own request, shown in its row.
        self.write_json({"tasks": [dict(await present(task), kind=task.kind, summary=task.params.get("summary"))
                                   for task in tasks]})


class JobHandler(PortalDataHandler):
    async def get(self):
        """One job of the caller (`?jobid=`), active or in the accounting."""
        system = self.system_argument()
        jobid = self.job_argument()
        self.write_json({"system": system.name, "job": await self.own_job(await self.session(system), jobid)})


class JobOutputHandler(PortalDataHandler):
    async def get(self):
        """The tails (`?bytes=`, default 16 KiB) of a job's output and error files, read as the caller."""
        system = self.system_argument()
        jobid = self.job_argument()
        size = whole_number("bytes", self.argument("bytes") or "16384", 1, _MAX_TAIL_BYTES)
        session = await self.session(system)
        job = await self.own_job(session, jobid)
        paths = {"out": job.get("job_file_out", ""), "err": job.get("job_file_err", "")}
        files = {}
        for stream, path in paths.items():
            if stream == "err" and path == paths["out"]:
                files[stream] = {"path": path, "same_as_out": True}
            elif path.startswith("/"):
                text = await read_tail(session, path, size)
                files[stream] = {"path": path, "exists": text is not None, "text": text or ""}
            else:
                files[stream] = {"path": "", "exists": False, "text": ""}
        self.write_json({"system": system.name, "jobid": jobid, "active": job["active"], "files": files})


class HistoryHandler(PortalDataHandler):
    async def get(self):
        """The caller's jobs from the accounting between `?start=` (default a week ago) and `?end=`."""
        system = self.system_argument()
        start = self.argument("start") or _HISTORY_START
        end = self.argument("end") or None
        check_time_spec("start", start)
        if end is not None:
            check_time_spec("end", end)
        records = await self.service.access.scheduler.accounting(
            await self.session(system), start_time=start, end_time=end)
        self.write_json({"system": system.name, "start": start, "end": end, "jobs": [
            dict(accounting_record(record), account=record.account, submit_time=record.submit_time,
                 end_time=record.end_time) for record in records]})


class PartitionsHandler(PortalDataHandler):
    async def get(self):
        """The system's partitions with their limits and their load (nodes and CPUs, free of total)."""
        system = self.system_argument()
        session = await self.session(system)
        scheduler = self.service.access.scheduler
        partitions, nodes = await asyncio.gather(scheduler.partitions(session), scheduler.nodes(session))
        self.write_json({"system": system.name, "partitions": [partition_load(partition, nodes)
                                                                for partition in partitions]})


class NodesHandler(PortalDataHandler):
    async def get(self):
        system = self.system_argument()
        nodes = await self.service.access.scheduler.nodes(await self.session(system))
        self.write_json({"system": system.name, "nodes": [
            {"name": node.name, "state": node.state, "partitions": node.partitions,
             "features": node.active_features, "cpus_total": _count(node.cpus_total),
             "cpus_allocated": _count(node.cpus_allocated), "memory_mb": _count(node.real_memory),
             "reason": node.reason} for node in nodes]})


class ReservationsHandler(PortalDataHandler):
    async def get(self):
        system = self.system_argument()
        reservations = await self.service.access.scheduler.reservations(await self.session(system))
        self.write_json({"system": system.name, "reservations": [
            {"name": reservation.name, "state": reservation.state, "start_time": reservation.start_time,
             "end_time": reservation.end_time, "nodes": reservation.nodes, "node_count": reservation.node_count,
             "partition": reservation.partition, "users": reservation.users, "accounts": reservation.accounts}
            for reservation in reservations]})


class AccountsHandler(PortalDataHandler):
    async def get(self):
        """The Slurm accounts the caller may charge jobs to, the default first."""
        system = self.system_argument()
        accounts = await self.service.access.scheduler.accounts(await self.session(system))
        self.write_json({"system": system.name, "accounts": [
            {"name": account.name, "partition": account.partition, "default": account.default}
            for account in accounts]})


# Node states in which a node takes no new work, whatever its CPUs say.
_UNAVAILABLE_NODE_STATES = frozenset({"DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "MAINT",
                                      "NOT_RESPONDING", "POWERED_DOWN", "RESERVED", "FUTURE"})


def partition_load(partition, nodes) -> dict:
    """A partition as the portal shows it: its limits, and free of total nodes and CPUs from its nodes."""
    members = [node for node in nodes if partition.name in node.partitions]
    usable = [node for node in members if not _UNAVAILABLE_NODE_STATES & {state.rstrip("*") for state in node.state}]
    fields = partition.fields
    return {
        "name": partition.name, "state": partition.state, "default": partition.default,
        "max_time": partition.max_time, "default_time": fields.get("DefaultTime", ""),
        "max_nodes": fields.get("MaxNodes", ""), "max_cpus_per_node": fields.get("MaxCPUsPerNode", ""),
        "max_memory_per_node": fields.get("MaxMemPerNode", ""),
        "nodes_total": _count(partition.total_nodes), "cpus_total": _count(partition.total_cpus),
        "nodes_idle": sum(1 for node in usable if _count(node.cpus_allocated) == 0),
        "cpus_allocated": sum(_count(node.cpus_allocated) for node in members),
        "cpus_idle": sum(_count(node.cpus_total) - _count(node.cpus_allocated) for node in usable),
        "nodes_unavailable": len(members) - len(usable),
    }


def _count(value: str) -> int:
    return int(value) if value and value.isdigit() else 0


def routes(base_url: str) -> list:
    prefix = url_path_join(base_url, "portal/api")
    return [
        (url_path_join(prefix, "jobs"), ActiveJobsHandler),
        (url_path_join(prefix, "tasks"), TasksHandler),
        (url_path_join(prefix, "job"), JobHandler),
        (url_path_join(prefix, "job/output"), JobOutputHandler),
        (url_path_join(prefix, "history"), HistoryHandler),
        (url_path_join(prefix, "partitions"), PartitionsHandler),
        (url_path_join(prefix, "nodes"), NodesHandler),
        (url_path_join(prefix, "reservations"), ReservationsHandler),
        (url_path_join(prefix, "accounts"), AccountsHandler),
    ]
