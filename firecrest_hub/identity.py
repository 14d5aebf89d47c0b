"""Who a hub user is on each cluster."""

from __future__ import annotations

import re

from traitlets import Callable, Dict, Union
from traitlets.config import Configurable

from .errors import PermissionDenied

# The portable subset POSIX and useradd agree on; it also keeps the name safe in any argv or path.
POSIX_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def is_posix_account(name: str) -> bool:
    return bool(POSIX_ACCOUNT.fullmatch(name))


class AccountMapper(Configurable):
    """Maps a hub user to the cluster account that every action on a system runs as."""

    accounts = Union(
        [Dict(), Callable()],
        default_value={},
        help="""How hub users map to cluster accounts. Either a dict {hub user: account} or
        {system name: {hub user: account}}, or a callable (hub_user, system_name) -> account or None.
        Users not mapped keep their hub name. The result must be a POSIX account name, or access is
        refused.""",
    ).tag(config=True)

    def account_for(self, hub_user: str, system: str) -> str:
        account = None
        if callable(self.accounts):
            account = self.accounts(hub_user, system)
        elif isinstance(self.accounts.get(system), dict):
            account = self.accounts[system].get(hub_user)
        else:
            account = self.accounts.get(hub_user)
        account = account or hub_user
        if not is_posix_account(account):
            raise PermissionDenied(f"hub user {hub_user!r} has no valid account on system {system!r}")
        return account
