"""Systems are declared once, in `jupyterhub_config.py`, and read by the service and the spawner alike."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from traitlets import List, Dict, TraitError, validate
from traitlets.config import Configurable

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_REQUIRED = ("name", "host", "known_hosts", "filesystems")


@dataclass(frozen=True)
class System:
    """One cluster reachable over SSH: where its login node is and what it offers."""

    name: str
    host: str
    port: int
    known_hosts: str
    filesystems: tuple[str, ...]
    default_partition: str | None = None
    transfer_partition: str | None = None
    service_account: str = "firecrest"
    description: str = ""

    @classmethod
    def from_dict(cls, spec: dict) -> "System":
        missing = [key for key in _REQUIRED if not spec.get(key)]
        if missing:
            raise TraitError(f"system {spec.get('name', '?')!r} lacks {', '.join(missing)}")
        unknown = set(spec) - set(cls.__dataclass_fields__)
        if unknown:
            raise TraitError(f"system {spec['name']!r}: unknown keys {', '.join(sorted(unknown))}")
        if not _NAME.fullmatch(spec["name"]):
            raise TraitError(f"system name {spec['name']!r} is not a plain name")
        filesystems = tuple(os.path.normpath(fs) for fs in spec["filesystems"])
        for fs in filesystems:
            if not fs.startswith("/"):
                raise TraitError(f"system {spec['name']!r}: filesystem {fs!r} is not absolute")
        return cls(**{**spec, "port": int(spec.get("port", 22)), "filesystems": filesystems})


class Systems(Configurable):
    """The clusters this deployment opens to the web."""

    systems = List(
        Dict(),
        help="""Systems as dicts: name, host, port (default 22), known_hosts (a file with the login node's
        host key), filesystems (absolute roots users may touch), default_partition (preselected for
        notebook servers; a job that names none gets Slurm's default), transfer_partition (for staging
        and internal transfers), service_account (the cluster account that reads shared
        scheduler state, such as the queue for the job-state cache), description.""",
    ).tag(config=True)

    @validate("systems")
    def _validate_systems(self, proposal):
        specs = [System.from_dict(spec) for spec in proposal["value"]]
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise TraitError(f"system names must be unique: {names}")
        return proposal["value"]

    def all(self) -> list[System]:
        return [System.from_dict(spec) for spec in self.systems]

    def get(self, name: str) -> System | None:
        return next((system for system in self.all() if system.name == name), None)


def load_config_file(path: str):
    """The traitlets config of a `jupyterhub_config.py`, for tools and tests that read the same file."""
    from traitlets.config.loader import PyFileConfigLoader

    directory, filename = os.path.split(os.path.abspath(path))
    return PyFileConfigLoader(filename, path=directory).load_config()
