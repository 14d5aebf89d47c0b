"""Remote access to the systems: pooled SSH connections as the user, command objects, SFTP (time-limited,
with typed errors, and the tail of a file)."""

from .command import CommandResult, RemoteCommand, raise_for_stderr, to_shell
from .pool import ConnectionPool, RemoteSession
from .sftp import guarded, read_tail

__all__ = ["CommandResult", "ConnectionPool", "RemoteCommand", "RemoteSession", "guarded", "raise_for_stderr",
           "read_tail", "to_shell"]
