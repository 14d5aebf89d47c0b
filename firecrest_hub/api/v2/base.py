"""What every v2 handler shares: FirecREST v2's error shape and status codes, its response headers, the
system named in the path, and v2's ways of reading parameters.

Errors are `{"errorType", "message", "data", "user"}`: "validation" for a request that is wrong in
itself (nothing ran), "error" for the rest, with the status codes of ERROR_STATUS. Every response carries
v2's `F7T-AppVersion` (pyfirecrest reads the API version from it), `F7T-Timestamp` and, once the caller
is known, `F7T-AuthUsername`. Authentication is v1's (base.APIHandler): a hub token as `Authorization:
Bearer`, or the browser's OAuth cookie with XSRF.
"""

from __future__ import annotations

import json
import time

from tornado.web import HTTPError

from ... import errors
from ...config import System
from ..base import APIError, APIHandler

# The FirecREST v2 release whose wire format (its published OpenAPI spec) this API follows.
APP_VERSION = "2.5.6"
_TRUE = ("true", "1", "yes", "on", "t", "y")
_FALSE = ("false", "0", "no", "off", "f", "n")

# (failure, status, what the message starts with). The first matching row wins: a subclass stands before
# its base. Where v2 answers 500 for a command that failed in a way nobody foresaw, this API answers 400:
# here every 5xx is a bug or a dependency that is down.
ERROR_STATUS: list[tuple[type[errors.FirecrestError], int, str]] = [
    # pyfirecrest's wait_for_job and transfers look for "Job not found" in a 404's message.
    (errors.UnknownJob, 404, "Job not found: "),
    (errors.NotFound, 404, ""),
    (errors.InvalidInput, 400, ""),
    (errors.AlreadyExists, 400, ""),
    (errors.NotADirectory, 400, ""),
    (errors.IsADirectory, 400, ""),
    (errors.PermissionDenied, 403, ""),
    (errors.CommandTimeout, 408, ""),
    (errors.OutputTooLarge, 413, ""),
    (errors.SubmissionRejected, 400, ""),
    (errors.ClusterUnreachable, 424, ""),
    (errors.DependencyUnavailable, 503, ""),
    (errors.CommandFailed, 400, ""),
]


def error_of(failure: errors.FirecrestError) -> tuple[int, str, str]:
    """(status, errorType, message) of a layer's failure."""
    for kind, status, prefix in ERROR_STATUS:
        if isinstance(failure, kind):
            kind_name = "validation" if isinstance(failure, errors.InvalidInput) else "error"
            return status, kind_name, prefix + failure.description
    return 500, "error", "an error occurred during the request process"


class V2Handler(APIHandler):
    """Base of the v2 handlers: v1's authentication, v2's headers and errors."""

    def set_default_headers(self):
        # Also called again when an error clears the response, so errors carry them too.
        self.set_header("F7T-AppVersion", APP_VERSION)
        self.set_header("F7T-Timestamp", f"{time.time():.6f}")

    async def prepare(self):
        await super().prepare()
        self.set_header("F7T-AuthUsername", self.username)

    def system_named(self, name: str) -> System:
        """The system of the `{system_name}` path part, or v2's 404."""
        system = self.service.access.systems.get(name)
        if system is None:
            raise APIError(404, f"System not found: there is no system {name!r}")
        return system

    # ---- parameters -------------------------------------------------------------------------------

    def query(self, name: str, *, required: bool = False) -> str | None:
        """A query parameter exactly as sent (v1's reading: control characters are refused, not blanked)."""
        request = self.request
        values = request.query_arguments.get(name)
        if not values:
            if required:
                raise errors.InvalidInput(f"the query parameter {name!r} is required")
            return None
        try:
            return values[-1].decode()
        except UnicodeDecodeError:
            raise errors.InvalidInput(f"{name} is not UTF-8 text") from None

    def query_flag(self, name: str) -> bool:
        return flag(name, self.query(name))

    def query_number(self, name: str, low: int, high: int) -> int | None:
        value = self.query(name)
        if value is None:
            return None
        if not (value.isascii() and value.lstrip("-").isdigit()) or not low <= int(value) <= high:
            raise errors.InvalidInput(f"{name} must be a whole number from {low} to {high}, not {value!a}")
        return int(value)

    def json_body(self) -> dict:
        """The request's JSON object; a validation error for anything else."""
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise errors.InvalidInput("the request body is not JSON") from None
        if not isinstance(body, dict):
            raise errors.InvalidInput("the request body must be a JSON object")
        return body

    # ---- answers ------------------------------------------------------------------------------------

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()

    def _handle_request_exception(self, error: BaseException) -> None:
        if isinstance(error, errors.FirecrestError):
            status, kind, message = error_of(error)
            error = APIError(status, message, error=kind)
        super()._handle_request_exception(error)

    def write_error(self, status_code: int, **kwargs) -> None:
        """The one v2 error writer: `{errorType, message, data, user}`; never a traceback."""
        failure = kwargs.get("exc_info", (None, None, None))[1]
        kind, message = "error", self._reason
        if isinstance(failure, errors.FirecrestError):
            _, kind, message = error_of(failure)
        elif isinstance(failure, APIError):
            kind, message = failure.error if failure.error in ("validation", "error") else "error", failure.description
        elif isinstance(failure, HTTPError) and failure.log_message:
            message = failure.log_message % failure.args if failure.args else failure.log_message
        user = self.current_user["name"] if isinstance(self.current_user, dict) else None
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"errorType": kind, "message": message, "data": None, "user": user}))


class V2PublicHandler(V2Handler):
    """No token asked: what these answer holds nothing of any user."""

    async def prepare(self):
        pass


def flag(name: str, value) -> bool:
    """A boolean as v2 reads one (true/false, 1/0, yes/no...), from a query string or a JSON body."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE:
        return True
    if isinstance(value, str) and value.lower() in _FALSE:
        return False
    raise errors.InvalidInput(f"{name} must be true or false, not {value!a}")


def field(body: dict, *names: str, required: bool = False):
    """The first of `names` (v2's camelCase alias, its snake_case name...) that `body` has, as text."""
    for name in names:
        if body.get(name) is not None:
            value = body[name]
            if not isinstance(value, str):
                raise errors.InvalidInput(f"{name} must be a string")
            return value
    if required:
        raise errors.InvalidInput(f"the field {names[0]!r} is required")
    return None


class UnknownPathHandler(V2Handler):
    """Any path under the v2 API that no route matches: v2's JSON 404."""

    async def prepare(self):
        raise APIError(404, f"Not Found: there is no endpoint {self.request.path}")
