"""The health of the service's parts, checked in the background and read at once.

A status request must answer at once even when a system hangs, so requests never probe anything:
they read the latest `HealthReport`. A background loop refreshes it every `interval`; a request that
finds the report older than that (the loop fell behind, or none runs) starts a refresh for the next
reader and still answers with what there is. Refreshes are single-flight: one round of probes at a
time, whoever asks. Each replica of the service probes for itself; the report is not shared state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from traitlets import Float
from traitlets.config import Configurable

from ..config import System
from ..delegation import CertificateAuthority
from ..remote import ConnectionPool
from ..staging import ObjectStore
from ..tasks import TaskStore
from .probes import (
    FilesystemHealth, Health, SystemHealth, probe_authority, probe_object_store, probe_system, probe_task_store,
)

log = logging.getLogger(__name__)

# FirecREST v1's microservices, which are parts of this one process; each is available when what it
# depends on works: certificator the user CA, utilities sshd of every system, compute Slurm of every
# system, storage the S3 object store, tasks the task database, reservations Slurm of every system that
# has a reservation_account (and there must be one).
SERVICES = ("certificator", "utilities", "compute", "storage", "tasks", "reservations", "status")


@dataclass(frozen=True)
class HealthReport:
    """The latest result of each probe. `checked_at` is the `time.monotonic()` when the last complete
    round of probes ended (None before the first)."""

    services: dict[str, Health]
    systems: dict[str, SystemHealth]
    checked_at: float | None

    @property
    def age(self) -> float:
        return float("inf") if self.checked_at is None else time.monotonic() - self.checked_at

    @classmethod
    def unchecked(cls, systems: Sequence[System]) -> "HealthReport":
        """What requests see before the first results are in: nothing is known to work yet."""
        pending = Health(False, "not checked yet: the first health check is running")
        return cls(
            services={name: (Health(True, "this status service answers") if name == "status" else pending)
                      for name in SERVICES},
            systems={system.name: SystemHealth(system.name, pending, pending,
                                               tuple(FilesystemHealth(path, pending) for path in system.filesystems))
                     for system in systems},
            checked_at=None,
        )


class StatusProbes(Configurable):
    """Probes every system and dependency of the service, and keeps the latest results."""

    interval = Float(
        30,
        min=1,
        help="""Seconds between two rounds of health checks. A status request never waits for a check:
        it reads the latest round's results (and starts a round if they are older than this).""",
    ).tag(config=True)

    timeout = Float(
        10,
        min=1,
        help="""Seconds one check may take (an SSH login, `scontrol ping`, a filesystem `stat`, an HTTP
        request to the object store); a check that takes longer counts as failed.""",
    ).tag(config=True)

    def __init__(self, systems: Sequence[System], pool: ConnectionPool, authority: CertificateAuthority,
                 task_store: TaskStore, objects: ObjectStore, **kwargs):
        super().__init__(**kwargs)
        self.systems = tuple(systems)
        self.pool = pool
        self.authority = authority
        self.task_store = task_store
        self.objects = objects
        self._report = HealthReport.unchecked(self.systems)
        self._round: asyncio.Task | None = None
        self._loop: asyncio.Task | None = None

    def report(self) -> HealthReport:
        """The latest results, at once; a stale report also starts a round for the next reader."""
        if self._report.age > self.interval:
            self._start_round()
        return self._report

    async def refresh(self) -> HealthReport:
        """Run a round (or join the one running) and return its results."""
        await asyncio.shield(self._start_round())
        return self._report

    def start(self) -> None:
        """Start the background loop (from the running event loop)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def stop(self) -> None:
        for task in (self._loop, self._round):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._loop = self._round = None

    async def _refresh_forever(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval)

    def _start_round(self) -> asyncio.Task:
        if self._round is None or self._round.done():
            self._round = asyncio.get_running_loop().create_task(self._run_round())
        return self._round

    async def _run_round(self) -> None:
        """Probe everything at once; each result is shown as soon as it is in, so one hanging system
        delays nobody else's results (it keeps its previous result until its probe times out)."""
        started, before = time.monotonic(), self._report
        self._publish(service=("certificator", probe_authority(self.authority)))

        async def check_system(system: System) -> None:
            self._publish(system=await probe_system(self.pool, system, self.timeout))

        async def check_service(name: str, probe) -> None:
            self._publish(service=(name, await probe))

        outcomes = await asyncio.gather(
            check_service("storage", probe_object_store(self.objects, self.timeout)),
            check_service("tasks", probe_task_store(self.task_store, self.timeout)),
            *(check_system(system) for system in self.systems),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                # Probes turn failures into results; an exception is a bug. That part keeps its last result.
                log.error("a health check failed unexpectedly", exc_info=outcome)
        self._report = replace(self._report, checked_at=time.monotonic())
        log.debug("health checked in %.2f s", time.monotonic() - started)
        _log_changes(before, self._report)

    def _publish(self, *, system: SystemHealth | None = None, service: tuple[str, Health] | None = None) -> None:
        """Put one result into the report; `utilities` and `compute` follow from the systems' results."""
        systems = dict(self._report.systems)
        services = dict(self._report.services)
        if system is not None:
            systems[system.system] = system
        if service is not None:
            services[service[0]] = service[1]
        services["utilities"] = _all_of(systems.values(), "login", "sshd accepts our certificates on every system")
        services["compute"] = _all_of(systems.values(), "scheduler", "Slurm answers on every system")
        reserving = [systems[system.name] for system in self.systems if system.reservation_account]
        services["reservations"] = (
            _all_of(reserving, "scheduler", "Slurm answers on every system that offers reservations") if reserving
            else Health(False, "no system offers reservations: none has a reservation_account"))
        self._report = HealthReport(services, systems, self._report.checked_at)


def _all_of(systems: Iterable[SystemHealth], part: str, success: str) -> Health:
    """One service over all systems: available when that part works on each; else which failed, and why."""
    failures = [f"{health.system}: {getattr(health, part).description}"
                for health in systems if not getattr(health, part).ok]
    return Health(False, "; ".join(failures)) if failures else Health(True, success)


def _log_changes(previous: HealthReport, current: HealthReport) -> None:
    """Log each part that becomes unavailable or available again, once, instead of every round."""
    parts = [(f"service {name}", previous.services[name], health) for name, health in current.services.items()]
    parts += [(f"system {name}", previous.systems[name], health) for name, health in current.systems.items()]
    first_round = previous.checked_at is None
    for label, before, after in parts:
        now = _health(after)
        if not first_round and _health(before).ok == now.ok:
            continue
        if not now.ok:
            log.warning("%s is unavailable: %s", label, now.description)
        elif not first_round:
            log.info("%s is available again", label)


def _health(part: Health | SystemHealth) -> Health:
    return part.health if isinstance(part, SystemHealth) else part
