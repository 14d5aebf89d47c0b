"""Delegation and remote access against the real sshd of the dev cluster."""

import asyncio
import time

import asyncssh
import pytest

from conftest import async_wait_for
from firecrest_hub.errors import CommandTimeout, OutputTooLarge, PermissionDenied, ClusterUnreachable
from firecrest_hub.config import System

pytestmark = pytest.mark.cluster


async def _login(system, authority, account, credential):
    return await asyncssh.connect(
        system.host, system.port, username=account, client_keys=credential.client_keys,
        known_hosts=system.known_hosts, agent_path=None, config=None,
    )


async def test_alice_certificate_logs_in_as_alice(alice):
    result = await alice.run(["whoami"])
    assert (result.exit_status, result.stdout) == (0, "alice\n")


async def test_alice_certificate_cannot_log_in_as_bob(system, authority):
    credential = authority.credential("alice", "alice")
    with pytest.raises(asyncssh.PermissionDenied):
        await _login(system, authority, "bob", credential)


async def test_expired_certificate_is_refused(system, authority):
    expired = authority.sign("alice", "alice", lifetime=60, not_before=time.time() - 600)
    with pytest.raises(asyncssh.PermissionDenied):
        await _login(system, authority, "alice", expired)


async def test_pool_maps_refusal_to_permission_denied(pool, system):
    with pytest.raises(PermissionDenied, match="refused the login as 'nosuchuser'"):
        await pool.session(system, "nosuchuser").run(["true"])


async def test_fifty_sequential_commands_reuse_one_connection(pool, alice):
    for number in range(50):
        result = await alice.run(["echo", str(number)])
        assert result.stdout == f"{number}\n"
    assert pool.connections_opened == 1


async def test_concurrent_commands_beyond_the_channel_budget_queue(authority, system):
    from firecrest_hub.remote import ConnectionPool

    pool = ConnectionPool(authority, max_channels=4)
    try:
        session = pool.session(system, "alice")
        results = await asyncio.gather(*(session.run(["echo", str(n)]) for n in range(40)))
        assert [r.stdout for r in results] == [f"{n}\n" for n in range(40)]
        assert pool.connections_opened == 1
    finally:
        await pool.close()


async def test_arguments_are_quoted_never_interpreted(alice):
    hostile = "a'b\"c $(touch /tmp/pwned-by-test) `id` ; rm -rf ~ \n next"
    result = await alice.run(["printf", "%s", hostile])
    assert result.stdout == hostile
    check = await alice.run(["test", "-e", "/tmp/pwned-by-test"])
    assert check.exit_status == 1


async def times_out_and_is_stopped(alice) -> None:
    """A command past its timeout fails, and is stopped on the system: what it would do later never happens."""
    marker = f"/tmp/firecrest-timeout-{time.time_ns()}"
    with pytest.raises(CommandTimeout):
        await alice.run(["bash", "-c", f"sleep 5; touch {marker}"], timeout=1)

    async def stopped():
        # "[f]irecrest" matches the marker, but not the command line of the shell that runs pgrep.
        pattern = marker.replace("/firecrest-", "/[f]irecrest-")
        return (await alice.run(["pgrep", "-f", "--", pattern])).exit_status == 1

    # The shell that would touch the marker is gone, so it never will.
    await async_wait_for(stopped, 4, what="the timed-out command to be killed")
    assert (await alice.run(["test", "-e", marker])).exit_status == 1


async def test_timeout_stops_the_remote_command(alice):
    await times_out_and_is_stopped(alice)


async def test_output_cap(alice):
    with pytest.raises(OutputTooLarge):
        await alice.run(["head", "-c", "300000", "/dev/zero"], output_limit=100000)
    assert (await alice.run(["true"])).ok


async def test_unreachable_system_fails_fast(pool, system):
    from dataclasses import replace

    closed = replace(system, port=1)
    started = time.monotonic()
    with pytest.raises(ClusterUnreachable):
        await pool.session(closed, "alice").run(["true"])
    assert time.monotonic() - started < 5


async def test_wrong_host_key_is_refused(pool, system, tmp_path):
    from dataclasses import replace

    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:2222 {other}")
    with pytest.raises(ClusterUnreachable):
        await pool.session(replace(system, known_hosts=str(known_hosts)), "alice").run(["true"])


async def test_sftp_acts_as_the_user(alice):
    sftp = await alice.sftp()
    attrs = await sftp.stat("/home/alice")
    assert attrs.permissions is not None
    with pytest.raises(asyncssh.SFTPError):
        await sftp.listdir("/root")


async def test_a_closed_sftp_channel_is_replaced(alice):
    sftp = await alice.sftp()
    sftp.exit()
    await sftp.wait_closed()

    async def replaced():
        fresh = await alice.sftp()
        return fresh if fresh is not sftp else None

    fresh = await async_wait_for(replaced, 5, interval=0.01, what="a new SFTP channel")
    assert (await fresh.stat("/home/alice")).permissions is not None
