"""One SSH connection per (system, account), shared by every request that acts as that account.

Opening a connection costs a key exchange and a login (~200 ms); a channel on an open connection costs a
few milliseconds. So connections are kept, channels are bounded below sshd's `MaxSessions` (callers
queue rather than fail), and idle or old connections are closed by a reaper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TypeVar

import asyncssh
from traitlets import Float, Integer, List, Unicode
from traitlets.config import Configurable

from ..config import System
from ..delegation import CertificateAuthority
from ..errors import ClusterUnreachable, PermissionDenied
from .command import CommandResult, RemoteCommand, timed_out, to_shell, too_much_output
from .shell import CommandShell, ShellBroken

log = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds a command shell's process group is given to be killed before its connection is given up on.
_KILL_TIME = 5
# Errors that mean the connection is gone before our command started, so one retry is safe.
_STALE = (asyncssh.ChannelOpenError, asyncssh.ConnectionLost, asyncssh.DisconnectError, BrokenPipeError,
          ConnectionResetError)


class _Output(Exception):
    """Internal: a stream passed its cap."""


class _Entry:
    """A live connection with its channel budget and the bookkeeping the reaper reads."""

    def __init__(self, connection: asyncssh.SSHClientConnection, max_channels: int):
        self.connection = connection
        self.channels = asyncio.Semaphore(max_channels)
        self.created_at = self.last_used = time.monotonic()
        self.active = 0
        self.retired = False
        self._sftp: asyncssh.SFTPClient | None = None
        self._sftp_lock = asyncio.Lock()
        self.idle_shells: list[CommandShell] = []
        self.shells = 0  # started or starting, each holding a channel
        self.shells_refused = False  # the system would not start one: commands take sessions of their own

    def usable(self, max_age: float) -> bool:
        return (not self.retired and not self.connection.is_closed()
                and time.monotonic() - self.created_at < max_age)

    @contextlib.contextmanager
    def in_use(self):
        """Marks the connection busy (the reaper leaves it open) while a command runs on it."""
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self.last_used = time.monotonic()

    @contextlib.asynccontextmanager
    async def channel(self):
        async with self.channels:
            with self.in_use():
                yield self.connection

    async def sftp(self) -> asyncssh.SFTPClient:
        """One SFTP channel per connection, kept open: its requests are served by one long-lived
        sftp-server, so structural file operations pay no per-call process start."""
        async with self._sftp_lock:
            if self._sftp is None:
                await self.channels.acquire()
                try:
                    self._sftp = await self.connection.start_sftp_client()
                except BaseException:
                    self.channels.release()
                    raise
                asyncio.ensure_future(self._forget_sftp_when_closed(self._sftp))
            return self._sftp

    async def _forget_sftp_when_closed(self, sftp: asyncssh.SFTPClient) -> None:
        """A dead SFTP channel (sftp-server killed, channel error) is replaced on the next request."""
        with contextlib.suppress(Exception):
            await sftp.wait_closed()
        if self._sftp is sftp:
            self._sftp = None
            self.channels.release()

    def take_shell(self) -> CommandShell | None:
        while self.idle_shells:
            shell = self.idle_shells.pop()
            if shell.alive:
                return shell
        return None

    def give_back(self, shell: CommandShell) -> None:
        if shell.alive and not self.retired:
            self.idle_shells.append(shell)
        else:
            shell.close()

    def close(self) -> None:
        self.retired = True
        self.connection.close()


class ConnectionPool(Configurable):
    """Pooled, certificate-authenticated SSH connections to the systems' login nodes."""

    max_channels = Integer(
        8,
        min=2,
        help="""Channels open at once on one connection, at least 2 (one is held by SFTP). Keep it below the
        login node's sshd MaxSessions (OpenSSH's default is 10); further commands wait for a free channel.""",
    ).tag(config=True)
    connect_timeout = Float(10, min=1, help="Seconds to open a connection and log in.").tag(config=True)
    keepalive_interval = Float(
        15, min=0, help="Seconds between SSH keepalives on an open connection; 0 sends none.",
    ).tag(config=True)
    idle_timeout = Float(
        300, min=1, help="An unused connection is closed after this many seconds.",
    ).tag(config=True)
    max_age = Float(
        3600,
        min=1,
        help="A connection older than this is replaced; the old one closes when its last channel ends.",
    ).tag(config=True)
    ciphers = List(
        Unicode(),
        ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr",
         "aes256-ctr"],
        minlen=1,
        help="""SSH ciphers offered to the login nodes, most preferred first. AES-GCM comes first: it is
        one call into OpenSSL per packet, where ChaCha20-Poly1305 costs the service noticeably more CPU
        per request under load.""",
    ).tag(config=True)
    command_shells = Integer(
        2,
        min=0,
        max=6,
        help="""Command shells kept on each connection: long-lived shells that run the service's commands
        one after another, so that a command costs a fork on the login node instead of a new SSH session
        (about 3 ms less for each). Each holds one of max_channels, and they leave two of those to SFTP
        and to commands that take a session of their own: those that find no shell free, or whose
        input holds a NUL byte. 0 gives every command a session of its own.""",
    ).tag(config=True)
    command_timeout = Float(
        30,
        min=1,
        help="""Seconds one remote command may run before it is stopped, unless the command sets its own
        limit. Slurm's commands have this limit too, unless SlurmScheduler.command_timeout is set.""",
    ).tag(config=True)
    output_limit = Integer(
        16 * 1024 * 1024,
        min=1,
        help="Default cap, in bytes, on what one remote command may print to stdout.",
    ).tag(config=True)

    def __init__(self, authority: CertificateAuthority, **kwargs):
        super().__init__(**kwargs)
        self.authority = authority
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._retired: list[_Entry] = []
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._reaper: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()
        self.connections_opened = 0

    def session(self, system: System, account: str, hub_user: str | None = None) -> "RemoteSession":
        return RemoteSession(self, system, account, hub_user or account)

    async def _entry(self, system: System, account: str, hub_user: str) -> _Entry:
        key = (system.name, account)
        entry = self._entries.get(key)
        if entry and entry.usable(self.max_age):
            return entry
        async with self._locks.setdefault(key, asyncio.Lock()):
            entry = self._entries.get(key)
            if entry and entry.usable(self.max_age):
                return entry
            if entry:
                self._retire(key)
            entry = await self._connect(system, account, hub_user)
            self._entries[key] = entry
            self._start_reaper()
            return entry

    async def _connect(self, system: System, account: str, hub_user: str) -> _Entry:
        credential = self.authority.credential(account, hub_user)
        try:
            connection = await asyncio.wait_for(
                asyncssh.connect(
                    system.host,
                    system.port,
                    username=account,
                    client_keys=credential.client_keys,
                    known_hosts=system.known_hosts,
                    agent_path=None,
                    config=None,
                    keepalive_interval=self.keepalive_interval,
                    keepalive_count_max=3,
                    encryption_algs=self.ciphers,
                ),
                self.connect_timeout,
            )
        except asyncssh.PermissionDenied as error:
            raise PermissionDenied(f"system {system.name!r} refused the login as {account!r}") from error
        except (OSError, asyncssh.Error, TimeoutError) as error:
            reason = "timed out" if isinstance(error, TimeoutError) else str(error) or type(error).__name__
            raise ClusterUnreachable(f"system {system.name!r} is unreachable: {reason}") from error
        self.connections_opened += 1
        log.info("connected to %s as %s (for hub user %s)", system.name, account, hub_user)
        return _Entry(connection, self.max_channels)

    def _retire(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        entry.retired = True
        if entry.active:
            self._retired.append(entry)
        else:
            entry.close()

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        while self._entries or self._retired:
            await asyncio.sleep(min(self.idle_timeout, 30) / 2)
            self.reap()

    def reap(self) -> None:
        """Close idle connections and retired ones whose last channel has ended."""
        now = time.monotonic()
        for key, entry in list(self._entries.items()):
            if entry.connection.is_closed() or (entry.active == 0 and now - entry.last_used > self.idle_timeout):
                self._retire(key)
        for entry in list(self._retired):
            if entry.active == 0:
                entry.close()
                self._retired.remove(entry)

    async def close(self) -> None:
        for task in self._background:  # shells starting; their connections close below
            task.cancel()
        for key in list(self._entries):
            self._retire(key)
        for entry in self._retired:
            entry.close()
        self._retired.clear()
        if self._reaper:
            self._reaper.cancel()

    async def run(self, system: System, account: str, hub_user: str, argv: list[str], *,
                  stdin: str | bytes | None = None, timeout: float | None = None,
                  output_limit: int | None = None) -> CommandResult:
        timeout = timeout or self.command_timeout
        output_limit = output_limit or self.output_limit
        for attempt in (1, 2):
            entry = await self._entry(system, account, hub_user)
            shell = self._shell_for(entry, stdin)
            if shell is not None:
                try:
                    with entry.in_use():
                        return await shell.run(argv, stdin, timeout, output_limit,
                                               kill=lambda: self._kill_group(entry, shell.group))
                except ShellBroken:
                    pass  # the command did not run: it takes a session of its own
                finally:
                    entry.give_back(shell)
            async with entry.channel() as connection:
                try:
                    process = await connection.create_process(to_shell(argv), encoding=None)
                except _STALE as error:
                    self._retire((system.name, account))
                    if attempt == 2:
                        raise ClusterUnreachable(
                            f"system {system.name!r} dropped the connection: {error}") from error
                    continue
                return await _collect(process, argv, stdin, timeout, output_limit)
        raise AssertionError("unreachable")

    def _shell_for(self, entry: _Entry, stdin: str | bytes | None) -> CommandShell | None:
        """An idle command shell of `entry` that can carry `stdin`, if there is one. Without one, another
        is started in the background (while channels are free), for the commands that follow."""
        if not CommandShell.carries(stdin):
            return None
        shell = entry.take_shell()
        # Shells leave a channel for SFTP and one for commands of their own, however many wait.
        wanted = min(self.command_shells, self.max_channels - 2)
        if shell is None and not entry.shells_refused and entry.shells < wanted and not entry.channels.locked():
            entry.shells += 1
            self._in_background(self._start_shell(entry))
        return shell

    def idle_shells(self, system: System, account: str) -> int:
        """How many command shells wait for a command on the connection as `account` (none without one)."""
        entry = self._entries.get((system.name, account))
        return sum(shell.alive for shell in entry.idle_shells) if entry else 0

    async def _start_shell(self, entry: _Entry) -> None:
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(self._shell_ended, entry)
            await entry.channels.acquire()
            stack.callback(entry.channels.release)
            try:
                shell = await CommandShell.start(entry.connection, self.connect_timeout)
            except (asyncssh.Error, OSError, TimeoutError, ValueError) as error:
                entry.shells_refused = True
                log.warning("no command shell on %s: %s; its commands take sessions of their own",
                            entry.connection.get_extra_info("peername"), error)
                return
            entry.give_back(shell)
            with contextlib.suppress(Exception):
                await shell.process.wait_closed()

    @staticmethod
    def _shell_ended(entry: _Entry) -> None:
        entry.shells -= 1

    async def _kill_group(self, entry: _Entry, group: int) -> None:
        """Stop a command shell's process group (the command that must stop, and the shell). On a channel
        beside the budget: it must not wait behind the commands that hold it."""
        with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
            async with asyncio.timeout(_KILL_TIME):
                process = await entry.connection.create_process(to_shell(["kill", "-KILL", "--", f"-{group}"]))
                await process.wait_closed()

    def _in_background(self, work) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _collect(process, argv, stdin, timeout, output_limit) -> CommandResult:
    try:
        async with asyncio.timeout(timeout):
            if stdin is not None:
                process.stdin.write(stdin.encode() if isinstance(stdin, str) else stdin)
            process.stdin.write_eof()
            stdout, stderr = await asyncio.gather(
                _read_capped(process.stdout, output_limit), _read_capped(process.stderr, 1024 * 1024),
            )
            await process.wait_closed()
    except asyncio.CancelledError:
        _kill(process)  # whoever cancelled wants the command stopped, not left running on the system
        raise
    except TimeoutError:
        _kill(process)
        raise timed_out(argv, timeout) from None
    except _Output:
        _kill(process)
        raise too_much_output(argv, output_limit) from None
    except (asyncssh.Error, OSError) as error:
        _kill(process)
        raise ClusterUnreachable(f"the connection broke while running {argv[0]}: {error}") from error
    status = process.exit_status if process.exit_status is not None else 255
    return CommandResult(tuple(argv), status, stdout.decode(errors="replace"), stderr.decode(errors="replace"))


async def _read_capped(stream, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := await stream.read(65536):
        size += len(chunk)
        if size > limit:
            raise _Output()
        chunks.append(chunk)
    return b"".join(chunks)


def _kill(process) -> None:
    """Stop the remote command, not just our end of it: sshd delivers the signal to the process."""
    with contextlib.suppress(Exception):
        process.send_signal("KILL")
    process.close()


class RemoteSession:
    """Everything done on one system as one account: commands and SFTP, over the pooled connection."""

    def __init__(self, pool: ConnectionPool, system: System, account: str, hub_user: str):
        self.pool, self.system, self.account, self.hub_user = pool, system, account, hub_user

    async def run(self, argv: list[str], **options) -> CommandResult:
        return await self.pool.run(self.system, self.account, self.hub_user, argv, **options)

    async def execute(self, command: RemoteCommand[T]) -> T:
        result = await self.run(command.argv(), stdin=command.stdin(), timeout=command.timeout,
                                output_limit=command.output_limit)
        return command.parse(result)

    async def sftp(self) -> asyncssh.SFTPClient:
        entry = await self.pool._entry(self.system, self.account, self.hub_user)
        try:
            return await entry.sftp()
        except _STALE + (asyncssh.Error,) as error:
            raise ClusterUnreachable(f"SFTP to {self.system.name!r} failed: {error}") from error
