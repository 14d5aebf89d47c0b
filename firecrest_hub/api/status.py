"""status: the service's own parameters (more of v1's status area arrives with the REST API)."""

from .. import __version__
from .base import APIHandler

# pyfirecrest enables its newest v1 features from this version on.
FIRECREST_VERSION = "v1.16.0"


class ParametersHandler(APIHandler):
    def get(self):
        service = self.service
        self.write_json({
            "description": "Firecrest's parameters",
            "out": {
                "general": [
                    {"name": "FIRECREST_VERSION", "value": FIRECREST_VERSION, "unit": ""},
                    {"name": "FIRECREST_BUILD", "value": __version__, "unit": ""},
                ],
                "utilities": [
                    {"name": "UTILITIES_MAX_FILE_SIZE", "value": service.max_file_size // (1024 * 1024), "unit": "MB"},
                    {"name": "UTILITIES_TIMEOUT", "value": service.pool.command_timeout, "unit": "seconds"},
                ],
                "storage": [],
                "compute": [],
            },
        })


routes = [
    (r"/status/parameters", ParametersHandler),
]
