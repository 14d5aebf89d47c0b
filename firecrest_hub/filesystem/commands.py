"""The file operations SFTP cannot do, each one remote command object.

Every argv is a list of words (the pool quotes each one), options come first and `--` stands before the
paths (or the paths are a script's positional parameters), so neither a quote nor a leading dash in a path
can change what runs. Paths reaching these objects have passed the path policy (paths.py), and each object
declares how its tool treats them, for the check of where they lead; other values (sizes, modes, names)
are checked here, before anything runs. Every command runs with the pool's time limit and output cap.
"""

from __future__ import annotations

import dataclasses
import os
import re

from ..errors import (
    AlreadyExists, CommandFailed, InvalidGroup, InvalidInput, InvalidMode, InvalidOwner, IsADirectory,
    NotADirectory, OutputTooLarge, PatternNotFound, PermissionDenied,
)
from ..identity import POSIX_ACCOUNT
from ..remote import CommandResult, RemoteCommand, raise_for_stderr, system_script
from .paths import CONTROL_CHARACTERS

# These are matched whole (fullmatch).
# head/tail counts: digits with GNU's multiplier suffixes (b, kB, K, KiB, MB, M, MiB, ...).
_COUNT = re.compile(r"[0-9]{1,18}(?:b|kB|[KMGTPE](?:i?B)?)?")
# chmod: octal, or symbolic clauses such as u+x,go-w or a=rX.
OCTAL_MODE = re.compile(r"[0-7]{1,4}")
_SYMBOLIC_MODE = re.compile(r"[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+(?:,[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+)*")
# What `file` prints (with exit status 0) for paths it cannot read.
_FILE_TROUBLE = ("cannot open", "cannot stat", "no read permission")
_STAT_FORMAT = "%f %i %d %h %u %g %s %X %Y %Z"
_STAT_FIELDS = ("mode", "ino", "dev", "nlink", "uid", "gid", "size", "atime", "mtime", "ctime")
# Which extractor handles which suffix; GNU tar recognizes the compression of a .tgz/.gz/.bz2 itself.
EXTRACTORS = {".zip": "unzip", ".tar": "tar", ".tgz": "tar", ".gz": "tar", ".bz2": "tar"}
EXTRACT_SCRIPT = system_script(__package__, "extract.sh")
_MAX_MESSAGE = 1000
# What the tools' messages say, and the error each means; the rest is read by raise_for_stderr.
_FAILURES = [
    ("invalid user", InvalidOwner),
    ("invalid group", InvalidGroup),
    ("invalid mode", InvalidMode),
    ("file exists", AlreadyExists),
    ("not a directory", NotADirectory),
    ("is a directory", IsADirectory),
    ("no read permission", PermissionDenied),
]


def plain(text: str) -> str:
    """A command's message made fit for a JSON description and an HTTP header: one line, ASCII only."""
    flat = " ".join(text.split())
    return "".join(char if " " <= char <= "~" else ascii(char)[1:-1] for char in flat)[:_MAX_MESSAGE]


def raise_for_failure(result: CommandResult) -> None:
    """Turn a failed file command into the typed error whose v1 header its clients expect."""
    message = plain(result.stderr or result.stdout) or f"{result.argv[0]} exited with status {result.exit_status}"
    lowered = message.lower()
    for phrase, error in _FAILURES:
        if phrase in lowered:
            raise error(message)
    raise_for_stderr(dataclasses.replace(result, stderr=message))


class FileCommand(RemoteCommand):
    """A file command whose failures read as raise_for_failure() explains.

    It declares how its tool treats its paths, for PathResolver.check_command: `followed_paths` the tool
    follows to their end (through a symlink there too), `named_paths` it acts on as names (a symlink there
    is itself the object, as for rm or cp --no-dereference).
    """

    def followed_paths(self) -> tuple[str, ...]:
        return ()

    def named_paths(self) -> tuple[str, ...]:
        return ()

    def parse(self, result: CommandResult):
        if not result.ok:
            raise_for_failure(result)
        return self.read(result.stdout)

    def read(self, stdout: str):
        # v1 answered with the output less its final newline.
        return stdout.removesuffix("\n")


class FileType(FileCommand):
    def __init__(self, path: str):
        self.path = path

    def argv(self) -> list[str]:
        # -E: fail with a non-zero status when the file cannot be read, instead of describing the error.
        return ["file", "-E", "-b", "--", self.path]

    def named_paths(self) -> tuple[str, ...]:
        # Without -L, `file` describes a symlink itself ("symbolic link to ...").
        return (self.path,)

    def read(self, stdout: str) -> str:
        output = super().read(stdout)
        if any(trouble in output for trouble in _FILE_TROUBLE):
            raise_for_failure(CommandResult(("file",), 1, "", output))
        return output


class StatFile(FileCommand):
    """stat with v1's fields: mode (raw, type bits included), ino, dev, nlink, uid, gid, size, times."""

    def __init__(self, path: str, dereference: bool):
        self.path, self.dereference = path, dereference

    def argv(self) -> list[str]:
        return ["stat", *(["--dereference"] if self.dereference else []), f"--format={_STAT_FORMAT}", "--", self.path]

    def followed_paths(self) -> tuple[str, ...]:
        return (self.path,) if self.dereference else ()

    def named_paths(self) -> tuple[str, ...]:
        return () if self.dereference else (self.path,)

    def read(self, stdout: str) -> dict[str, int]:
        values = stdout.split()
        if len(values) != len(_STAT_FIELDS):
            raise CommandFailed(f"stat printed something unexpected: {plain(stdout)}")
        stat = dict(zip(_STAT_FIELDS, values))
        return {name: int(value, 16 if name == "mode" else 10) for name, value in stat.items()}


class OwnerNames(FileCommand):
    """The names of a path's owner and group (of a symlink itself, not of its target)."""

    def __init__(self, path: str):
        self.path = path

    def argv(self) -> list[str]:
        return ["stat", "--format=%U %G", "--", self.path]

    def named_paths(self) -> tuple[str, ...]:
        return (self.path,)

    def read(self, stdout: str) -> tuple[str, str]:
        user, group = stdout.split()
        return user, group


def check_count(label: str, value: str) -> str:
    if not _COUNT.fullmatch(value):
        raise InvalidInput(f"{label} {value!a} is not a count (digits, optionally with K, M, G, KB, MB...)")
    return value


class FilePart(FileCommand):
    """head or tail: the first or last lines or bytes of a file, at most `limit` bytes of them.

    `skip` turns the count around as the tools do: head without the last N, tail from the Nth on.
    Bytes and lines cannot both be given; neither means the tools' default of 10 lines. `grep` keeps the
    lines holding that fixed string, as v1's `| grep --fixed-strings` did; here no shell pipes anything,
    the lines are filtered in the service (and no match is an empty answer, not an error).
    """

    def __init__(self, tool: str, path: str, *, limit: int, lines: str | None = None,
                 bytes: str | None = None, skip: bool = False, grep: str | None = None):
        if tool not in ("head", "tail"):
            raise ValueError(tool)
        if lines and bytes:
            raise InvalidInput("give either 'bytes' or 'lines', not both")
        if grep is not None and (not grep or CONTROL_CHARACTERS.search(grep)):
            raise InvalidInput("grep must be one line of text")
        self.tool, self.path, self.limit, self.grep = tool, path, limit, grep
        self.option = None
        if lines or bytes:
            unit, count = ("--lines", lines) if lines else ("--bytes", bytes)
            count = check_count(unit.lstrip("-"), count)
            sign = ("-" if tool == "head" else "+") if skip else ""
            self.option = f"{unit}={sign}{count}"

    def argv(self) -> list[str]:
        return [self.tool, *([self.option] if self.option else []), "--", self.path]

    def followed_paths(self) -> tuple[str, ...]:
        return (self.path,)

    def read(self, stdout: str) -> str:
        if len(stdout.encode(errors="surrogateescape")) > self.limit:
            raise OutputTooLarge(
                f"{self.tool} of {self.path!a} is more than {self.limit} bytes; ask for fewer bytes or lines")
        if self.grep is None:
            return stdout
        matching = "".join(line for line in stdout.splitlines(keepends=True) if self.grep in line)
        if not matching:
            raise PatternNotFound(f"pattern not found: no line of the {self.tool} of {self.path!a} holds it")
        return matching


class Checksum(FileCommand):
    def __init__(self, path: str):
        self.path = path

    def argv(self) -> list[str]:
        return ["sha256sum", "--", self.path]

    def followed_paths(self) -> tuple[str, ...]:
        return (self.path,)

    def read(self, stdout: str) -> str:
        # sha256sum prefixes the line with a backslash when it had to escape the file name.
        return stdout.split()[0].lstrip("\\")


class Whoami(FileCommand):
    """The account's name, or with `groups` its user, primary group and all groups as v1 shapes them."""

    # id prints: uid=1001(alice) gid=1001(alice) groups=1001(alice),27(sudo)[ context=...]
    _FIELDS = re.compile(r"^uid=(?P<uid>\S+) gid=(?P<gid>\S+)(?: groups=(?P<groups>.*?))?(?: context=\S*)?$")
    _ID = re.compile(r"(\d+)(?:\(([^)]*)\))?")

    def __init__(self, groups: bool):
        self.groups = groups

    def argv(self) -> list[str]:
        return ["id"] if self.groups else ["id", "-un"]

    def read(self, stdout: str):
        if not self.groups:
            return stdout.strip()
        match = self._FIELDS.match(stdout.strip())
        if not match:
            raise CommandFailed(f"id printed something unexpected: {plain(stdout)}")

        def ids(text: str) -> list[dict[str, str]]:
            # An id without a name (no passwd or group entry) keeps the number as its name, as ls shows it.
            return [{"name": name or number, "id": number} for number, name in self._ID.findall(text)]

        return {
            "user": ids(match["uid"])[0],
            "group": ids(match["gid"])[0],
            "groups": ids(match["groups"] or match["gid"]),
        }


class Copy(FileCommand):
    """cp as v1 ran it: recursive, symlinks copied as links (with `dereference`, what they point to, as
    v2 can), attributes preserved, targets overwritten."""

    def __init__(self, source: str, target: str, dereference: bool = False):
        self.source, self.target, self.dereference = source, target, dereference

    def argv(self) -> list[str]:
        links = "--dereference" if self.dereference else "--no-dereference"
        return ["cp", "--force", links, "--recursive", "--preserve=all", "--", self.source, self.target]

    def followed_paths(self) -> tuple[str, ...]:
        # The target: a directory (or a link to one) the copy lands in.
        return (self.source, self.target) if self.dereference else (self.target,)

    def named_paths(self) -> tuple[str, ...]:
        return () if self.dereference else (self.source,)


class Move(FileCommand):
    """mv, for what a rename over SFTP cannot do (another filesystem, into an existing directory)."""

    def __init__(self, source: str, target: str):
        self.source, self.target = source, target

    def argv(self) -> list[str]:
        return ["mv", "--force", "--", self.source, self.target]

    def followed_paths(self) -> tuple[str, ...]:
        return (self.target,)  # a directory (or a link to one) the source lands in

    def named_paths(self) -> tuple[str, ...]:
        return (self.source,)


class RemoveTree(FileCommand):
    """rm -r, for directories; single files are removed over SFTP."""

    def __init__(self, path: str):
        self.path = path

    def argv(self) -> list[str]:
        return ["rm", "--recursive", "--interactive=never", "--", self.path]

    def named_paths(self) -> tuple[str, ...]:
        return (self.path,)  # rm removes a link, never what it points to


def check_mode(mode: str | None) -> str:
    if not mode or not (OCTAL_MODE.fullmatch(mode) or _SYMBOLIC_MODE.fullmatch(mode)):
        raise InvalidMode(f"mode {mode!a} is neither octal (e.g. 750) nor symbolic (e.g. u+x,go-w)")
    return mode


class ChangeMode(FileCommand):
    """chmod for symbolic modes, which depend on the current mode; octal modes are set over SFTP."""

    def __init__(self, path: str, mode: str):
        self.path, self.mode = path, check_mode(mode)

    def argv(self) -> list[str]:
        # After `--` a mode such as -w is taken as a mode, not as an option.
        return ["chmod", "--verbose", "--", self.mode, self.path]

    def followed_paths(self) -> tuple[str, ...]:
        return (self.path,)


def check_owner_name(label: str, value: str, error: type[InvalidInput]) -> str:
    if not ((value.isascii() and value.isdigit()) or POSIX_ACCOUNT.fullmatch(value)):
        raise error(f"{label} {value!a} is not a POSIX user or group name or a numeric id")
    return value


class ChangeOwner(FileCommand):
    """chown owner, :group or owner:group; at least one of them."""

    def __init__(self, path: str, owner: str | None, group: str | None):
        if not owner and not group:
            raise InvalidInput("give an owner, a group or both")
        self.path = path
        self.spec = ((check_owner_name("owner", owner, InvalidOwner) if owner else "")
                     + (":" + check_owner_name("group", group, InvalidGroup) if group else ""))

    def argv(self) -> list[str]:
        return ["chown", "--verbose", "--", self.spec, self.path]

    def followed_paths(self) -> tuple[str, ...]:
        return (self.path,)  # chown without --no-dereference changes what a link points to


class Compress(FileCommand):
    """A gzipped tar of `source` (stored under its own name) at `target`."""

    def __init__(self, source: str, target: str, dereference: bool):
        self.source, self.target, self.dereference = source, target, dereference

    def argv(self) -> list[str]:
        return [
            "tar", "--create", "--gzip", f"--file={self.target}", f"--directory={os.path.dirname(self.source)}",
            *(["--dereference"] if self.dereference else []), "--", os.path.basename(self.source),
        ]

    def followed_paths(self) -> tuple[str, ...]:
        return (self.source, self.target) if self.dereference else (self.target,)

    def named_paths(self) -> tuple[str, ...]:
        return () if self.dereference else (self.source,)


def extractor_for(source: str, extension: str | None) -> str:
    """The tool for `source`: from `extension` (.zip, .tar, .tgz, .gz, .bz2), or from its name if 'auto'."""
    suffix = os.path.splitext(source)[1] if extension in (None, "", "auto") else extension
    tool = EXTRACTORS.get(suffix)
    if tool is None:
        raise InvalidInput(
            f"cannot extract {source!a} as {suffix!a}: the supported extensions are {', '.join(EXTRACTORS)}")
    return tool


class Extract(FileCommand):
    """Unpack the archive `source` into the directory `target` (made if missing), leaving out the archive's
    symlinks that are absolute or lead out of it, each named on stderr (see scripts/extract.sh)."""

    def __init__(self, source: str, target: str, extension: str | None):
        self.source, self.target = source, target
        self.tool = extractor_for(source, extension)

    def argv(self) -> list[str]:
        # The paths are the script's positional parameters: neither bash nor a tool reads them as options.
        return ["bash", "-c", EXTRACT_SCRIPT, "extract-archive", self.tool, self.source, self.target]

    def followed_paths(self) -> tuple[str, ...]:
        return (self.source, self.target)
