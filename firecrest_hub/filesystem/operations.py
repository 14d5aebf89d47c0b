"""File operations on one system as one account: what the REST API and the portal call.

Each operation picks its means: SFTP for structural ones (sftp_ops), a command object for what SFTP cannot
do (commands). Paths must have passed the system's PathPolicy; then, before anything runs, the resolver
checks where they lead on the system (paths.PathResolver): followed through symlinks for what reads or
writes through a path, only their directory for what acts on a name itself (as each command object
declares; an SFTP operation declares it with the command object it stands for). Every other value is
checked here or in the command objects, before anything runs. Every operation is bounded in time (the
pool's command timeout) and in size (max_file_size for file contents, max_entries for listings).
"""

from __future__ import annotations

import contextlib

from ..errors import (
    FileTooLarge, InvalidInput, InvalidPath, NotADirectory, NotFound, PermissionDenied, SourceNotFound,
)
from ..remote import RemoteSession, guarded
from . import sftp_ops
from .commands import (
    OCTAL_MODE, ChangeMode, ChangeOwner, Checksum, Compress, Copy, Extract, FileCommand, FilePart, FileType,
    Move, OwnerNames, RemoveTree, StatFile, Whoami,
)
from .paths import PathResolver


class FileOperations:
    """The file operations of one account on one system (one RemoteSession), within the service's limits."""

    def __init__(self, session: RemoteSession, *, max_file_size: int, max_entries: int):
        self.session = session
        self.resolver = PathResolver.for_session(session)
        self.max_file_size = max_file_size
        self.max_entries = max_entries
        self.timeout = session.pool.command_timeout

    @contextlib.asynccontextmanager
    async def _sftp(self, path: str):
        """The account's shared SFTP client, its requests bounded in time and their errors typed."""
        sftp = await self.session.sftp()
        async with guarded(path, self.timeout):
            yield sftp

    @contextlib.asynccontextmanager
    async def _source_must_exist(self, source: str):
        """Tell a missing source (v1's X-Not-Found) from other missing paths, asking only on failure."""
        try:
            yield
        except SourceNotFound:
            raise
        except NotFound:
            async with self._sftp(source) as sftp:
                exists = await sftp_ops.lexists(sftp, source)
            if not exists:
                raise SourceNotFound(f"{source!a}: No such file or directory") from None
            raise

    async def _run(self, command: FileCommand):
        await self.resolver.check_command(command)
        return await self.session.execute(command)

    # ---- reading ---------------------------------------------------------------------------------

    async def list_directory(self, path: str, *, show_hidden: bool = False, numeric_ids: bool = False,
                             recursive: bool = False, dereference: bool = False) -> list[dict]:
        """ls -l of `path` (a directory's entries, or the path itself if it is something else). With
        `dereference` symlinks show what they lead to, as ls -L shows them, where that is inside the
        filesystems (others stay links); a recursive listing never descends through a symlink."""
        options = sftp_ops.ListingOptions(self.max_entries, show_hidden, numeric_ids, recursive)
        await self.resolver.check(path)
        async with self._sftp(path) as sftp:
            try:
                entries = await sftp_ops.list_directory(sftp, path, options)
            except NotADirectory:
                return [await self.describe(path, numeric_ids=numeric_ids, dereference=dereference)]
        if dereference:
            entries = [await self._followed(f"{path.rstrip('/')}/{entry['name']}", entry) for entry in entries]
        return entries

    async def describe(self, path: str, *, numeric_ids: bool = False, dereference: bool = False) -> dict:
        """The ls -ld entry of `path` itself, named as given."""
        await self.resolver.check_entry(path)
        async with self._sftp(path) as sftp:
            entry = await sftp_ops.describe(sftp, path)
        if not numeric_ids:
            entry["user"], entry["group"] = await self.session.execute(OwnerNames(path))  # checked above
        return await self._followed(path, entry) if dereference else entry

    async def _followed(self, path: str, entry: dict) -> dict:
        """`entry` of `path` as ls -L shows it, if it is a symlink that leads somewhere inside the filesystems."""
        if entry["type"] != "l":
            return entry
        try:
            await self.resolver.check(path)
            async with self._sftp(path) as sftp:
                return await sftp_ops.follow_link(sftp, path, entry)
        except (InvalidPath, NotFound, PermissionDenied):  # leads outside, nowhere or out of reach: a link
            return entry

    async def stat(self, path: str, dereference: bool = False) -> dict[str, int]:
        return await self._run(StatFile(path, dereference))

    async def file_type(self, path: str) -> str:
        return await self._run(FileType(path))

    async def head(self, path: str, *, lines: str | None = None, bytes: str | None = None,
                   skip_ending: bool = False, grep: str | None = None) -> str:
        return await self._run(FilePart(
            "head", path, limit=self.max_file_size, lines=lines, bytes=bytes, skip=skip_ending, grep=grep))

    async def tail(self, path: str, *, lines: str | None = None, bytes: str | None = None,
                   skip_beginning: bool = False, grep: str | None = None) -> str:
        return await self._run(FilePart(
            "tail", path, limit=self.max_file_size, lines=lines, bytes=bytes, skip=skip_beginning, grep=grep))

    async def checksum(self, path: str) -> str:
        return await self._run(Checksum(path))

    async def whoami(self, groups: bool = False):
        return await self.session.execute(Whoami(groups))

    async def view(self, path: str, *, offset: int = 0, size: int | None = None) -> str:
        """The text of a file of at most max_file_size bytes; with `size`, at most `size` (up to
        max_file_size) bytes of it from `offset` on, of a file of any size."""
        if size is None and offset == 0:
            async with self.open_for_reading(path) as reader:
                return (await reader.read()).decode(errors="replace")
        size = self.max_file_size if size is None else size
        if offset < 0 or not 0 < size <= self.max_file_size:
            raise InvalidInput(f"offset must be 0 or more and size from 1 to {self.max_file_size} bytes")
        await self.resolver.check(path)
        sftp = await self.session.sftp()
        async with sftp_ops.open_for_reading(sftp, path, None, self.timeout) as reader:
            return (await reader.read_range(offset, size)).decode(errors="replace")

    @contextlib.asynccontextmanager
    async def open_for_reading(self, path: str):
        """A reader of a regular file of at most max_file_size bytes: `.size`, `async for chunk in .chunks()`."""
        await self.resolver.check(path)
        sftp = await self.session.sftp()
        async with sftp_ops.open_for_reading(sftp, path, self.max_file_size, self.timeout) as reader:
            yield reader

    # ---- changes ---------------------------------------------------------------------------------

    async def upload(self, path: str, data: bytes) -> None:
        """Write `path` (replacing it) with `data` of at most max_file_size bytes, all or nothing."""
        if len(data) > self.max_file_size:
            raise FileTooLarge(
                f"the file is {len(data)} bytes, more than the {self.max_file_size} bytes this service carries; "
                "use staging")
        # The data replaces the name `path` (a rename in its directory), never writing through a link there.
        await self.resolver.check_entry(path)
        sftp = await self.session.sftp()
        await sftp_ops.write_file(sftp, path, data, self.timeout)

    async def mkdir(self, path: str, parents: bool = False) -> None:
        await self.resolver.check(path)
        async with self._sftp(path) as sftp:
            await sftp_ops.make_directory(sftp, path, parents)

    async def rename(self, source: str, target: str) -> None:
        move = Move(source, target)
        await self.resolver.check_command(move)
        async with self._source_must_exist(source):
            async with self._sftp(source) as sftp:
                renamed = await sftp_ops.rename(sftp, source, target)
            if not renamed:
                await self.session.execute(move)

    async def copy(self, source: str, target: str) -> None:
        async with self._source_must_exist(source):
            await self._run(Copy(source, target))

    async def symlink(self, target: str, link: str) -> None:
        await self.resolver.check(target)
        await self.resolver.check_entry(link)
        async with self._sftp(link) as sftp:
            await sftp_ops.symlink(sftp, target, link)

    async def remove(self, path: str) -> None:
        remove_tree = RemoveTree(path)
        await self.resolver.check_command(remove_tree)
        async with self._sftp(path) as sftp:
            removed = await sftp_ops.remove(sftp, path)
        if not removed:
            await self.session.execute(remove_tree)

    async def chmod(self, path: str, mode: str) -> str:
        change_mode = ChangeMode(path, mode)
        await self.resolver.check_command(change_mode)
        if OCTAL_MODE.fullmatch(mode):
            async with self._sftp(path) as sftp:
                return await sftp_ops.change_mode(sftp, path, int(mode, 8))
        return await self.session.execute(change_mode)

    async def chown(self, path: str, owner: str | None = None, group: str | None = None) -> str:
        return await self._run(ChangeOwner(path, owner, group))

    async def compress(self, source: str, target: str, dereference: bool = False) -> None:
        async with self._source_must_exist(source):
            await self._run(Compress(source, target, dereference))

    async def extract(self, source: str, target: str, extension: str | None = None) -> None:
        command = Extract(source, target, extension)
        async with self._source_must_exist(source):
            await self._run(command)
