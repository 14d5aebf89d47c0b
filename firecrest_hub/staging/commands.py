"""The cluster side of staging, each a remote command object run as the user: curl between the object
store and the system's filesystem, and the checks of what arrived.

Presigned URLs are credentials for as long as they live, so they never appear in an argv, where `ps`
would show them to every user of the login node: curl reads them from its config on stdin
(`curl --config -`), and the part pusher reads them from stdin into shell variables that only builtins
touch (scripts/fetch-pieces.sh, scripts/push-parts.sh). Paths travel as argv words or as quoted values in
that config, never inside a formatted script.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CommandFailed
from ..filesystem.commands import Checksum, plain
from ..remote import CommandResult, RemoteCommand, system_script


FETCH_PIECES_SCRIPT = system_script(__package__, "fetch-pieces.sh")
PUSH_PARTS_SCRIPT = system_script(__package__, "push-parts.sh")


class StagingFailed(CommandFailed):
    """A staged transfer could not be completed; the description says why."""


class TransferFailed(CommandFailed):
    """curl could not move the data (the store refused or went away, a file could not be read or written)."""


@dataclass(frozen=True)
class CurlLimits:
    """How curl gives up instead of hanging: no connection within `connect_timeout` seconds, or less than
    `min_speed` bytes per second for `stall_time` seconds."""

    connect_timeout: int = 10
    min_speed: int = 1024
    stall_time: int = 60

    def options(self) -> list[str]:
        # curl takes option values as separate words (it has no --option=value form).
        return ["--connect-timeout", str(self.connect_timeout), "--speed-limit", str(self.min_speed),
                "--speed-time", str(self.stall_time)]


def config_value(value: str) -> str:
    """A value for curl's config syntax: double-quoted, with backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class CurlTransfer(RemoteCommand):
    """`curl --config -`: the URL (and the path) come on stdin, the rest are ordinary options."""

    direction = "transfer"

    def __init__(self, url: str, limits: CurlLimits, timeout: float | None = None):
        self.url, self.limits, self.timeout = url, limits, timeout

    def argv(self) -> list[str]:
        return ["curl", "--config", "-", "--fail", "--silent", "--show-error", *self.limits.options()]

    def config(self) -> dict[str, str]:
        return {"url": self.url}

    def stdin(self) -> str:
        return "".join(f"{name} = {config_value(value)}\n" for name, value in self.config().items())

    def parse(self, result: CommandResult) -> None:
        if not result.ok:
            message = plain(result.stderr) or f"curl exited with status {result.exit_status}"
            raise TransferFailed(f"the {self.direction} failed: {message}")


class FetchObject(CurlTransfer):
    """Download a staged object into `path` (a temporary name; the caller moves it into place)."""

    direction = "transfer from the object store to the system"

    def __init__(self, url: str, path: str, limits: CurlLimits, timeout: float | None = None):
        super().__init__(url, limits, timeout)
        self.path = path

    def argv(self) -> list[str]:
        # A dropped connection is retried from the start; curl rewrites the output file then.
        return [*super().argv(), "--retry", "2"]

    def config(self) -> dict[str, str]:
        return {**super().config(), "output": self.path}


class PushFile(CurlTransfer):
    """Upload the file at `path` to a presigned PUT URL in one request (up to S3's 5 GiB)."""

    direction = "transfer from the system to the object store"

    def __init__(self, url: str, path: str, limits: CurlLimits, timeout: float | None = None):
        super().__init__(url, limits, timeout)
        self.path = path

    def argv(self) -> list[str]:
        # No "Expect: 100-continue" round trip before the body.
        return [*super().argv(), "--header", "Expect:"]

    def config(self) -> dict[str, str]:
        return {**super().config(), "upload-file": self.path}




class FetchPieces(RemoteCommand):
    """Download pieces of a file into their places in `path` (run several for parallel streams):
    `pieces` is [(offset, size, url)] with sizes above zero. Either byte ranges of one staged object
    (`ranged`), or whole objects (the parts of an upload), waited for up to `wait` seconds each."""

    direction = FetchObject.direction

    def __init__(self, path: str, pieces: list[tuple[int, int, str]], limits: CurlLimits, *, ranged: bool,
                 wait: int = 0, timeout: float | None = None):
        self.path, self.pieces, self.limits, self.timeout = path, pieces, limits, timeout
        self.ranged, self.wait = ranged, wait

    def argv(self) -> list[str]:
        return ["bash", "-c", FETCH_PIECES_SCRIPT, "fetch-pieces", self.path, "ranged" if self.ranged else "whole",
                str(self.wait), *self.limits.options()]

    def stdin(self) -> str:
        return "".join(f"{offset} {size} {url}\n" for offset, size, url in self.pieces)

    parse = CurlTransfer.parse


class AllocatedBytes(RemoteCommand):
    """Bytes the file occupies on disk: how far side-by-side range downloads into a sparse file got."""

    timeout = 30

    def __init__(self, path: str):
        self.path = path

    def argv(self) -> list[str]:
        return ["du", "--block-size=1", "--", self.path]

    def parse(self, result: CommandResult) -> int | None:
        if not result.ok or not result.stdout.split():
            return None
        return int(result.stdout.split()[0])


class PushParts(RemoteCommand):
    """Upload byte ranges of `path` as parts of a multipart upload: `parts` is [(number, offset, size,
    url)], pushed one after the other (run several of these for parallel streams)."""

    direction = "transfer from the system to the object store"

    def __init__(self, path: str, parts: list[tuple[int, int, int, str]], limits: CurlLimits,
                 timeout: float | None = None):
        self.path, self.parts, self.limits, self.timeout = path, parts, limits, timeout

    def argv(self) -> list[str]:
        return ["bash", "-c", PUSH_PARTS_SCRIPT, "push-parts", self.path, *self.limits.options()]

    def stdin(self) -> str:
        return "".join(f"{number} {offset} {size} {url}\n" for number, offset, size, url in self.parts)

    parse = CurlTransfer.parse


class Niced(RemoteCommand):
    """`command` at a lower CPU priority (`nice`): a transfer then takes what the CPU of a shared login
    node has left, instead of slowing its interactive users (and, on a small one, the client's upload
    that the transfer fetches from)."""

    def __init__(self, command: RemoteCommand, niceness: int):
        self.command, self.niceness = command, niceness
        self.timeout = command.timeout

    def argv(self) -> list[str]:
        argv = self.command.argv()
        return ["nice", "-n", str(self.niceness), *argv] if self.niceness else argv

    def stdin(self):
        return self.command.stdin()

    def parse(self, result: CommandResult):
        return self.command.parse(result)


class Sha256(Checksum):
    """sha256sum of a staged file, with a time limit fit for its size."""

    def __init__(self, path: str, timeout: float):
        super().__init__(path)
        self.timeout = timeout
