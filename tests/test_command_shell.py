"""Command shells (remote/shell.py) against the real sshd of the dev cluster: what a command prints, reads
and returns is what it would be on a session of its own, and a shell that goes wrong is replaced."""

import asyncio
import subprocess

import pytest

from conftest import async_wait_for
from firecrest_hub.errors import OutputTooLarge
from firecrest_hub.remote.shell import CommandShell
from test_remote_cluster import times_out_and_is_stopped

pytestmark = pytest.mark.cluster

# What the command's parent process is: the command shell, or sshd's session.
PARENT = ["bash", "-c", 'exec ps -o args= -p "$PPID"']


async def shell_ready(pool, system, account="alice"):
    await pool.session(system, account).run(["true"])  # opens the connection; a shell starts behind it
    await async_wait_for(lambda: pool.idle_shells(system, account) > 0, 10, interval=0.01,
                         what="a command shell to be ready")


async def test_commands_go_through_the_shell_with_their_exact_output(pool, system, alice):
    await shell_ready(pool, system)
    assert "command-shell" in (await alice.run(PARENT)).stdout
    no_newline = await alice.run(["printf", "%s", "résumé…"])
    assert (no_newline.stdout, no_newline.stderr, no_newline.exit_status) == ("résumé…", "", 0)
    failed = await alice.run(["bash", "-c", "echo out; echo 'an error' >&2; exit 3"])
    assert (failed.stdout, failed.stderr, failed.exit_status) == ("out\n", "an error\n", 3)
    assert (await alice.run(["bash", "-c", "cat >/dev/null; exit 4"], stdin="read, then failed")).exit_status == 4
    echoed = await alice.run(["cat"], stdin="dätä\n\nwithout a final newline")
    assert echoed.stdout == "dätä\n\nwithout a final newline"
    # Input a command never reads is not taken for the next command.
    assert (await alice.run(["true"], stdin="nobody reads this\n" * 1000)).ok
    assert (await alice.run(["echo", "next"])).stdout == "next\n"
    # Each command starts afresh: in the home directory, with nothing an earlier one changed.
    await alice.run(["bash", "-c", "cd /tmp; export LEFT_BEHIND=1"])
    assert (await alice.run(["bash", "-c", 'echo "$PWD ${LEFT_BEHIND:-unset}"'])).stdout == "/home/alice unset\n"


async def test_input_with_a_nul_byte_takes_a_session_of_its_own(pool, system, alice):
    await shell_ready(pool, system)
    data = "one\0two\0"
    result = await alice.run(["bash", "-c", 'od -An -c; exec ps -o args= -p "$PPID"'], stdin=data)
    assert result.stdout.split()[:6] == ["o", "n", "e", "\\0", "t", "w"]
    assert "command-shell" not in result.stdout
    assert not CommandShell.carries(data) and CommandShell.carries("plain") and CommandShell.carries(None)


async def test_many_commands_at_once_each_get_their_own_answer(pool, system, alice):
    await shell_ready(pool, system)
    results = await asyncio.gather(*(alice.run(["bash", "-c", f"sleep 0.0{n % 5}; echo {n}; echo e{n} >&2"])
                                     for n in range(40)))
    assert [(r.stdout, r.stderr) for r in results] == [(f"{n}\n", f"e{n}\n") for n in range(40)]
    assert pool.connections_opened == 1


async def test_a_timeout_stops_the_command_and_the_shell_is_replaced(pool, system, alice):
    await shell_ready(pool, system)
    await times_out_and_is_stopped(alice)
    await async_wait_for(lambda: pool.idle_shells(system, "alice") > 0, 10, interval=0.01,
                         what="a new command shell")
    assert "command-shell" in (await alice.run(PARENT)).stdout


async def test_output_past_its_cap_fails_that_command_only(pool, system, alice):
    await shell_ready(pool, system)
    with pytest.raises(OutputTooLarge):
        await alice.run(["head", "-c", "300000", "/dev/zero"], output_limit=100000)
    assert (await alice.run(["echo", "fine"])).stdout == "fine\n"


async def test_a_shell_killed_on_the_system_is_replaced(pool, system, alice):
    await shell_ready(pool, system)
    subprocess.run(["pkill", "-KILL", "-u", "alice", "-f", "command-shell"], check=True)
    await async_wait_for(lambda: pool.idle_shells(system, "alice") == 0, 5, interval=0.01,
                         what="the pool to see its shell gone")
    assert (await alice.run(["echo", "still here"])).stdout == "still here\n"
    await async_wait_for(lambda: pool.idle_shells(system, "alice") > 0, 10, interval=0.01,
                         what="a new command shell")
    assert "command-shell" in (await alice.run(PARENT)).stdout


async def test_without_shells_every_command_has_a_session(authority, system):
    from firecrest_hub.remote import ConnectionPool

    pool = ConnectionPool(authority, command_shells=0)
    try:
        session = pool.session(system, "alice")
        for _ in range(3):
            assert "command-shell" not in (await session.run(PARENT)).stdout
        assert pool.idle_shells(system, "alice") == 0
    finally:
        await pool.close()
