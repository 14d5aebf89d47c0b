"""What the portal's pages read besides the REST API: small JSON endpoints under `<base>portal/api/`.

v1 answers reads of the queue, the accounting and the partitions only through a task, which would fill
the user's task list with page views. These endpoints call the same layer functions as those tasks
(`scheduler.jobs`, ...), without a task; everything that changes something goes through the REST API.
Authentication, XSRF and errors are the REST API's own (APIHandler).
"""

from __future__ import annotations

from jupyterhub.utils import url_path_join

from ..api import APIHandler
from ..jobs.views import job_record

# The task list shows what the user did, not what the pages read.
QUERY_KINDS = frozenset({"jobs", "job", "acct", "nodes", "partitions", "reservations"})
_MAX_RECENT_TASKS = 500


class PortalDataHandler(APIHandler):
    def system_argument(self):
        """The system named by `?system=` (the portal's pages name it in the URL, not a header)."""
        return self.system(self.get_query_argument("system", None) or self.request.headers.get("X-Machine-Name"))


class ActiveJobsHandler(PortalDataHandler):
    async def get(self):
        """The caller's jobs in the queue of `?system=`, from the shared job-state cache."""
        system = self.system_argument()
        jobs = await self.service.access.scheduler.jobs(await self.session(system))
        self.write_json({"system": system.name, "jobs": [job_record(job) for job in jobs if not job.ended]})


class TasksHandler(PortalDataHandler):
    async def get(self):
        """The caller's tasks, newest first, as v1 shows them plus their `kind`; without page reads."""
        present = self.service.tasks.present
        tasks = [task for task in await self.service.tasks.store.tasks_of(self.username)
                 if task.kind not in QUERY_KINDS]
        tasks = sorted(tasks, key=lambda task: task.updated_at, reverse=True)[:_MAX_RECENT_TASKS]
        self.write_json({"tasks": [dict(await present(task), kind=task.kind) for task in tasks]})


def routes(base_url: str) -> list:
    prefix = url_path_join(base_url, "portal/api")
    return [
        (url_path_join(prefix, "jobs"), ActiveJobsHandler),
        (url_path_join(prefix, "tasks"), TasksHandler),
    ]
