"""What every SFTP caller shares: a time limit with typed errors (`guarded`), and the tail of a file.

SFTP requests of one account share one long-lived sftp-server (pool.py), so a request that blocks there
blocks them all: each runs under a time limit, and only regular files are read (opening a FIFO would
wait for a writer that may never come).
"""

from __future__ import annotations

import asyncio
import contextlib
import stat

import asyncssh

from ..errors import ClusterUnreachable, CommandFailed, CommandTimeout, NotFound, PermissionDenied
from .pool import RemoteSession


@contextlib.asynccontextmanager
async def guarded(path: str, timeout: float):
    """Run SFTP requests under a time limit, with their errors turned into the service's typed errors."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except TimeoutError:
        raise CommandTimeout(f"the file operation on {path!a} did not finish within {timeout:g} s") from None
    except asyncssh.SFTPNoSuchFile:
        raise NotFound(f"{path!a}: No such file or directory") from None
    except asyncssh.SFTPPermissionDenied:
        raise PermissionDenied(f"{path!a}: permission denied") from None
    except (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection) as error:
        raise ClusterUnreachable(f"the SFTP connection was lost: {error.reason}") from error
    except asyncssh.SFTPError as error:
        raise CommandFailed(f"{path!a}: {error.reason or 'failure'}") from None
    except (asyncssh.Error, OSError) as error:
        raise ClusterUnreachable(f"the connection broke during the file operation: {error}") from error


async def home_if_relative(session: RemoteSession, paths) -> str:
    """Where the relative ones of `paths` start, as v1 ran its commands: the account's home directory
    (one SFTP request, made only when one of them is relative), else "/"."""
    if not any(path and not path.startswith("/") for path in paths):
        return "/"
    sftp = await session.sftp()
    async with guarded(".", session.pool.command_timeout):
        return await sftp.realpath(".")


def relative_to(home: str, path: str | None) -> str | None:
    """`path` made absolute the way v1 ran its commands: a relative one starts at `home`."""
    return path if not path or path.startswith("/") else f"{home.rstrip('/')}/{path}"


async def read_tail(session: RemoteSession, path: str, size: int) -> str | None:
    """The last `size` bytes of the regular file at `path` (relative paths start at the account's home),
    read as the session's account and decoded; None when there is no regular file there. Other failures
    raise the typed errors of `guarded`."""
    sftp = await session.sftp()
    async with guarded(path, session.pool.command_timeout):
        try:
            attrs = await sftp.stat(path)
        except asyncssh.SFTPNoSuchFile:
            return None
        if not stat.S_ISREG(attrs.permissions or 0):
            return None
        async with sftp.open(path, "rb") as remote_file:
            data = await remote_file.read(size, max(0, (attrs.size or 0) - size))
    return data.decode(errors="replace")
