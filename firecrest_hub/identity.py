"""Who a hub user is on each cluster, and which cluster accounts no hub user may ever become.

The mapping (`AccountMapper.accounts`) names an account; the policy then refuses, before any
certificate is signed, every account that is not an ordinary user's: names on the deny list, the
service and reservation accounts of the systems, and accounts whose uid on the system is below
`min_uid`. An authenticator that admits arbitrary names (most OAuthenticators do) thus cannot hand out
`root`, `slurm` or the service's own accounts. The uid check needs the system, so it lives in `access.py`;
everything that can be decided from the name alone is decided here.
"""

from __future__ import annotations

import re

from traitlets import Callable, Dict, Float, Integer, Set, Union, Unicode
from traitlets.config import Configurable

from .config import System
from .errors import AccountRefused

# The portable subset POSIX and useradd agree on; it also keeps the name safe in any argv or path.
POSIX_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def is_posix_account(name: str) -> bool:
    return bool(POSIX_ACCOUNT.fullmatch(name))


class AccountMapper(Configurable):
    """Maps a hub user to the cluster account that every action on a system runs as, within the policy."""

    accounts = Union(
        [Dict(), Callable()],
        default_value={},
        help="""How hub users map to cluster accounts. Either a dict {hub user: account} or
        {system name: {hub user: account}}, or a callable (hub_user, system_name) -> account or None.
        Users not mapped keep their hub name. The result must be a POSIX account name that the policy
        admits (denied_accounts, min_uid), or access is refused.""",
    ).tag(config=True)

    denied_accounts = Set(
        Unicode(),
        default_value={"root", "nobody", "daemon", "bin", "sys", "slurm", "munge", "mysql", "postgres", "sshd"},
        help="""Cluster accounts no hub user may act as, whatever the mapping says. Each system's
        `service_account` and `reservation_account` are always denied as well, and so is any account below
        `min_uid`.""",
    ).tag(config=True)

    min_uid = Integer(
        1000,
        min=0,
        help="""Lowest uid (as the system reports it, `getent passwd`) of an account a hub user may act
        as: system accounts lie below it (1000 on Debian and RHEL). 0 turns the check off.""",
    ).tag(config=True)

    uid_cache_time = Float(
        600,
        min=0,
        max=86400,
        help="""Seconds a system's answer about an account's uid is kept before it is asked again.""",
    ).tag(config=True)

    def account_for(self, hub_user: str, system: System) -> str:
        """The account `hub_user` acts as on `system`; AccountRefused if there is none the policy admits
        by name (the uid check follows in `Access.session_for`)."""
        account = self._mapped(hub_user, system.name) or hub_user
        if not is_posix_account(account):
            raise AccountRefused(f"hub user {hub_user!r} has no valid account on system {system.name!r}")
        if account in self.denied_accounts or account in (system.service_account, system.reservation_account):
            raise AccountRefused(
                f"hub user {hub_user!r} would act as {account!r} on system {system.name!r}, "
                "an account reserved for the system or the service; ask the administrators for a mapping")
        return account

    def candidates_for(self, account: str, system: System) -> set[str]:
        """The hub users who may map to `account` on `system`: its own name and those a table sends there
        (a callable mapping can only be asked forwards, so it contributes same-name users only)."""
        table = {} if callable(self.accounts) else self._table(system.name)
        return {account} | {hub_user for hub_user, mapped in table.items() if mapped == account}

    def _mapped(self, hub_user: str, system_name: str) -> str | None:
        if callable(self.accounts):
            return self.accounts(hub_user, system_name)
        return self._table(system_name).get(hub_user)

    def _table(self, system_name: str) -> dict:
        """The dict mapping that applies on the system: its own section, or the one for every system."""
        section = self.accounts.get(system_name)
        return section if isinstance(section, dict) else self.accounts
