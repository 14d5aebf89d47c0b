"""Filesystem: the path policy and the file operations, run on the systems as the user.

Callers check every path with `PathPolicy(system.filesystems).check(...)`, then call
`FileOperations(session, ...)`: SFTP for structural operations, command objects for the rest.
"""

from .operations import FileOperations
from .paths import PathPolicy

__all__ = ["FileOperations", "PathPolicy"]
