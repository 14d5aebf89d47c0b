"""compute: v1's job endpoints, run as the caller's own account on the X-Machine-Name system.

Every endpoint answers at once with a task, `{"success": "Task created", "task_id", "task_url"}`: 201 for
submissions, 200 for the rest (as v1 answered and pyfirecrest expects). The task's `data` is v1's result
(see jobs/views.py): for a submission `{"result": "Job submitted", "jobid", "job_file", ...}`, for
GET compute/jobs an object of jobs keyed "0", "1"..., for acct, nodes, partitions and reservations a list.
Bad parameters are refused here with a 400 before any task exists; what only the cluster can tell (an
unknown job, another user's job, a page past the end) fails the task (400) with a clear description.

Jobs are the caller's own: GET compute/jobs reads the shared job-state cache for the caller's jobs only,
and v1's `userJobs=false` (everyone's jobs) is not offered.
"""

from __future__ import annotations

import json
import posixpath


from ..compute import JobRequest
from ..compute.validation import check_job_id, check_node_list, check_slurm_name, check_time_spec
from ..errors import FileTooLarge, InvalidInput
from ..filesystem import PathPolicy
from ..jobs.submission import check_script_file
from ..numbers import whole_number
from ..remote import home_if_relative, relative_to
from .base import APIError, APIHandler
from .utilities import UploadHandler

_MAX_IDS = 1000
_MAX_PAGE_SIZE = 100_000
# v1's defaults when only one of pageSize and pageNumber is given.
_DEFAULT_PAGE_SIZE, _DEFAULT_PAGE_NUMBER = 25, 0


def parse_env(value: str | None) -> dict[str, str]:
    """v1's `env`: a JSON object of variable names to values (numbers and booleans become text, as in v1)."""
    if not value:
        return {}
    try:
        env = json.loads(value)
    except ValueError:
        raise InvalidInput("env is not valid JSON: give an object of variable names to values") from None
    if not isinstance(env, dict):
        raise InvalidInput("env must be a JSON object of variable names to values")
    texts = {}
    for name, item in env.items():
        if not isinstance(item, (str, int, float, bool)):
            raise InvalidInput(f"environment variable {name!a} must have a text, number or boolean value")
        texts[name] = str(item)
        if "\x00" in texts[name]:
            raise InvalidInput(f"environment variable {name!a} must not contain NUL")
    return texts


class ComputeHandler(APIHandler):
    async def prepare(self):
        await super().prepare()
        self.target = self.system()

    def listed(self, name: str, check) -> list[str] | None:
        """A comma-separated parameter, each item passed to `check` (which raises InvalidInput)."""
        value = self.argument(name)
        if value is None:
            return None
        items = value.split(",")
        if len(items) > _MAX_IDS:
            raise InvalidInput(f"{name} lists more than {_MAX_IDS} items")
        for item in items:
            check(item)
        return items

    def job_ids(self) -> list[str] | None:
        return self.listed("jobs", check_job_id)

    def paging(self) -> dict:
        """pageSize and pageNumber (from 0), as v1: no paging unless one of them is given."""
        size, number = self.argument("pageSize"), self.argument("pageNumber")
        if size is None and number is None:
            return {}
        return {"page_size": _whole("pageSize", size, _DEFAULT_PAGE_SIZE, 1, _MAX_PAGE_SIZE),
                "page_number": _whole("pageNumber", number, _DEFAULT_PAGE_NUMBER, 0, 10**9)}

    async def start(self, kind: str, params: dict) -> None:
        task = await self.service.job_tasks.start(self.username, self.target, kind, params)
        self.write_json(task.creation_json())


def _whole(name: str, value: str | None, default: int, low: int, high: int) -> int:
    return default if value is None else whole_number(name, value, low, high)


class SubmitUploadHandler(UploadHandler):
    """POST compute/jobs/upload: multipart `file` (the batch script), `account`, `env`.

    The body is capped at max_file_size as for file uploads (UploadHandler). The script is written to a
    directory of its own on the system (JobTasks.script_directory) and submitted from there.
    """

    async def post(self):
        too_large = FileTooLarge(f"the job script is larger than the {self.service.max_file_size} bytes allowed")
        if self.received > self.limit:
            raise too_large
        fields, files = self.form()
        if not files.get("file"):
            raise InvalidInput("the form has no 'file' part: send the batch script as 'file'")
        script = files["file"][-1]
        if len(script.body) > self.service.max_file_size:
            raise too_large
        request = JobRequest(script=_text("file", script.body), account=_account(_form_value(fields, "account")),
                             env=parse_env(_form_value(fields, "env")))
        system = self.system()
        task = await self.service.job_tasks.submit_script(self.username, await self.session(system), script.filename,
                                                          request)
        self.write_json(task.creation_json(), 201)


def _account(value: str | None) -> str | None:
    """v1's `account`: absent means the user's default Slurm account; present, it may not be empty."""
    if value == "":
        raise APIError(400, "Invalid account", error="'account' is empty")
    return value


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} is not UTF-8 text") from None


def _form_value(fields: dict[str, list[bytes]], name: str) -> str | None:
    return _text(name, fields[name][-1]) if fields.get(name) else None


class SubmitPathHandler(ComputeHandler):
    """POST compute/jobs/path: `targetPath` (a script on the system), `account`, `env`; the job runs in the
    script's directory."""

    async def post(self):
        session = await self.session(self.target)
        given = self.argument("targetPath")
        home = await home_if_relative(session, [given])
        path = PathPolicy(self.target.filesystems).check(relative_to(home, given), "targetPath")
        request = JobRequest(script_path=path, workdir=posixpath.dirname(path),
                             account=_account(self.argument("account")), env=parse_env(self.argument("env")))
        await check_script_file(session, path)
        task = await self.service.job_tasks.submit_path(self.username, session, request)
        self.write_json(task.creation_json(), 201)


class JobsHandler(ComputeHandler):
    async def get(self):
        await self.start("jobs", {"jobids": self.job_ids(), **self.paging()})


class JobHandler(ComputeHandler):
    async def get(self, jobid: str):
        check_job_id(jobid)
        await self.start("job", {"jobid": jobid})

    async def delete(self, jobid: str):
        check_job_id(jobid)
        await self.start("cancel", {"jobid": jobid})


class AccountingHandler(ComputeHandler):
    async def get(self):
        params = {"jobids": self.job_ids(), **self.paging()}
        for name, key in (("starttime", "start_time"), ("endtime", "end_time")):
            value = self.argument(name)
            if value:
                check_time_spec(name, value)
                params[key] = value
        await self.start("acct", params)


class NodesHandler(ComputeHandler):
    async def get(self, name: str | None = None):
        if name is None:
            names = self.listed("nodes", check_node_list)
        else:
            check_node_list(name)
            names = [name]
        await self.start("nodes", {"names": names})


class PartitionsHandler(ComputeHandler):
    async def get(self):
        await self.start("partitions", {"names": self.listed("partitions", _partition_name)})


class ReservationsHandler(ComputeHandler):
    async def get(self):
        await self.start("reservations", {"names": self.listed("reservations", _reservation_name)})


def _partition_name(value: str) -> None:
    check_slurm_name("partition", value)


def _reservation_name(value: str) -> None:
    check_slurm_name("reservation", value)


routes = [
    (r"/compute/jobs/upload", SubmitUploadHandler),
    (r"/compute/jobs/path", SubmitPathHandler),
    (r"/compute/jobs/?", JobsHandler),
    (r"/compute/jobs/([^/]+)", JobHandler),
    (r"/compute/acct", AccountingHandler),
    (r"/compute/nodes/?", NodesHandler),
    (r"/compute/nodes/([^/]+)", NodesHandler),
    (r"/compute/partitions", PartitionsHandler),
    (r"/compute/reservations", ReservationsHandler),
]
