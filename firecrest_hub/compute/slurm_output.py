"""Reading what Slurm's commands print: delimited records, key=value one-liners, and error messages."""

from __future__ import annotations

import re
import secrets

from ..errors import CommandFailed, SchedulerUnavailable
from ..remote import CommandResult, raise_for_stderr

# What Slurm's clients print when slurmctld (or slurmdbd, for sacct) does not answer.
_CONTROLLER_DOWN = (
    "unable to contact slurm controller",
    "slurm controller not responding",
    "socket timed out",
    "zero bytes were transmitted or received",
    "slurmdbd: connection refused",
    "problem talking to the database",
)
# A key in scontrol's one-line output: "JobId=", "AllocNode:Sid=", "CPUs/Task=" ... always
# capitalized, and always after a space. Values may hold spaces ("OS=Linux 6.1.0 #1 SMP") and '='
# ("CfgTRES=cpu=64,mem=1M"), but not " Capitalized=", which is what ends a value.
_KEY = re.compile(r"(?:^|(?<= ))([A-Z][A-Za-z0-9_:/]*)=")


def random_delimiter() -> str:
    """A field separator no job name or path can contain, because nobody can know it in advance.

    Job names, working directories and output paths are chosen by users and may contain '|',
    quotes or even newlines; a fixed separator would let one user's job name forge records of
    another user's jobs in the shared queue snapshot.
    """
    return f"|{secrets.token_hex(8)}|"


def split_records(text: str, delimiter: str, field_count: int) -> list[list[str]]:
    """Split `field_count`-field records, each ended by a newline, whose fields are joined by `delimiter`.

    Splitting on the delimiter alone leaves, between two records, one piece "last field\\nfirst field";
    the first field is a job id (never a newline in it), so that piece splits at its last newline.
    Every other field may hold anything but the delimiter, newlines included.
    """
    pieces = text.split(delimiter)
    records: list[list[str]] = []
    record = [pieces[0]]
    for piece in pieces[1:]:
        if len(record) == field_count - 1:
            last, newline, first = piece.rpartition("\n")
            if not newline:
                raise CommandFailed(f"unexpected scheduler output: a record does not end in a newline: {piece!r}")
            records.append(record + [last])
            record = [first]
        else:
            record.append(piece)
    if record != [""]:
        raise CommandFailed(f"unexpected scheduler output: an incomplete record {record!r}")
    return records


def parse_key_values(line: str) -> dict[str, str]:
    """One line of `scontrol show ... -o` as a dict, in printed order."""
    matches = list(_KEY.finditer(line))
    fields = {}
    for match, following in zip(matches, matches[1:] + [None]):
        end = following.start() if following else len(line)
        # Slurm pads some values with an extra space ("CoresPerSocket=1  CPUAlloc=0").
        fields[match.group(1)] = line[match.end():end].rstrip(" \n")
    return fields


def plain(value: str | None) -> str:
    """Slurm's ways of printing "nothing" ("(null)", "N/A", "None") as an empty string."""
    return "" if value in (None, "(null)", "N/A", "None", "none") else value


def listed(value: str | None, separator: str = ",") -> list[str]:
    """A Slurm list ("debug,xfer", "IDLE+DRAIN", "(null)") as a Python list."""
    value = plain(value)
    return value.split(separator) if value else []


def error_messages(result: CommandResult) -> list[str]:
    """The messages of a Slurm client's error lines: "sbatch: error: X" -> "X"."""
    return [line.split(": error: ", 1)[1].strip() for line in result.stderr.splitlines() if ": error: " in line]


def error_text(result: CommandResult) -> str:
    """What to tell a user about a failed Slurm command: its error lines, else its whole stderr."""
    return "\n".join(error_messages(result)) or result.stderr.strip()


def raise_if_controller_down(result: CommandResult) -> None:
    lowered = result.stderr.lower()
    if any(symptom in lowered for symptom in _CONTROLLER_DOWN):
        raise SchedulerUnavailable(
            f"the Slurm controller does not answer: {error_text(result)}")


def raise_for_slurm(result: CommandResult) -> None:
    """The reading of a failed Slurm command that has nothing more specific to say."""
    if result.ok:
        return
    raise_if_controller_down(result)
    raise_for_stderr(result)
