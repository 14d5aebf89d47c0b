"""The FirecREST v2 wire-compatible REST API, over the same layers as v1; each module lists its routes
next to its handlers."""

from . import compute, docs, filesystem, status, transfer
from .base import UnknownPathHandler

AREAS = [status, filesystem, transfer, compute, docs]

__all__ = ["UnknownPathHandler", "routes"]


def routes(prefix: str) -> list:
    """The v2 API's routes below `prefix`; the service adds UnknownPathHandler for `prefix/.*` after them."""
    return [(prefix + path, handler) for area in AREAS for path, handler in area.routes]
