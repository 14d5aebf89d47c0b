"""The FirecREST v1 compatible REST API; each module lists its routes next to its handlers."""

from . import compute, docs, reservations, status, storage_external, storage_internal, tasks, utilities

AREAS = [status, tasks, utilities, compute, storage_internal, storage_external, reservations, docs]


def routes(prefix: str) -> list:
    return [(prefix + path, handler) for area in AREAS for path, handler in area.routes]
