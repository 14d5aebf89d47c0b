"""status: v1's services, systems, filesystems and parameters, with v1's shapes and status codes.

The health endpoints read the latest results of the background checks (firecrest_hub/status), so they
answer at once even while a system hangs or is down: it is then shown as unavailable, with what failed.
Statuses follow v1's published spec: "available"/"unavailable" for services and systems, and
"available"/"down" with `status_code` 200/400 for filesystems (v1's code said "not available").
"""

from .. import __version__
from ..status import FilesystemHealth, Health, HealthReport, SystemHealth
from .base import APIError, APIHandler

# pyfirecrest reads this from /status/parameters and enables every v1 feature from 1.16.0 on.
FIRECREST_VERSION = "v1.16.0"
MEGABYTE = 1024 * 1024


def service_json(name: str, health: Health) -> dict:
    return {
        "service": name,
        "status": "available" if health.ok else "unavailable",
        "status_code": 200 if health.ok else 400,
        "description": health.description,
    }


def system_json(system: SystemHealth) -> dict:
    health = system.health
    return {"system": system.system, "status": "available" if health.ok else "unavailable",
            "description": health.description}


def filesystem_json(filesystem: FilesystemHealth) -> dict:
    ok = filesystem.health.ok
    return {
        "name": filesystem.name,
        "path": filesystem.path,
        "description": filesystem.health.description,
        "status": "available" if ok else "down",
        "status_code": 200 if ok else 400,
    }


class StatusHandler(APIHandler):
    @property
    def report(self) -> HealthReport:
        return self.service.health.report()


class ServicesHandler(StatusHandler):
    def get(self):
        services = [service_json(name, health) for name, health in self.report.services.items()]
        self.write_json({"description": "List of services with status and description.", "out": services})


class ServiceHandler(StatusHandler):
    def get(self, name: str):
        health = self.report.services.get(name)
        if health is None:
            # v1's own body, which clients read: {"description": "Service does not exists", "status_code": 404}
            self.write_json({"description": "Service does not exists", "status_code": 404}, 404)
            return
        # v1 answers this one without the {description, out} envelope, and pyfirecrest reads it so.
        self.write_json(service_json(name, health))


class SystemsHandler(StatusHandler):
    def get(self):
        systems = [system_json(system) for system in self.report.systems.values()]
        self.write_json({"description": "List of systems with status and description.", "out": systems})


class SystemHandler(StatusHandler):
    def get(self, name: str):
        system = self.report.systems.get(name)
        if system is None:
            raise APIError(404, f"there is no system {name!r}", error="System does not exist")
        self.write_json({"description": "System information", "out": system_json(system)})


class FilesystemsHandler(StatusHandler):
    def get(self):
        out = {name: [filesystem_json(fs) for fs in system.filesystems]
               for name, system in self.report.systems.items()}
        self.write_json({"description": "Filesystem information", "out": out})


class SystemFilesystemsHandler(StatusHandler):
    def get(self, name: str):
        system = self.report.systems.get(name)
        if system is None:
            raise APIError(404, f"there is no system {name!r}", error="System does not exist")
        self.write_json({"description": f"Filesystem information for system {name}",
                         "out": [filesystem_json(fs) for fs in system.filesystems]})


class ParametersHandler(APIHandler):
    def get(self):
        service = self.service
        self.write_json({
            "description": "Firecrest's parameters",
            "out": {
                "general": [
                    _parameter("FIRECREST_VERSION", FIRECREST_VERSION, "",
                               "FirecREST API version this service implements."),
                    _parameter("FIRECREST_BUILD", __version__, "", "Version of firecrest-hub."),
                ],
                "compute": [
                    _parameter("WORKLOAD_MANAGER", "Slurm", "", "Workload manager of the systems."),
                ],
                "utilities": [
                    _parameter("UTILITIES_MAX_FILE_SIZE", str(service.max_file_size // MEGABYTE), "MB",
                               "Largest file the utilities endpoints upload, download or view; "
                               "larger ones go through staging."),
                    _parameter("UTILITIES_TIMEOUT", f"{service.access.pool.command_timeout:g}", "seconds",
                               "Time limit of one command run on a system."),
                ],
                "storage": [
                    _parameter("OBJECT_STORAGE", "s3v4", "", "Kind of object storage used for staging."),
                    _parameter("FILESYSTEMS", [{"system": system.name, "mounted": list(system.filesystems)}
                                               for system in service.access.systems.all()],
                               "", "Filesystems of each system that the API opens."),
                ],
            },
        })


def _parameter(name: str, value, unit: str, description: str) -> dict:
    return {"name": name, "value": value, "unit": unit, "description": description}


routes = [
    (r"/status/services", ServicesHandler),
    (r"/status/services/([^/]+)", ServiceHandler),
    (r"/status/systems", SystemsHandler),
    (r"/status/systems/([^/]+)", SystemHandler),
    (r"/status/filesystems", FilesystemsHandler),
    (r"/status/filesystems/([^/]+)", SystemFilesystemsHandler),
    (r"/status/parameters", ParametersHandler),
]
