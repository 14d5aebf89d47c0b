"""Systems are declared once, in `jupyterhub_config.py`, and read by the service and the spawner alike."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from traitlets import List, Dict, TraitError, validate
from traitlets.config import Configurable

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_REQUIRED = ("name", "host", "known_hosts", "filesystems")
_PORTS = range(1, 65536)


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
    reservation_account: str | None = None
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
        port = spec.get("port", 22)
        # bool is an int to Python; "port": True is a mistake, not port 1.
        if isinstance(port, bool) or not isinstance(port, int) or port not in _PORTS:
            raise TraitError(f"system {spec['name']!r}: port {port!r} is not a TCP port (an integer 1-65535)")
        filesystems = tuple(os.path.normpath(fs) for fs in spec["filesystems"])
        for fs in filesystems:
            if not fs.startswith("/"):
                raise TraitError(f"system {spec['name']!r}: filesystem {fs!r} is not absolute")
        return cls(**{**spec, "port": port, "filesystems": filesystems})


class Systems(Configurable):
    """The clusters this deployment opens to the web."""

    systems = List(
        Dict(),
        help="""Systems as dicts: name, host, port (an integer 1-65535, default 22), known_hosts (a file
        with the login node's host key; it must exist at start), filesystems (absolute roots users may
        touch), default_partition (preselected for notebook servers; a job that names none gets Slurm's
        default), transfer_partition (for staging and internal transfers), service_account (the cluster
        account that reads shared scheduler state, such as the queue for the job-state cache),
        description.""",
    ).tag(config=True)

    @validate("systems")
    def _validate_systems(self, proposal):
        systems = [System.from_dict(spec) for spec in proposal["value"]]
        names = [system.name for system in systems]
        if len(set(names)) != len(names):
            raise TraitError(f"system names must be unique: {names}")
        for system in systems:
            # Checked here, once at start, not in from_dict (which every request's look-up runs): without
            # the file every login to the system would fail host-key verification, long after start.
            if not os.path.isfile(system.known_hosts):
                raise TraitError(f"system {system.name!r}: known_hosts {system.known_hosts!r} is not a file")
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
