"""The path policy: which strings may reach a system as paths, and where those paths may lead there.

Two steps. The lexical one (PathPolicy), before anything runs: a path is accepted when it is absolute,
has no `..` component, holds no control character, and lies inside one of the system's configured
filesystems, compared on a path-separator boundary (`/homeX` is not inside `/home`). Accepted paths
come back normalized: repeated and trailing slashes and `.` components are dropped.

`..` is refused rather than resolved: resolving it lexically would disagree with the kernel whenever the
component before it is a symlink, and a caller who writes `..` means something we cannot check.

The resolving one (PathResolver), just before an operation: a symlink inside a filesystem may point
anywhere (`/home/bob/x -> /etc`), so the lexical check alone would let `/home/bob/x/hostname` read
`/etc/hostname`, which is refused when named as such. The resolver asks the system where the path leads,
with one SFTP realpath: OpenSSH's sftp-server resolves with OpenBSD's realpath(3), which follows every
symlink (the last one too, dangling or not) and keeps a missing last name as given, so one request answers
for existing paths and for the new names that mkdir, upload or copy create. The place it leads to must lie
inside the filesystems (as configured, or as they themselves resolve). Operations that act on a name
itself (rm, rename's source, the new link of symlink, stat without dereference) have only its directory
resolved: removing a link never touches its target.

The check and the operation are two steps, so a user who swaps their own directory for a link in between
can still reach what their account may reach; every operation runs as that account, and the cluster's
permissions stay the real guard. The policy keeps requests within the advertised filesystems and keeps
hostile strings (control characters, option-like words) away from the commands; it is not a sandbox.
"""

from __future__ import annotations

import asyncio
import posixpath
import re
from typing import TYPE_CHECKING

from ..errors import InvalidPath, PermissionDenied
from ..remote import RemoteSession, guarded
from .sftp_ops import resolve

if TYPE_CHECKING:  # commands.py imports this module
    from .commands import FileCommand

# Control characters would split lines in command output and logs; NUL cannot travel in a path at all.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Linux's PATH_MAX, terminating NUL included.
MAX_PATH_LENGTH = 4095
# Linux's NAME_MAX, for a single file name such as an uploaded file's.
MAX_NAME_LENGTH = 255


class PathPolicy:
    """Checks paths against the filesystems of one system."""

    def __init__(self, filesystems: tuple[str, ...] | list[str]):
        self.filesystems = tuple(filesystems)

    def check(self, path: str | None, label: str = "path") -> str:
        """The normalized path, or InvalidPath naming `label` and what is wrong."""
        if not path:
            raise InvalidPath(f"{label} is missing")
        if CONTROL_CHARACTERS.search(path):
            raise InvalidPath(f"{label} must not contain NUL, newlines or other control characters")
        if len(path) > MAX_PATH_LENGTH:
            raise InvalidPath(f"{label} is longer than {MAX_PATH_LENGTH} characters")
        if not path.startswith("/"):
            raise InvalidPath(f"{label} {path!a} is not an absolute path")
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise InvalidPath(f"{label} {path!a} contains '..'; give the path without it")
        normalized = "/" + "/".join(parts)
        if not self.contains(normalized):
            raise InvalidPath(
                f"{label} {path!a} is outside the filesystems of this system ({self.filesystem_list()})")
        return normalized

    def contains(self, path: str) -> bool:
        """Whether the normalized `path` lies inside one of the filesystems."""
        return any(_within(path, root) for root in self.filesystems)

    def filesystem_list(self) -> str:
        return ", ".join(self.filesystems)

    def check_removable(self, path: str | None, label: str = "path") -> str:
        """As check(), and not a filesystem root itself: removing or moving a root is never meant."""
        normalized = self.check(path, label)
        if normalized in self.filesystems:
            raise InvalidPath(f"{label} {normalized!a} is the root of a filesystem and cannot be removed or moved")
        return normalized

    def join(self, directory: str, name: str | None, label: str = "file name") -> str:
        """`directory/name` for a plain file name (no slash, not `.` or `..`), checked as a whole."""
        if not name:
            raise InvalidPath(f"{label} is missing")
        if "/" in name or name in (".", "..") or CONTROL_CHARACTERS.search(name) or len(name) > MAX_NAME_LENGTH:
            raise InvalidPath(f"{label} {name!a} is not a plain file name")
        return self.check(directory.rstrip("/") + "/" + name, label)


def _within(path: str, root: str) -> bool:
    if root == "/":
        return True
    return path == root or path.startswith(root + "/")


class PathResolver:
    """Where paths lead on one system as one session's account, checked against the filesystems.

    One per request. The filesystems' own resolution is asked only when a path leads outside them as
    configured (as on a site whose /home is a link to /export/home), and kept for the resolver's lifetime.
    Paths given here have passed PathPolicy.check; the methods return them unchanged, so that operations
    and their messages keep the names the caller used.
    """

    def __init__(self, policy: PathPolicy, session: RemoteSession):
        self.policy, self.session = policy, session
        self._resolved_roots: list[str] | None = None

    @classmethod
    def for_session(cls, session: RemoteSession) -> PathResolver:
        return cls(PathPolicy(session.system.filesystems), session)

    async def check(self, path: str) -> str:
        """`path`, if the place it leads to (every symlink on the way and at its end followed) is inside
        the filesystems; else InvalidPath. For what reads, writes, lists or changes through a path."""
        resolved = await self._resolve(path)
        if not await self._inside(resolved):
            raise InvalidPath(f"{path!a} resolves to {resolved!a}, outside the filesystems of this system "
                              f"({self.policy.filesystem_list()})")
        return path

    async def check_entry(self, path: str) -> str:
        """`path`, if its directory leads inside the filesystems; the last name itself is not followed. For
        what acts on that name: removing or renaming it, creating a link there, stat without dereference."""
        if path not in self.policy.filesystems:  # a root is inside by definition; its directory is not
            await self.check(posixpath.dirname(path))
        return path

    async def check_command(self, command: FileCommand) -> None:
        """The paths of a file command, each as its tool treats it (FileCommand.followed_paths, named_paths)."""
        for path in command.followed_paths():
            await self.check(path)
        for path in command.named_paths():
            await self.check_entry(path)

    async def _resolve(self, path: str) -> str:
        sftp = await self.session.sftp()
        async with guarded(path, self.session.pool.command_timeout):
            return await resolve(sftp, path)

    async def _inside(self, resolved: str) -> bool:
        if self.policy.contains(resolved):
            return True
        if self._resolved_roots is None:
            self._resolved_roots = [root for root in await asyncio.gather(
                *(self._resolve_root(root) for root in self.policy.filesystems)) if root]
        return any(_within(resolved, root) for root in self._resolved_roots)

    async def _resolve_root(self, root: str) -> str | None:
        try:
            return await self._resolve(root)
        except PermissionDenied:  # a root this account cannot reach leads nowhere for it
            return None
