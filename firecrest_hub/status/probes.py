"""The health checks: what each one runs, and how its result reads.

A probe never raises: every failure becomes a `Health` with `ok=False` whose description says what
failed, so that the status endpoints can show it as it is. The checks of a system run over the
connection pool as the system's `service_account`, with a certificate of our CA, so that "available"
means what user requests need really works: sshd answers and trusts our CA, Slurm answers, and each
configured filesystem is there.
"""

from __future__ import annotations

import asyncio
import posixpath
from dataclasses import dataclass

from ..config import System
from ..delegation import CertificateAuthority
from ..errors import FirecrestError
from ..filesystem.commands import plain
from ..remote import CommandResult, ConnectionPool, RemoteCommand
from ..staging.objectstore import ObjectStore, ObjectStoreUnavailable
from ..tasks import TaskStore

# The hub user named in the key id of the probes' certificates, so that sshd's log says who logged in.
PROBE_HUB_USER = "status-probe"
SYSTEM_READY = "System ready"


@dataclass(frozen=True)
class Health:
    ok: bool
    description: str


@dataclass(frozen=True)
class FilesystemHealth:
    path: str
    health: Health

    @property
    def name(self) -> str:
        """A short name for v1's `name` field ("home" for /home); our config names roots by path only."""
        return posixpath.basename(self.path) or "root"


@dataclass(frozen=True)
class SystemHealth:
    system: str
    login: Health
    scheduler: Health
    filesystems: tuple[FilesystemHealth, ...]

    @property
    def health(self) -> Health:
        """Available only when everything works; otherwise the description names every failed part."""
        if not self.login.ok:
            return self.login  # nothing else could be checked
        problems = [self.scheduler.description] if not self.scheduler.ok else []
        problems += [fs.health.description for fs in self.filesystems if not fs.health.ok]
        return Health(False, "; ".join(problems)) if problems else Health(True, SYSTEM_READY)


def _message(result: CommandResult) -> str:
    return plain(result.stderr or result.stdout) or f"{result.argv[0]} exited with status {result.exit_status}"


class Check(RemoteCommand[Health]):
    """A health check run on a system; `failure` says what it means when the check fails."""

    failure = ""

    def __init__(self, timeout: float):
        self.timeout = timeout

    def failed(self, reason: str) -> Health:
        return Health(False, f"{self.failure}: {reason}")


class CheckLogin(Check):
    """The cheapest command there is: it proves that sshd answers and lets the account in."""

    failure = "SSH login failed"

    def argv(self) -> list[str]:
        return ["true"]

    def parse(self, result: CommandResult) -> Health:
        return Health(True, "logged in") if result.ok else self.failed(_message(result))


class PingScheduler(Check):
    """`scontrol ping`: one request to slurmctld; it exits non-zero when the controller is down."""

    failure = "Slurm does not answer"

    def argv(self) -> list[str]:
        return ["scontrol", "ping"]

    def parse(self, result: CommandResult) -> Health:
        if result.ok:
            return Health(True, plain(result.stdout) or "Slurm answers")
        # A down controller is reported on stdout ("Slurmctld(primary) at host is DOWN").
        return self.failed(plain(result.stdout) or _message(result))


class CheckDirectory(Check):
    """`stat` of a filesystem root: it must be a directory the service account can reach."""

    def __init__(self, path: str, timeout: float):
        super().__init__(timeout)
        self.path = path
        self.failure = f"filesystem {path} is not available"

    def argv(self) -> list[str]:
        return ["stat", "--dereference", "--format=%F", "--", self.path]

    def parse(self, result: CommandResult) -> Health:
        if not result.ok:
            return self.failed(_message(result))
        kind = result.stdout.strip()
        if kind != "directory":
            return self.failed(f"it is a {kind}, not a directory")
        return Health(True, f"{self.path} is reachable")


async def probe_system(pool: ConnectionPool, system: System, timeout: float) -> SystemHealth:
    """Log in first (nothing else can work without it), then ask Slurm and check the filesystems side by
    side. Each check has its own time limit, so a hung Slurm or filesystem is told apart from the login."""
    session = pool.session(system, system.service_account, PROBE_HUB_USER)

    async def run(check: Check) -> Health:
        try:
            async with asyncio.timeout(timeout):
                return await session.execute(check)
        except TimeoutError:
            return check.failed(f"no answer within {timeout:g} s")
        except FirecrestError as error:
            return check.failed(error.description)

    login = await run(CheckLogin(timeout))
    if not login.ok:
        return _unreachable(system, login)
    scheduler, *filesystems = await asyncio.gather(
        run(PingScheduler(timeout)), *(run(CheckDirectory(path, timeout)) for path in system.filesystems))
    return SystemHealth(
        system.name,
        Health(True, f"sshd at {system.host}:{system.port} lets {system.service_account} in with our certificate"),
        scheduler,
        tuple(FilesystemHealth(path, health) for path, health in zip(system.filesystems, filesystems)),
    )


def _unreachable(system: System, login: Health) -> SystemHealth:
    where = Health(False, f"{login.description} (as {system.service_account} at {system.host}:{system.port})")
    not_checked = Health(False, "not checked: the SSH login failed")
    return SystemHealth(system.name, where, not_checked,
                        tuple(FilesystemHealth(path, not_checked) for path in system.filesystems))


def probe_authority(authority: CertificateAuthority) -> Health:
    """The CA key is loaded at start; signing one short certificate proves it still works."""
    try:
        authority.sign(PROBE_HUB_USER, PROBE_HUB_USER, lifetime=60)
    except Exception as error:  # any failure to sign means no user can reach a system
        return Health(False, f"the user CA cannot sign certificates: {error}")
    return Health(True, "the user CA signs certificates")


async def probe_object_store(objects: ObjectStore, timeout: float) -> Health:
    """The staging store as staging uses it: it answers, and accepts the service's credentials."""
    if not objects.configured:
        return Health(False, "no object store is configured (ObjectStore.endpoint_url)")
    try:
        async with asyncio.timeout(timeout):
            await objects.ping()
    except TimeoutError:
        return Health(False, f"the object store at {objects.endpoint_url} did not answer within {timeout:g} s")
    except ObjectStoreUnavailable as error:
        return Health(False, error.description)
    return Health(True, f"the object store at {objects.endpoint_url} answers")


async def probe_task_store(store: TaskStore, timeout: float) -> Health:
    """A real query that finds nothing: no hub user has an empty name."""
    try:
        async with asyncio.timeout(timeout):
            await store.get(user="", task_id="")
    except TimeoutError:
        return Health(False, f"the task database did not answer within {timeout:g} s")
    except Exception as error:  # a closed or broken store, whatever its driver raises
        return Health(False, f"the task database does not answer: {getattr(error, 'description', error)}")
    return Health(True, "the task database answers")
