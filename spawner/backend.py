"""What every FirecrestSpawner of one hub process shares.

The access to the systems (firecrest_hub.access: systems, account policy, certificate authority, SSH
connection pool and the Slurm scheduler with its one job-state cache per system) is built once per hub
process from the hub's config, the same `c.Systems`, `c.AccountMapper`, `c.CertificateAuthority`,
`c.ConnectionPool`, `c.SlurmScheduler` and `c.JobStateCache` sections the firecrest service reads. So
twenty notebook servers share one SSH connection per account and one `squeue` per interval, not twenty.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass

from firecrest_hub.access import Access
from firecrest_hub.config import System
from firecrest_hub.remote import RemoteSession

from .options import PartitionLimits

# The config sections the backend is made of: two spawners whose config agrees on these share one.
SECTIONS = ("Systems", "AccountMapper", "CertificateAuthority", "ConnectionPool", "SlurmScheduler", "JobStateCache")


@dataclass(frozen=True)
class SystemOffer:
    """What a system offers notebook jobs: its partitions' limits and its reservations."""

    partitions: dict[str, PartitionLimits]
    reservations: frozenset[str]


class ClusterBackend:
    def __init__(self, config):
        self.access = Access(config=config)
        self.systems, self.scheduler = self.access.systems, self.access.scheduler
        self._offers: dict[str, tuple[float, asyncio.Future]] = {}

    def system(self, name: str) -> System:
        system = self.systems.get(name)
        if system is None:
            raise KeyError(f"no system {name!r} is configured")
        return system

    async def session(self, hub_user: str, system: System) -> RemoteSession:
        """The hub user's session on `system`, as the cluster account the policy admits for them."""
        return await self.access.session_for(hub_user, system)

    async def offer(self, session: RemoteSession, max_age: float) -> SystemOffer:
        """The partitions and reservations of the session's system, read at most once per `max_age`.

        Read with the session of whichever user asks first; every user then sees that read, since
        partitions and their limits are the same for everyone (Slurm still checks access at submit).
        Concurrent askers share one read.
        """
        name = session.system.name
        cached = self._offers.get(name)
        if cached and time.monotonic() - cached[0] < max_age and not _failed(cached[1]):
            return await asyncio.shield(cached[1])
        future = asyncio.ensure_future(self._read_offer(session))
        self._offers[name] = (time.monotonic(), future)
        return await asyncio.shield(future)

    async def _read_offer(self, session: RemoteSession) -> SystemOffer:
        scheduler = self.scheduler
        partitions, nodes, reservations = await asyncio.gather(
            scheduler.partitions(session), scheduler.nodes(session), scheduler.reservations(session))
        limits = {partition.name: PartitionLimits.from_scheduler(partition, nodes) for partition in partitions}
        return SystemOffer(limits, frozenset(reservation.name for reservation in reservations))


def _failed(future: asyncio.Future) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


_backends: dict[str, ClusterBackend] = {}


def backend_for(config) -> ClusterBackend:
    """The one backend of this process for `config` (a hub's traitlets config)."""
    key = repr([(section, config[section]) for section in SECTIONS])
    backend = _backends.get(key)
    if backend is None:
        backend = _backends[key] = ClusterBackend(config)
    return backend


def allowed_partitions(offer: SystemOffer, system: System, chosen: Collection[str]) -> dict[str, PartitionLimits]:
    """The partitions users may pick: the configured ones, or all but the system's transfer partition."""
    if chosen:
        return {name: limits for name, limits in offer.partitions.items() if name in chosen}
    return {name: limits for name, limits in offer.partitions.items() if name != system.transfer_partition}
