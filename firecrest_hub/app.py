"""The firecrest service: one async Tornado process, started and registered by JupyterHub.

It reads the same `jupyterhub_config.py` as the hub, so systems and limits are declared once.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth
from jupyterhub.utils import url_path_join
from tornado.web import Application as WebApplication
from traitlets import Integer, Unicode, default
from traitlets.config import Application

from . import __version__, api, portal
from .api import v2 as api_v2
from .access import Access
from .jobs import JobEventPublisher, JobTasks
from .logs import keep_credentials_out_of_debug_logs, log_request
from .reservations import Reservations
from .staging import ObjectStore, Staging
from .status import StatusProbes
from .tasks import Tasks


class FirecrestService(Application):
    name = "firecrest-hub"
    version = __version__
    description = "FirecREST v1 compatible REST API and portal, as a JupyterHub service."

    config_file = Unicode(
        "jupyterhub_config.py", help="The config file shared with JupyterHub.",
    ).tag(config=True)

    bind_url = Unicode(help="Where the service listens; JupyterHub sets it for a managed service.").tag(config=True)

    @default("bind_url")
    def _default_bind_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:5000")

    base_url = Unicode(help="URL prefix the proxy routes to the service.").tag(config=True)

    @default("base_url")
    def _default_base_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/firecrest/")

    max_file_size = Integer(
        5 * 1024 * 1024,
        min=1,
        help="Largest upload or download carried by the service itself; larger data goes through staging.",
    ).tag(config=True)

    max_listing_entries = Integer(
        100_000,
        min=1,
        help="""Most entries one file listing (utilities/ls, recursive ones included) may return; a larger
        listing is refused with 413 instead of filling the service's memory.""",
    ).tag(config=True)

    cookie_secret = Unicode(
        help="""Secret for the service's OAuth state cookies. Set the same value on every replica;
        by default a random one per process (browsers then log in again after a restart).""",
    ).tag(config=True)

    @default("cookie_secret")
    def _default_cookie_secret(self):
        return os.environ.get("FIRECREST_COOKIE_SECRET") or secrets.token_hex(32)

    credential_check_interval = Integer(
        30,
        min=1,
        max=300,
        help="""Seconds within which a hub token or browser session that the hub no longer accepts (revoked,
        expired, or its access to this service taken away) stops working here. The hub's answers about
        credentials are cached no longer than this (a longer HubAuth.cache_max_age, or 0 for forever, is
        lowered to it), and each open event stream asks the hub again often enough to end within it,
        also when the hub does not answer. Shorter cuts off sooner and asks the hub more often.""",
    ).tag(config=True)

    aliases = {
        "config": "FirecrestService.config_file",
        "bind-url": "FirecrestService.bind_url",
        "log-level": "Application.log_level",
    }

    def initialize(self, argv=None):
        super().initialize(argv)
        cli_config = self.config.copy()
        self.load_config_file(self.config_file)
        self.update_config(cli_config)
        self.access = access = Access(parent=self)
        self.tasks = Tasks(self, url_prefix=url_path_join(self.base_url, "api/v1"))
        # Registers the resume handlers of its task kinds before the runner opens and resumes tasks.
        self.job_tasks = JobTasks(access, self.tasks, parent=self)
        self.objects = ObjectStore(parent=self)
        self.staging = Staging(self.objects, access, self.tasks, parent=self)
        self.job_events = JobEventPublisher(access, self.tasks.events, parent=self)
        self.reservations = Reservations(access, parent=self)
        self.portal = portal.Portal(parent=self)
        self.health = StatusProbes(access.systems.all(), access.pool, access.authority, self.tasks.store,
                                   self.objects, parent=self)
        self.hub_auth = HubOAuth(parent=self)
        # HubAuth caches the hub's answers for cache_max_age seconds (300 by default, 0 = forever): no
        # longer than the credential bound, else a revoked token would keep working until its entry expires.
        if not 0 < self.hub_auth.cache_max_age <= self.credential_check_interval:
            self.hub_auth.cache_max_age = self.credential_check_interval
        self.web_app = WebApplication(
            self.routes(),
            firecrest=self,
            hub_auth=self.hub_auth,
            cookie_secret=self.cookie_secret,
            xsrf_cookies=False,
            log_function=log_request,
        )
        keep_credentials_out_of_debug_logs()

    def routes(self) -> list:
        api_prefix = url_path_join(self.base_url, "api/v1")
        v2_prefix = url_path_join(self.base_url, "api/v2")
        return api.routes(api_prefix) + api_v2.routes(v2_prefix) + [
            (url_path_join(api_prefix, ".*"), api.UnknownPathHandler),
            (url_path_join(v2_prefix, ".*"), api_v2.UnknownPathHandler),
            (url_path_join(self.base_url, "oauth_callback"), api.OAuthCallbackHandler),
            (url_path_join(self.base_url, "oauth2/token"), api.TokenHandler),
        ] + portal.routes(self.base_url) + [portal.unknown_page_route(self.base_url)]

    async def serve(self) -> None:
        await self.objects.open()
        await self.tasks.open()
        self.health.start()
        self.job_events.start()
        self.staging.start()
        url = urlparse(self.bind_url)
        self.web_app.listen(url.port or 80, url.hostname or "127.0.0.1", xheaders=True)
        self.log.info("firecrest-hub %s listening on %s%s", __version__, self.bind_url, self.base_url)
        # The hub stops a managed service with SIGTERM: shut down cleanly, so leases on running
        # tasks are released and the next process takes them over at once.
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        orphan_watch = asyncio.create_task(self._stop_when_orphaned(stopping)) if self.managed else None
        try:
            await stopping.wait()
        finally:
            if orphan_watch is not None:
                orphan_watch.cancel()
            await self.health.stop()
            await self.job_events.stop()
            await self.staging.stop()
            await self.tasks.close()
            await self.objects.close()
            await self.access.close()

    @property
    def managed(self) -> bool:
        """Started by JupyterHub as a managed service (it sets the service's environment)."""
        return "JUPYTERHUB_SERVICE_URL" in os.environ

    async def _stop_when_orphaned(self, stopping: asyncio.Event) -> None:
        # A hub that crashes leaves its managed services running: the next hub could then not start this
        # one on its port. A service whose hub is gone stops, cleanly.
        hub = os.getppid()
        while os.getppid() == hub:
            await asyncio.sleep(1)
        self.log.warning("the hub that started this service (pid %d) is gone; stopping", hub)
        stopping.set()

    def start(self):
        asyncio.run(self.serve())


def main(argv=None):
    FirecrestService.launch_instance(argv)
