"""Remote access to the systems: pooled SSH connections as the user, command objects, SFTP."""

from .command import CommandResult, RemoteCommand, raise_for_stderr, to_shell
from .pool import ConnectionPool, RemoteSession

__all__ = ["CommandResult", "ConnectionPool", "RemoteCommand", "RemoteSession", "raise_for_stderr", "to_shell"]
