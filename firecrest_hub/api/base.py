"""What every REST handler shares: hub authentication without blocking, the caller's identity on a
system, and the one JSON error writer with its mapping from failures to status codes."""

from __future__ import annotations

import json
import logging

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado.web import HTTPError, RequestHandler

from .. import errors
from ..config import System
from ..logs import MaskedRequestSummary

log = logging.getLogger(__name__)

# One mapping from failures to HTTP, with FirecREST v1's signalling header where v1 has one.
# The first matching row wins, so a subclass stands before its base.
ERROR_STATUS: list[tuple[type[errors.FirecrestError], int, str | None]] = [
    (errors.InvalidPath, 400, "X-Invalid-Path"),
    (errors.InvalidMode, 400, "X-Invalid-Mode"),
    (errors.InvalidOwner, 400, "X-Invalid-Owner"),
    (errors.InvalidGroup, 400, "X-Invalid-Group"),
    (errors.SourceNotFound, 400, "X-Not-Found"),
    (errors.PatternNotFound, 404, "X-Not-Found"),
    (errors.AlreadyExists, 400, "X-Exists"),
    (errors.NotADirectory, 400, "X-Not-A-Directory"),
    (errors.IsADirectory, 400, "X-A-Directory"),
    (errors.InvalidInput, 400, None),
    (errors.UnknownJob, 400, None),
    (errors.NotFound, 400, "X-Invalid-Path"),
    (errors.AccountRefused, 403, "X-Permission-Denied"),
    # v1 answers the cluster's "permission denied" with 400 and its header, and clients expect that.
    (errors.PermissionDenied, 400, "X-Permission-Denied"),
    (errors.CommandTimeout, 408, "X-Timeout"),
    (errors.OutputTooLarge, 413, "X-Size-Limit"),
    (errors.SubmissionRejected, 400, "X-Sbatch-Error"),
    (errors.ClusterUnreachable, 424, "X-Machine-Not-Available"),
    (errors.TooManyRequests, 429, None),
    (errors.SchedulerUnavailable, 503, "X-Machine-Not-Available"),
    (errors.DependencyUnavailable, 503, None),
    (errors.CommandFailed, 400, "X-Error"),
]


def status_for(error: errors.FirecrestError) -> tuple[int, str | None]:
    for kind, status, header in ERROR_STATUS:
        if isinstance(error, kind):
            return status, header
    return 500, None


class APIError(HTTPError):
    """An HTTP failure with a description for the JSON body and v1's signalling header, if any."""

    def __init__(self, status: int, description: str, *, header: str | None = None, error: str | None = None):
        super().__init__(status, log_message=description)
        self.description = description
        self.header = header
        self.error = error


class HubUserHandler(MaskedRequestSummary, HubOAuthenticated, RequestHandler):
    """Who the hub says is calling, asked without blocking (the REST API's handlers and the portal's pages)."""

    @property
    def service(self):
        return self.settings["firecrest"]

    @property
    def hub_auth(self):
        return self.settings["hub_auth"]

    async def hub_user(self) -> dict | None:
        """The hub's user model of this request's credential (token or browser session), None without one.

        HubAuth caches the hub's answer for at most FirecrestService.credential_check_interval seconds."""
        return await self.ask_hub(self.hub_auth.get_user(self, sync=False))

    @staticmethod
    async def ask_hub(lookup):
        """The answer of a HubAuth call, or a 503 when the hub does not give one."""
        try:
            return await lookup
        except HTTPError as error:
            # HubAuth reports an unreachable or failing hub as 500/502; for our callers it is a dependency.
            raise APIError(503, "the hub cannot verify credentials right now; try again shortly") from error

    def admitted(self, model: dict | None) -> dict:
        """`model` if it admits a user to this service; 401 or 403 otherwise."""
        if not model:
            raise APIError(401, "missing or invalid token: send 'Authorization: Bearer <hub token>'")
        try:
            model = self.check_hub_user(model)
        except UserNotAllowed:
            raise APIError(403, f"{model['kind']} {model['name']!r} has no access to this service") from None
        if model.get("kind", "user") != "user":
            raise APIError(403, "only users act on the systems; use a token of a user")
        return model

    @property
    def username(self) -> str:
        return self.current_user["name"]


class OAuthCallbackHandler(MaskedRequestSummary, HubOAuthCallbackHandler):
    """The end of a browser's login through the hub. With the service's own HubOAuth: it holds the login's
    state (the PKCE verifier among it), which the default, a process-wide HubOAuth.instance(), lacks."""

    @property
    def hub_auth(self):
        return self.settings["hub_auth"]


class APIHandler(HubUserHandler):
    """Base of the REST handlers: JSON in and out, 401/403 as JSON, never a redirect."""

    def check_xsrf_cookie(self):
        # Tokens in headers cannot be forged cross-site; cookie-authenticated writes are checked by HubOAuth.
        if getattr(self, "_token_authenticated", False):
            return
        return super().check_xsrf_cookie()

    async def prepare(self):
        self.current_user = self.admitted(await self.hub_user())

    async def reconfirm_credential(self) -> None:
        """Ask the hub itself, not its cached answer, whether this request's credential still admits the
        caller. An APIError if not: 401 (revoked, expired), 403 (access taken away), 503 (no answer)."""
        token = self._credential()
        if not token:
            raise APIError(401, "missing or invalid token: send 'Authorization: Bearer <hub token>'")
        model = self.admitted(await self.ask_hub(self.hub_auth.user_for_token(token, use_cache=False, sync=False)))
        if model["name"] != self.username:
            raise APIError(401, "the credential of this request now belongs to another user")

    def _credential(self) -> str | None:
        """The token that admitted this request: the header's (or URL's) if it did, else the OAuth cookie's."""
        if getattr(self, "_token_authenticated", False):
            return self.hub_auth.get_token(self, in_cookie=False)
        # HubOAuth has no public accessor for the cookie's token alone (get_token prefers the header's,
        # which may be a stale one that the cookie was accepted in place of).
        return self.hub_auth._get_token_cookie(self)

    def argument(self, name: str) -> str | None:
        """A query (GET) or form argument exactly as sent. Tornado's own getters turn control characters
        into spaces, which would quietly change a path instead of refusing it."""
        request = self.request
        values = request.query_arguments.get(name) if request.method == "GET" else (
            request.body_arguments.get(name) or request.query_arguments.get(name))
        if not values:
            return None
        try:
            return values[-1].decode()
        except UnicodeDecodeError:
            raise APIError(400, f"{name} is not UTF-8 text") from None

    def system(self, name: str | None = None) -> System:
        """The system of `X-Machine-Name` (or the given name), or a v1 400 naming the problem."""
        name = name if name is not None else self.request.headers.get("X-Machine-Name")
        if not name:
            raise APIError(400, "no system named: set the X-Machine-Name header",
                           header="X-Machine-Does-Not-Exist", error="Machine does not exist")
        system = self.service.access.systems.get(name)
        if system is None:
            raise APIError(400, f"there is no system {name!r}",
                           header="X-Machine-Does-Not-Exist", error="Machine does not exist")
        return system

    async def session(self, system: System):
        """The caller's remote session on `system`, as the cluster account the policy admits for them."""
        return await self.service.access.session_for(self.username, system)

    def write_json(self, body, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ, value, tb):
        if isinstance(value, (APIError, errors.FirecrestError)):
            log.info("%s %s: %s", self.request.method, self.request.path, value)
        else:
            super().log_exception(typ, value, tb)

    def _handle_request_exception(self, error: BaseException) -> None:
        if isinstance(error, errors.FirecrestError):
            status, header = status_for(error)
            error = APIError(status, error.description, header=header)
        super()._handle_request_exception(error)

    def write_error(self, status_code: int, **kwargs) -> None:
        """The one JSON error writer: `{description, error}` and v1's header; never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, errors.FirecrestError):
            # _handle_request_exception chose the status, but tornado hands over the original error.
            exc = APIError(status_code, exc.description, header=status_for(exc)[1])
        if isinstance(exc, APIError):
            description, header, error = exc.description, exc.header, exc.error
        elif isinstance(exc, HTTPError) and exc.log_message:
            description, header, error = exc.log_message % exc.args if exc.args else exc.log_message, None, None
        else:
            description, header, error = self._reason, None, None
        if header:
            # v1 clients read the header; HTTP headers carry only printable ASCII.
            self.set_header(header, description.encode("ascii", "backslashreplace").decode().replace("\n", " "))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"description": description, "error": error or self._reason}))
