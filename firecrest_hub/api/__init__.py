"""The FirecREST v1 compatible REST API; each module lists its routes next to its handlers."""

from . import status

AREAS = [status]


def routes(prefix: str) -> list:
    return [(prefix + path, handler) for area in AREAS for path, handler in area.routes]
