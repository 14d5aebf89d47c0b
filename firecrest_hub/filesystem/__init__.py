"""Filesystem: the path policy and the file operations, run on the systems as the user.

Callers check every path with `PathPolicy(system.filesystems).check(...)`, then call
`FileOperations(session, ...)`: SFTP for structural operations, command objects for the rest; each
operation first checks where its paths lead on the system (`PathResolver`, also for callers that run
commands of their own on a user's paths).
"""

from .operations import FileOperations
from .paths import PathPolicy, PathResolver

__all__ = ["FileOperations", "PathPolicy", "PathResolver"]
