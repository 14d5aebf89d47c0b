"""status: v2's systems (each with its health and its scheduler, SSH and filesystem description),
liveness, and a system's nodes, partitions, reservations and the caller's user information.

Health comes from the background checks (firecrest_hub/status), read at once; nodes, partitions and
reservations from the scheduler as the caller's account, as v1's compute queries read them (without a task).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ...compute import Node, Partition, Reservation
from ...config import System
from ...filesystem import FileOperations
from ...status import Health, HealthReport, SystemHealth
from .base import V2Handler, V2PublicHandler
from .times import epoch_seconds


def _checked_at(report: HealthReport) -> str | None:
    """When the last round of health checks ended, as v2's ISO 8601 date-time in UTC."""
    if report.checked_at is None:
        return None
    moment = time.time() - (time.monotonic() - report.checked_at)
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _health(kind: str, health: Health, checked: str | None, **extra) -> dict:
    return {"serviceType": kind, "healthy": health.ok, "message": health.description, "lastChecked": checked,
            "latency": None, **extra}


def system_json(system: System, health: SystemHealth, report: HealthReport, service) -> dict:
    checked = _checked_at(report)
    pool = service.access.pool
    return {
        "name": system.name,
        "ssh": {"host": system.host, "port": system.port, "maxClients": pool.max_channels,
                "timeout": {"commandExecution": pool.command_timeout}},
        "scheduler": {"type": "slurm", "version": "", "connectionMode": "ssh",
                      "timeout": service.access.scheduler.command_timeout},
        "probing": {"intervalCheck": service.health.interval, "timeout": service.health.timeout},
        "servicesHealth": [
            _health("ssh", health.login, checked),
            _health("scheduler", health.scheduler, checked),
            *(_health("filesystem", fs.health, checked, path=fs.path) for fs in health.filesystems),
        ],
        # Our systems name their filesystems by path only; the first is where work starts.
        "fileSystems": [{"path": path, "dataType": "users", "defaultWorkDir": index == 0}
                        for index, path in enumerate(system.filesystems)],
        "dataOperation": {"max_ops_file_size": service.max_file_size, "datatransfer_jobs_directives": []},
        "lastHealthCheck": checked,
    }


class SystemsHandler(V2Handler):
    def get(self):
        report = self.service.health.report()
        systems = [system_json(system, report.systems[system.name], report, self.service)
                   for system in self.service.access.systems.all()]
        self.write_json({"systems": systems})


class LivenessHandler(V2PublicHandler):
    def get(self):
        report = self.service.health.report()
        checked = _checked_at(report)
        self.write_json({"healthcheckRuns": {name: checked for name in report.systems} if checked else {},
                         "lastUpdate": 0 if report.checked_at is None else int(report.age)})


class SystemHandler(V2Handler):
    """A handler of `/status/{system_name}/...`: the system, and the caller's session on it."""

    async def prepare(self):
        await super().prepare()
        self.target = self.system_named(self.path_args[0])

    async def caller_session(self):
        return await self.session(self.target)

    @property
    def scheduler(self):
        return self.service.access.scheduler


def node_json(node: Node) -> dict:
    return {"name": node.name, "hostname": node.fields.get("NodeHostName") or None,
            "address": node.fields.get("NodeAddr") or None, "state": node.state, "partitions": node.partitions,
            "features": node.active_features, "cpus": _number(node.cpus_total),
            "allocCpus": _number(node.cpus_allocated), "allocMemory": _number(node.fields.get("AllocMem")),
            "freeMemory": _number(node.fields.get("FreeMem"))}


def partition_json(partition: Partition) -> dict:
    return {"name": partition.name, "partition": partition.name, "cpus": _number(partition.total_cpus),
            "totalNodes": _number(partition.total_nodes)}


def reservation_json(reservation: Reservation) -> dict:
    return {"name": reservation.name, "nodeList": reservation.nodes, "state": reservation.state or None,
            "startTime": epoch_seconds(reservation.start_time), "endTime": epoch_seconds(reservation.end_time),
            "features": reservation.features or None}


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class NodesHandler(SystemHandler):
    async def get(self, _system):
        nodes = await self.scheduler.nodes(await self.caller_session())
        self.write_json({"nodes": [node_json(node) for node in nodes]})


class PartitionsHandler(SystemHandler):
    async def get(self, _system):
        partitions = await self.scheduler.partitions(await self.caller_session())
        self.write_json({"partitions": [partition_json(partition) for partition in partitions]})


class ReservationsHandler(SystemHandler):
    async def get(self, _system):
        reservations = await self.scheduler.reservations(await self.caller_session())
        self.write_json({"reservations": [reservation_json(reservation) for reservation in reservations]})


class UserInfoHandler(SystemHandler):
    async def get(self, _system):
        session = await self.caller_session()
        files = FileOperations(session, max_file_size=self.service.max_file_size,
                               max_entries=self.service.max_listing_entries)
        info = await files.whoami(groups=True)
        self.write_json({**info, "accounts": accounts_json(await self.scheduler.accounts(session))})


def accounts_json(accounts) -> list[dict]:
    """One entry per account (an account may have an association per partition), the default marked."""
    default_of: dict[str, bool] = {}
    for account in accounts:
        default_of[account.name] = default_of.get(account.name, False) or account.default
    return [{"name": name, "default": default} for name, default in default_of.items()]


routes = [
    (r"/status/systems", SystemsHandler),
    (r"/status/liveness/?", LivenessHandler),
    (r"/status/([^/]+)/nodes", NodesHandler),
    (r"/status/([^/]+)/partitions", PartitionsHandler),
    (r"/status/([^/]+)/reservations", ReservationsHandler),
    (r"/status/([^/]+)/userinfo", UserInfoHandler),
]
