"""The portal's page handlers and routes. Each page is a template and a script; see __init__.py."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlparse

import jinja2
from jupyterhub.utils import url_path_join
from markupsafe import escape
from tornado.web import HTTPError, StaticFileHandler, authenticated
from traitlets import Dict, Integer, List, Unicode, validate
from traitlets.config import Configurable

from ..api import HubUserHandler
from ..assets import asset_dir
from . import data

log = logging.getLogger(__name__)

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(asset_dir("templates", "portal/base.html")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
STATIC_DIR = asset_dir("static", "portal/portal.css") / "portal"

DEFAULT_JOB_TEMPLATES = [
    {"name": "Hello world", "description": "One task that prints where it ran.",
     "script": "#!/bin/bash\n#SBATCH --job-name=hello\n#SBATCH --ntasks=1\n#SBATCH --time=00:05:00\n\n"
               "echo \"Hello from $(hostname)\"\ndate\n"},
    {"name": "MPI job", "description": "Several tasks started with srun.",
     "script": "#!/bin/bash\n#SBATCH --job-name=mpi\n#SBATCH --nodes=1\n#SBATCH --ntasks=4\n"
               "#SBATCH --time=00:30:00\n\nsrun hostname\n"},
    {"name": "Python script", "description": "A Python program in the submission's directory.",
     "script": "#!/bin/bash\n#SBATCH --job-name=python\n#SBATCH --ntasks=1\n#SBATCH --time=00:10:00\n\n"
               "python3 - <<'PY'\nimport platform\nprint('Python', platform.python_version())\nPY\n"},
]


class Portal(Configurable):
    job_templates = List(
        Dict(),
        DEFAULT_JOB_TEMPLATES,
        help="""The job composer's templates: dicts with `name`, `script` and an optional `description`.
        The composer opens with the first; users edit the script before they submit it.""",
    ).tag(config=True)

    listing_page_size = Integer(
        200,
        min=10,
        max=5000,
        help="Entries per page of the files page; a directory with more is paged.",
    ).tag(config=True)

    upload_parallel_parts = Integer(
        4,
        min=1,
        max=16,
        help="Parts of a staged upload that a browser sends to the object store at once.",
    ).tag(config=True)

    home_path = Unicode(
        "",
        help="""Where the files page opens; empty for the user's home directory (as the system's
        account sees it). Relative paths start at the home directory.""",
    ).tag(config=True)

    @validate("job_templates")
    def _validate_job_templates(self, proposal):
        for template in proposal["value"]:
            if not isinstance(template.get("name"), str) or not isinstance(template.get("script"), str):
                raise ValueError(f"Portal.job_templates: each needs a 'name' and a 'script': {template!r}")
            unknown = set(template) - {"name", "script", "description"}
            if unknown:
                raise ValueError(f"Portal.job_templates: unknown keys {sorted(unknown)} in {template['name']!r}")
        return proposal["value"]


class PageHandler(HubUserHandler):
    """A portal page: the hub's login, the security headers, and an HTML error page, never a traceback."""

    page = ""        # the template's name and the script's, e.g. "files"
    title = ""

    async def prepare(self):
        # Without a session, `authenticated` sends the browser to the hub's login, and back here after.
        model = await self.hub_user()
        self.current_user = self.admitted(model) if model else None

    def set_default_headers(self):
        store = self.service.objects
        endpoint = urlparse(store.public_endpoint_url or store.endpoint_url)
        s3_origin = f"{endpoint.scheme}://{endpoint.netloc}" if endpoint.netloc else ""
        self.set_header("Content-Security-Policy", "; ".join([
            "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
            "font-src 'self' data:", f"connect-src 'self' {s3_origin}".strip(), "frame-ancestors 'none'",
            "form-action 'self'", "base-uri 'none'", "object-src 'none'",
        ]))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        # Staged downloads are presigned links: they must not leak to other sites in a Referer.
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    @authenticated
    async def get(self, *args):
        self.finish(self.render_page(self.page, **await self.context(*args)))

    async def context(self, *args) -> dict:
        """What the page's template gets besides the common values."""
        return {}

    def render_page(self, template: str, **context) -> str:
        service = self.service
        base = service.base_url
        user = self.current_user
        common = {
            "title": self.title,
            "page": self.page,
            "user": user["name"],
            "base_url": base,
            "static": lambda path: url_path_join(base, "portal-static", path),
            "hub_home": url_path_join(self.hub_auth.hub_prefix, "home"),
            "hub_logout": url_path_join(self.hub_auth.hub_prefix, "logout"),
            "hub_token": url_path_join(self.hub_auth.hub_prefix, "token"),
            "hub_static": url_path_join(self.hub_auth.hub_prefix, "static"),
            "hub_logo": url_path_join(self.hub_auth.hub_prefix, "logo"),
            "settings": json.dumps({
                "user": user["name"],
                "base": base,
                "api": url_path_join(base, "api/v1") + "/",
                "data": url_path_join(base, "portal/api") + "/",
                "xsrf": self.xsrf_token.decode() if isinstance(self.xsrf_token, bytes) else self.xsrf_token,
                "hub": self.hub_auth.hub_prefix,
                "systems": [system.name for system in service.access.systems.all()],
                "maxFileSize": service.max_file_size,
                "multipartThreshold": service.objects.multipart_threshold,
                "listingPageSize": service.portal.listing_page_size,
                "parallelParts": service.portal.upload_parallel_parts,
                "homePath": service.portal.home_path,
            }),
        }
        return _TEMPLATES.get_template(f"portal/{template}.html").render(**common, **context)

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "description", None) or (
            exc.log_message if isinstance(exc, HTTPError) and exc.log_message else self._reason)
        if status_code >= 500 and status_code != 503:
            message = "Something went wrong on our side. Try again; if it persists, tell the centre's support."
        self.set_header("Content-Type", "text/html; charset=utf-8")
        if not isinstance(getattr(self, "_current_user", None), dict):
            # Before anyone is known (the hub refused or did not answer): a page without the navigation.
            self.finish(f"<!doctype html><meta charset=utf-8><title>{status_code}</title>"
                        f"<h1>{status_code} {escape(self._reason)}</h1><p>{escape(message)}</p>")
            return
        self.finish(self.render_page("error", status=status_code, message=message))


class DashboardPage(PageHandler):
    page, title = "dashboard", "Dashboard"


class FilesPage(PageHandler):
    page, title = "files", "Files"


class JobsPage(PageHandler):
    page, title = "jobs", "Jobs"


class JobPage(PageHandler):
    page, title = "job", "Job"

    async def context(self, jobid: str) -> dict:
        if not jobid.isdigit():
            raise HTTPError(404, f"There is no job {jobid!r}.")
        return {"jobid": jobid}


class ComposePage(PageHandler):
    page, title = "compose", "Compose a job"

    async def context(self) -> dict:
        return {"templates": json.dumps(self.service.portal.job_templates)}


class TransfersPage(PageHandler):
    page, title = "transfers", "Transfers"


class StatusPage(PageHandler):
    page, title = "status", "Status"


class UnknownPage(PageHandler):
    @authenticated
    async def get(self, *args):
        raise HTTPError(404, "There is no such page in the portal.")


class PortalStaticHandler(StaticFileHandler):
    def set_extra_headers(self, path):
        self.set_header("X-Content-Type-Options", "nosniff")


def routes(base_url: str) -> list:
    """The portal's pages, its data and its assets, below the service's base URL (after the API's)."""
    pages = [
        (r"", DashboardPage), (r"files", FilesPage), (r"jobs", JobsPage), (r"jobs/([^/]+)", JobPage),
        (r"compose", ComposePage), (r"transfers", TransfersPage), (r"status", StatusPage),
    ]
    return data.routes(base_url) + [
        (url_path_join(base_url, path) if path else base_url, handler) for path, handler in pages] + [
        (url_path_join(base_url, r"portal-static/(.*)"), PortalStaticHandler, {"path": str(STATIC_DIR)}),
    ]


def unknown_page_route(base_url: str) -> tuple:
    """Last of all routes: any other path under the service is the portal's 404 page."""
    return (url_path_join(base_url, r".*"), UnknownPage)
