"""The account policy without a cluster: what the mapping may name, and that nothing is signed for an
account the policy refuses (the uid lookup is replayed, the CA counts its signatures)."""

from __future__ import annotations

import asyncio

import pytest
from traitlets.config import Config

from firecrest_hub.access import Access, LookUpUid
from firecrest_hub.config import System
from firecrest_hub.errors import ClusterUnreachable, PermissionDenied
from firecrest_hub.remote import CommandResult

SYSTEM = System("cluster", "127.0.0.1", 2222, "/dev/null", ("/home",), service_account="svc")
# What `getent passwd` answers on the fake system: account -> uid (missing: getent exits 2).
UIDS = {"alice": 1001, "bob": 1002, "www-data": 33, "svc": 1003, "nobody": 65534}


class FakeAccess(Access):
    """The real policy; the lookups answer from UIDS, and certificates are only counted."""

    def __init__(self, **traits):
        config = Config({"AccountMapper": traits})
        super().__init__(config=config)
        self.lookups: list[str] = []
        self.signed: list[str] = []
        self.failure: Exception | None = None
        self.pool.session = self._session

    def _session(self, system, account, hub_user=None):
        self.signed.append(account)  # a real session signs a certificate for `account` on first use
        return FakeSession(self, system, account)


class FakeSession:
    def __init__(self, access: FakeAccess, system: System, account: str):
        self.access, self.system, self.account = access, system, account

    async def execute(self, command: LookUpUid):
        self.access.lookups.append(command.account)
        if self.access.failure:
            raise self.access.failure
        uid = UIDS.get(command.account)
        stdout = f"{command.account}:x:{uid}:{uid}::/home/{command.account}:/bin/bash\n" if uid else ""
        return command.parse(CommandResult(tuple(command.argv()), 0 if uid else 2, stdout, ""))


@pytest.fixture(autouse=True)
def _ca_key(monkeypatch, tmp_path):
    import asyncssh

    key = tmp_path / "ca"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(key))
    key.chmod(0o400)
    monkeypatch.setattr("firecrest_hub.access.CertificateAuthority", _authority(str(key)))


def _authority(path):
    from firecrest_hub.delegation import CertificateAuthority

    class Authority(CertificateAuthority):
        def __init__(self, **kwargs):
            super().__init__(ca_key_file=path, **kwargs)

    return Authority


async def test_an_ordinary_account_is_admitted_and_its_uid_asked_once():
    access = FakeAccess()
    sessions = await asyncio.gather(*(access.session_for("alice", SYSTEM) for _ in range(5)))
    assert {session.account for session in sessions} == {"alice"}
    assert access.lookups == ["alice"]  # concurrent askers share one lookup, later ones the cached answer
    await access.session_for("alice", SYSTEM)
    assert access.lookups == ["alice"]


@pytest.mark.parametrize(("hub_user", "reason"), [
    ("root", "reserved for the system or the service"),
    ("nobody", "reserved for the system or the service"),
    ("svc", "reserved for the system or the service"),  # the system's service_account
    ("www-data", "system account on 'cluster' (uid 33, below 1000)"),
    ("ghost", "there is no account 'ghost'"),
    ("Not-Posix", "has no valid account"),
])
async def test_reserved_and_system_accounts_are_refused_before_any_certificate(hub_user, reason):
    access = FakeAccess()
    with pytest.raises(PermissionDenied, match=reason.replace("(", r"\(").replace(")", r"\)")):
        await access.session_for(hub_user, SYSTEM)
    # Only the service account asked for the uid; nothing was ever signed for the refused account.
    assert hub_user not in access.signed and set(access.signed) <= {"svc"}


async def test_a_mapping_cannot_lead_to_a_reserved_account():
    access = FakeAccess(accounts={"mallory": "root", "eve": "svc", "carol": "alice"})
    for hub_user in ("mallory", "eve"):
        with pytest.raises(PermissionDenied):
            await access.session_for(hub_user, SYSTEM)
    assert (await access.session_for("carol", SYSTEM)).account == "alice"
    assert await access.hub_users_for("alice", SYSTEM) == ["alice", "carol"]
    assert await access.hub_users_for("root", SYSTEM) == []


async def test_the_deny_list_and_the_minimum_uid_are_configurable():
    access = FakeAccess(denied_accounts={"bob"}, min_uid=0)
    assert (await access.session_for("www-data", SYSTEM)).account == "www-data"
    assert access.lookups == []  # min_uid 0: no lookup at all
    with pytest.raises(PermissionDenied):
        await access.session_for("bob", SYSTEM)


async def test_a_system_that_does_not_answer_is_asked_again_next_time():
    access = FakeAccess()
    access.failure = ClusterUnreachable("system 'cluster' is unreachable")
    with pytest.raises(ClusterUnreachable):
        await access.session_for("alice", SYSTEM)
    access.failure = None
    assert (await access.session_for("alice", SYSTEM)).account == "alice"
    assert access.lookups == ["alice", "alice"]


def test_the_uid_lookup_puts_the_account_after_the_end_of_options():
    assert LookUpUid("alice").argv() == ["getent", "passwd", "--", "alice"]
