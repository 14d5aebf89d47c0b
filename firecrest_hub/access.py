"""The one place that builds access to the systems: who acts as which account, and the means to act.

    access = Access(parent=app)                                 # one per process (service or hub)
    session = await access.session_for("alice", access.system("cluster"))   # as alice's account
    jobid = await access.scheduler.submit(session, request)

`Access` holds the systems, the account policy, the user CA, the SSH connection pool and the scheduler
(with its one job-state cache per system). Everything else receives what it needs from here. A session
for a hub user exists only once the policy admitted the account: by name (identity.py) and by its uid
on the system, asked once per `AccountMapper.uid_cache_time` as the system's service account. Only then
can the pool sign a certificate for it.
"""

from __future__ import annotations

import asyncio
import time

from .compute import SlurmScheduler
from .config import System, Systems
from .delegation import CertificateAuthority
from .errors import AccountRefused, DependencyUnavailable, FirecrestError, InvalidInput
from .identity import AccountMapper
from .numbers import parse_whole_number
from .remote import CommandResult, ConnectionPool, RemoteCommand, RemoteSession

# The hub user named in the key id of the certificates that ask for uids, so sshd logs say why.
POLICY_HUB_USER = "account-policy"


class LookUpUid(RemoteCommand):
    """`getent passwd`: the account's uid as the system's name service has it, None if there is no such
    account (getent exits 2)."""

    def __init__(self, account: str, timeout: float | None = None):
        self.account, self.timeout = account, timeout

    def argv(self) -> list[str]:
        return ["getent", "passwd", "--", self.account]

    def parse(self, result: CommandResult) -> int | None:
        if result.exit_status == 2:
            return None
        fields = result.stdout.strip().split(":")
        uid = parse_whole_number(fields[2]) if result.ok and len(fields) > 2 else None
        if uid is None:
            raise AccountRefused(f"the system could not tell the uid of {self.account!r}: "
                                   f"{result.stderr.strip() or result.stdout.strip()}")
        return uid


class Access:
    """Systems, account policy, CA, pool and scheduler of one process, built from its config."""

    def __init__(self, **config):
        """`config` is what a Configurable takes: `parent=` (the service) or `config=` (the hub's config)."""
        self.systems = Systems(**config)
        self.accounts = AccountMapper(**config)
        self.authority = CertificateAuthority(**config)
        self.pool = ConnectionPool(self.authority, **config)
        self.scheduler = SlurmScheduler(self.pool, **config)
        # (system, account) -> (when the answer expires, the answer: a uid, or the refusal)
        self._uids: dict[tuple[str, str], tuple[float, asyncio.Future]] = {}

    def system(self, name: str) -> System:
        system = self.systems.get(name)
        if system is None:
            raise InvalidInput(f"there is no system {name!r}")
        return system

    async def session_for(self, hub_user: str, system: System) -> RemoteSession:
        """The hub user's session on `system`, as the account the policy admits; AccountRefused before
        any certificate is signed when it admits none."""
        account = self.accounts.account_for(hub_user, system)
        await self._admit(account, system)
        return self.pool.session(system, account, hub_user)

    def service_session(self, system: System, purpose: str) -> RemoteSession:
        """The system's service account, for what the service reads for everyone (the queue, health);
        `purpose` names it in the certificate's key id."""
        return self.pool.session(system, system.service_account, purpose)

    def operator_session(self, system: System, purpose: str) -> RemoteSession:
        """The system's reservation account, with Slurm operator rights, for the reservation commands the
        service runs for a user once it has checked them; DependencyUnavailable if the system has none."""
        if not system.reservation_account:
            raise DependencyUnavailable(f"system {system.name!r} offers no reservations: no reservation_account "
                                        "is configured for it")
        return self.pool.session(system, system.reservation_account, purpose)

    async def hub_users_for(self, account: str, system: System) -> list[str]:
        """The hub users who act as `account` on `system` (the inverse of the mapping, within the policy)."""
        users = []
        for hub_user in sorted(self.accounts.candidates_for(account, system)):
            try:
                if (await self.session_for(hub_user, system)).account == account:
                    users.append(hub_user)
            except FirecrestError:
                continue
        return users

    async def _admit(self, account: str, system: System) -> None:
        if not self.accounts.min_uid:
            return
        key = (system.name, account)
        cached = self._uids.get(key)
        if cached is None or cached[0] < time.monotonic() or _failed_transiently(cached[1]):
            future = asyncio.ensure_future(self._look_up_uid(account, system))
            cached = self._uids[key] = (time.monotonic() + self.accounts.uid_cache_time, future)
        uid = await asyncio.shield(cached[1])
        if uid is None:
            raise AccountRefused(f"there is no account {account!r} on system {system.name!r}")
        if uid < self.accounts.min_uid:
            raise AccountRefused(
                f"{account!r} is a system account on {system.name!r} (uid {uid}, below "
                f"{self.accounts.min_uid}); no hub user may act as it")

    async def _look_up_uid(self, account: str, system: System) -> int | None:
        session = self.service_session(system, POLICY_HUB_USER)
        return await session.execute(LookUpUid(account, self.pool.command_timeout))

    async def close(self) -> None:
        await self.pool.close()


def _failed_transiently(future: asyncio.Future) -> bool:
    """A lookup that failed because the system did not answer is asked again at the next request."""
    if not future.done():
        return False
    return future.cancelled() or (future.exception() is not None
                                  and not isinstance(future.exception(), AccountRefused))
