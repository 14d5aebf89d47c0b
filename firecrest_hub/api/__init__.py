"""The FirecREST v1 compatible REST API; each module lists its routes next to its handlers."""

from . import compute, docs, reservations, status, storage_external, storage_internal, tasks, utilities
from .base import APIError, APIHandler, HubUserHandler, OAuthCallbackHandler
from .token import TokenHandler

AREAS = [status, tasks, utilities, compute, storage_internal, storage_external, reservations, docs]


class UnknownPathHandler(APIHandler):
    """Any path under the API that no route matches: a JSON 404 like every other error, not tornado's page."""

    async def prepare(self):
        raise APIError(404, f"there is no endpoint {self.request.path}", error="Not Found")


def routes(prefix: str) -> list:
    """The API's routes below `prefix`; the service adds UnknownPathHandler for `prefix/.*` after them."""
    return [(prefix + path, handler) for area in AREAS for path, handler in area.routes]
