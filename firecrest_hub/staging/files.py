"""The checks a staging request makes on the system before its task starts, so that a wrong path gets a
4xx answer at once instead of a failed task later. Both run as the user over SFTP, and both first check
that the path leads inside the filesystems (filesystem.PathResolver): a symlink must not carry an upload
or a download out of them."""

from __future__ import annotations

import posixpath
import stat

import asyncssh

from ..errors import InvalidInput, IsADirectory, NotADirectory, NotFound, PermissionDenied, SourceNotFound
from ..filesystem import PathPolicy, PathResolver
from ..remote import guarded
from ..remote import RemoteSession


async def upload_target(session: RemoteSession, paths: PathPolicy, target: str, name: str) -> str:
    """Where an upload of the client's file `name` lands: inside `target` if that is a directory (as v1),
    else `target` itself, whose directory must exist."""
    # Followed to its end: `target` may be a link to the directory the file lands in.
    await PathResolver(paths, session).check(target)
    sftp = await session.sftp()
    attrs = await _stat(session, sftp, target)
    if attrs is not None and stat.S_ISDIR(attrs.permissions or 0):
        return paths.join(target, name, "the file name of sourcePath")
    directory = posixpath.dirname(target)
    parent = await _stat(session, sftp, directory)
    if parent is None:
        raise NotFound(f"{directory!a}: no such directory")
    if not stat.S_ISDIR(parent.permissions or 0):
        raise NotADirectory(f"{directory!a} is not a directory")
    return target


async def download_source(session: RemoteSession, source: str) -> int:
    """The size of the regular file `source`, after making sure the user can read it."""
    await PathResolver.for_session(session).check(source)
    sftp = await session.sftp()
    attrs = await _stat(session, sftp, source)
    if attrs is None:
        raise SourceNotFound(f"{source!a}: no such file")
    if stat.S_ISDIR(attrs.permissions or 0):
        raise IsADirectory(f"{source!a} is a directory; only files can be downloaded")
    if not stat.S_ISREG(attrs.permissions or 0):
        raise InvalidInput(f"{source!a} is not a regular file")
    async with guarded(source, session.pool.command_timeout):
        try:
            remote = await sftp.open(source, "rb")
        except asyncssh.SFTPPermissionDenied:
            raise PermissionDenied(f"{source!a}: permission denied") from None
        await remote.close()
    return attrs.size or 0


async def _stat(session: RemoteSession, sftp: asyncssh.SFTPClient, path: str) -> asyncssh.SFTPAttrs | None:
    async with guarded(path, session.pool.command_timeout):
        try:
            return await sftp.stat(path)
        except asyncssh.SFTPNoSuchFile:
            return None
