"""Structural file operations over SFTP.

They run on the connection's one shared SFTP channel, served by one long-lived sftp-server: no process
starts on the login node per call (DESIGN.md, performance anchors), and no shell sees the paths at all.

OpenSSH's sftp-server speaks SFTP version 3, whose errors are coarse: a missing path and a path through a
non-directory are both "no such file", and "exists", "is a directory" and "not empty" are all a bare
"failure". Where the difference matters to the caller, the failure path asks one more question (an lstat);
the success path never pays for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime

import asyncssh

from ..errors import (
    AlreadyExists, CommandFailed, FileTooLarge, InvalidInput, IsADirectory,
    NotADirectory, NotFound, OutputTooLarge,
)
from ..remote import guarded

# File names are bytes on the cluster; names that are not UTF-8 are shown with their bytes escaped.
_NAME_ERRORS = "backslashreplace"
_CHUNK = 256 * 1024


async def _lstat_or_none(sftp: asyncssh.SFTPClient, path: str) -> asyncssh.SFTPAttrs | None:
    try:
        return await sftp.lstat(path)
    except asyncssh.SFTPNoSuchFile:
        return None


async def lexists(sftp: asyncssh.SFTPClient, path: str) -> bool:
    """Whether `path` exists, a dangling symlink included."""
    return await _lstat_or_none(sftp, path) is not None


async def resolve(sftp: asyncssh.SFTPClient, path: str) -> str:
    """Where `path` leads on the system: sftp-server's realpath(3) (OpenBSD's, in OpenSSH) follows every
    symlink, the last one included, and keeps a missing last name as given.

    Where a directory on the way is missing too, the nearest ancestor that resolves stands in for it, the
    missing names after it as given: that is where mkdir -p puts them.
    """
    missing: list[str] = []
    current = path
    while True:
        try:
            resolved = await sftp.realpath(current.encode())
            break
        except asyncssh.SFTPNoSuchFile:
            if current == "/":
                raise
            current, name = current.rsplit("/", 1)
            current = current or "/"
            missing.insert(0, name)
    return posixpath.join(resolved.decode(errors=_NAME_ERRORS), *missing)


# ---- listing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingOptions:
    max_entries: int
    show_hidden: bool = False
    numeric_ids: bool = False
    recursive: bool = False


async def list_directory(sftp: asyncssh.SFTPClient, path: str, options: ListingOptions) -> list[dict]:
    """v1's ls entries of the directory `path` (recursively: then each subdirectory's, depth first, as
    `ls -R` orders them; symlinks to directories are not followed), sorted by name.

    A symlink to a directory lists that directory (as `ls -l link/` does). Raises NotADirectory when
    `path` exists but is not a directory (see describe()).
    """
    try:
        names = await _read_directory(sftp, path, options)
    except asyncssh.SFTPNoSuchFile:
        if await _lstat_or_none(sftp, path) is not None:
            raise NotADirectory(f"{path!a} is not a directory") from None
        raise
    entries = await _entries(sftp, path, names, "", options.numeric_ids)
    if options.recursive:
        entries = await _with_subdirectories(sftp, path, entries, options, prefix="")
    return entries


async def describe(sftp: asyncssh.SFTPClient, path: str) -> dict:
    """The ls entry of one path that is not a directory, named as given (as `ls -l` shows it), with
    numeric owners: SFTP version 3 cannot tell the owner names of a single file."""
    entry = _entry(path, await sftp.lstat(path), None)
    await _add_link_targets(sftp, [(entry, path)])
    return entry


async def follow_link(sftp: asyncssh.SFTPClient, path: str, entry: dict) -> dict:
    """The ls entry of the symlink `path` shown as `ls -L` shows it: with the attributes of what it leads
    to, and no link target. SFTP version 3 names no owner of a single file: the link's owner names stay
    where the target's ids are the link's own, else the ids stand in for them."""
    link, target = await sftp.lstat(path), await sftp.stat(path)
    followed = _entry(entry["name"], target, None)
    if (target.uid, target.gid) == (link.uid, link.gid):
        followed["user"], followed["group"] = entry["user"], entry["group"]
    return followed


async def _read_directory(sftp, path: str, options: ListingOptions) -> list[tuple[str, asyncssh.SFTPName]]:
    names = []
    async for item in sftp.scandir(path.encode()):
        name = item.filename.decode(errors=_NAME_ERRORS)
        if name in (".", "..") or (name.startswith(".") and not options.show_hidden):
            continue
        names.append((name, item))
        if len(names) > options.max_entries:
            raise OutputTooLarge(f"{path!a} has more than {options.max_entries} entries to list")
    names.sort(key=lambda pair: pair[0])
    return names


async def _entries(sftp, directory: str, names, prefix: str, numeric_ids: bool) -> list[dict]:
    entries = [_entry(prefix + name, item.attrs, None if numeric_ids else item.longname) for name, item in names]
    await _add_link_targets(sftp, [(entry, f"{directory}/{name}") for entry, (name, _) in zip(entries, names)])
    return entries


async def _with_subdirectories(sftp, path: str, entries: list[dict], options: ListingOptions,
                               prefix: str) -> list[dict]:
    subdirectories = [entry["name"][len(prefix):] for entry in entries if entry["type"] == "d"]
    # Sibling directories are read concurrently: SFTP requests pipeline on the one channel.
    listings = await asyncio.gather(*(_read_directory(sftp, f"{path}/{name}", options) for name in subdirectories))
    result = list(entries)
    for name, names in zip(subdirectories, listings):
        if len(result) + len(names) > options.max_entries:
            raise OutputTooLarge(f"{path!a} has more than {options.max_entries} entries to list")
        children = await _entries(sftp, f"{path}/{name}", names, f"{prefix}{name}/", options.numeric_ids)
        result += await _with_subdirectories(sftp, f"{path}/{name}", children, options, f"{prefix}{name}/")
    return result


def _entry(name: str, attrs: asyncssh.SFTPAttrs, longname: bytes | None) -> dict:
    """One v1 ls entry; owners by name when sftp-server's long name (an `ls -l` line) carries them."""
    mode = stat.filemode(attrs.permissions or 0)
    user, group = str(attrs.uid), str(attrs.gid)
    fields = longname.split(None, 4) if longname else []
    if len(fields) == 5:
        user, group = (field.decode(errors=_NAME_ERRORS) for field in fields[2:4])
    return {
        "name": name,
        "type": mode[0],
        "link_target": "",
        "user": user,
        "group": group,
        "permissions": mode[1:],
        "last_modified": datetime.fromtimestamp(attrs.mtime or 0).strftime("%Y-%m-%dT%H:%M:%S"),
        "size": str(attrs.size or 0),
    }


async def _add_link_targets(sftp, entries_and_paths: list[tuple[dict, str]]) -> None:
    """Only symlinks cost a request more, and those requests run together."""
    links = [(entry, path) for entry, path in entries_and_paths if entry["type"] == "l"]
    targets = await asyncio.gather(*(sftp.readlink(path.encode()) for _, path in links))
    for (entry, _), target in zip(links, targets):
        entry["link_target"] = target.decode(errors=_NAME_ERRORS)


# ---- changes ---------------------------------------------------------------------------------------


async def make_directory(sftp: asyncssh.SFTPClient, path: str, parents: bool) -> None:
    """mkdir, or with `parents` mkdir -p: missing parents are made and an existing directory is fine."""
    try:
        await sftp.mkdir(path)
        return
    except asyncssh.SFTPNoSuchFile:
        if not parents:
            raise NotFound(f"cannot create {path!a}: its parent directory does not exist") from None
    except asyncssh.SFTPFailure:
        await _existing_directory(sftp, path, accept=parents)
        return
    await _ensure_parent(sftp, path.rsplit("/", 1)[0] or "/")
    try:
        await sftp.mkdir(path)
    except asyncssh.SFTPFailure:  # made meanwhile by someone else
        await _existing_directory(sftp, path, accept=True)


async def _ensure_parent(sftp, path: str) -> None:
    try:
        await make_directory(sftp, path, parents=True)
    except AlreadyExists:
        raise NotADirectory(f"{path!a} exists and is not a directory") from None


async def _existing_directory(sftp, path: str, accept: bool) -> None:
    """Explain a failed mkdir: the path exists (fine only if `accept` and it is, or links to, a directory)."""
    if accept:
        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
            if stat.S_ISDIR((await sftp.stat(path)).permissions or 0):
                return
    if await lexists(sftp, path):
        # coreutils' words, as v1 passed them on: clients (aiida-firecrest) match "File exists".
        raise AlreadyExists(f"mkdir: cannot create directory {path!a}: File exists")
    raise CommandFailed(f"cannot create the directory {path!a}")


async def rename(sftp: asyncssh.SFTPClient, source: str, target: str) -> bool:
    """rename(2) semantics (an existing target file is replaced). False where rename(2) refuses and `mv`
    may still succeed: another filesystem, or a directory as the target."""
    try:
        await sftp.posix_rename(source, target)
    except asyncssh.SFTPFailure:
        return False
    return True


async def remove(sftp: asyncssh.SFTPClient, path: str) -> bool:
    """Remove a file or symlink; False for a directory, which needs `rm -r`."""
    try:
        await sftp.remove(path)
    except asyncssh.SFTPFailure:
        return False
    return True


async def symlink(sftp: asyncssh.SFTPClient, target: str, link: str) -> None:
    try:
        await sftp.symlink(target, link)
    except asyncssh.SFTPFailure:
        if await _lstat_or_none(sftp, link) is not None:
            raise AlreadyExists(f"{link!a} already exists") from None
        raise


async def change_mode(sftp: asyncssh.SFTPClient, path: str, mode: int) -> str:
    await sftp.chmod(path, mode)
    return f"mode of {path!a} changed to {mode:04o} ({stat.filemode(mode)[1:]})"


# ---- reading and writing small files ---------------------------------------------------------------


class FileReader:
    """An open remote file, already checked to be a regular file of at most `limit` bytes."""

    def __init__(self, remote_file: asyncssh.SFTPClientFile, path: str, size: int, timeout: float):
        self._file, self.path, self.size, self._timeout = remote_file, path, size, timeout

    async def chunks(self):
        remaining = self.size
        while remaining > 0:
            async with guarded(self.path, self._timeout):
                chunk = await self._file.read(min(_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def read_range(self, offset: int, size: int) -> bytes:
        """At most `size` bytes from `offset` on (fewer at the end of the file)."""
        async with guarded(self.path, self._timeout):
            return await self._file.read(size, offset)


@contextlib.asynccontextmanager
async def open_for_reading(sftp: asyncssh.SFTPClient, path: str, limit: int | None, timeout: float):
    """A FileReader for a regular file of at most `limit` bytes (of any size for None: the caller reads a
    bounded range of it).

    The type is checked before the file is opened: opening a FIFO would block the one sftp-server that
    serves every SFTP request of this account.
    """
    async with guarded(path, timeout):
        attrs = await sftp.stat(path)
        if stat.S_ISDIR(attrs.permissions or 0):
            raise IsADirectory(f"{path!a} is a directory")
        if not stat.S_ISREG(attrs.permissions or 0):
            raise InvalidInput(f"{path!a} is not a regular file")
        if limit is not None and (attrs.size or 0) > limit:
            raise FileTooLarge(
                f"{path!a} is {attrs.size} bytes, more than the {limit} bytes this service carries; use staging")
        remote_file = await sftp.open(path, "rb")
    try:
        yield FileReader(remote_file, path, attrs.size or 0, timeout)
    finally:
        await _quietly(remote_file.close(), timeout)


async def _quietly(cleanup, timeout: float) -> None:
    """Clean up without letting a second error hide the first one (or a result already delivered)."""
    with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
        async with asyncio.timeout(timeout):
            await cleanup


async def write_file(sftp: asyncssh.SFTPClient, path: str, data: bytes, timeout: float) -> None:
    """Write `path` all or nothing: the data goes to a hidden temporary file in the same directory, which
    replaces `path` only once all of it is written; on any failure the temporary file is removed."""
    temporary = f"{path.rsplit('/', 1)[0]}/.{secrets.token_hex(8)}.upload"
    async with guarded(path, timeout):
        remote_file = await sftp.open(temporary, "xb")  # exclusive: never through a planted symlink
    done = False
    try:
        async with guarded(path, timeout):
            await remote_file.write(data)
            await remote_file.close()
            try:
                await sftp.posix_rename(temporary, path)
            except asyncssh.SFTPFailure:
                if (attrs := await _lstat_or_none(sftp, path)) and stat.S_ISDIR(attrs.permissions or 0):
                    raise IsADirectory(f"{path!a} is a directory") from None
                raise
        done = True
    finally:
        if not done:
            await _quietly(remote_file.close(), timeout)
            await _quietly(sftp.remove(temporary), timeout)
