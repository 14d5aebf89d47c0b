"""Remote access to the systems: pooled SSH connections as the user, command objects, SFTP (time-limited,
with typed errors, and the tail of a file)."""

from .command import CommandResult, RemoteCommand, raise_for_stderr, system_script, to_shell
from .pool import ConnectionPool, RemoteSession
from .sftp import guarded, home_if_relative, read_tail, relative_to

__all__ = ["CommandResult", "ConnectionPool", "RemoteCommand", "RemoteSession", "guarded", "home_if_relative",
           "raise_for_stderr", "read_tail", "relative_to", "system_script", "to_shell"]
