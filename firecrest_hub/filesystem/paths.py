"""The path policy: which strings may reach a system as paths, checked before anything runs.

A path is accepted when it is absolute, has no `..` component, holds no control character, and lies
inside one of the system's configured filesystems, compared on a path-separator boundary (`/homeX` is not
inside `/home`). Accepted paths come back normalized: repeated and trailing slashes and `.` components
are dropped.

`..` is refused rather than resolved: resolving it lexically would disagree with the kernel whenever the
component before it is a symlink, and a caller who writes `..` means something we cannot check.

The policy is lexical. A symlink inside a filesystem may point anywhere; following it is the cluster's
business, because every operation runs as the user's own account, so the cluster's permissions are the
real guard. The policy keeps requests within the advertised filesystems and keeps hostile strings (control
characters, option-like words) away from the commands; it is not a sandbox.
"""

from __future__ import annotations

import re

from ..errors import InvalidPath

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
        if not any(_within(normalized, root) for root in self.filesystems):
            raise InvalidPath(
                f"{label} {path!a} is outside the filesystems of this system ({', '.join(self.filesystems)})")
        return normalized

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
