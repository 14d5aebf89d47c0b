"""Input checks for scheduler commands: each raises InvalidInput, before anything runs on the system.

Values travel as single argv words (never through string formatting), so these checks are not what
keeps the shell out; they turn input the scheduler would mangle or misread into a clear 400.
"""

from __future__ import annotations

import re

from ..errors import InvalidInput

# Control characters (newline, carriage return, tab, NUL, escape...) would split or corrupt the
# scheduler's line-oriented output and logs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SLURM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A job, or one element of a job array.
_JOB_ID = re.compile(r"[0-9]+(_[0-9]+)?")
# Slurm's --time: minutes, minutes:seconds, hours:minutes:seconds, days-hours[:minutes[:seconds]].
_TIME_LIMIT = re.compile(r"([0-9]+-)?[0-9]+(:[0-9]+){0,2}")
# sacct's --starttime/--endtime: 2024-05-01T12:00[:00], MM/DD[/YY]-HH:MM, now-1days, 10:00 PM...
_TIME_SPEC = re.compile(r"[A-Za-z0-9:/.+ -]{1,40}")
# A node name or a hostlist expression such as nid[001-004,010] or rack[1-2]-n[01-08],login1: names
# separated by commas, each starting with a letter or digit (so that none reads as an option), with
# bracketed ranges of numbers.
_NODE_RANGES = r"\[[0-9]+(?:-[0-9]+)?(?:,[0-9]+(?:-[0-9]+)?)*\]"
_NODE_NAME = rf"[A-Za-z0-9](?:[A-Za-z0-9_.-]|{_NODE_RANGES})*"
_NODE_LIST = re.compile(rf"{_NODE_NAME}(?:,{_NODE_NAME})*")
_MAX_NODE_LIST = 4096
_MAX_TEXT = 4096


def check_plain_text(label: str, value: str) -> None:
    """Names and paths: non-empty, one line, no control characters."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{label} must not be empty")
    if _CONTROL.search(value):
        raise InvalidInput(f"{label} must not contain newlines or other control characters")
    if len(value) > _MAX_TEXT:
        raise InvalidInput(f"{label} is longer than {_MAX_TEXT} characters")


def check_slurm_name(label: str, value: str) -> None:
    """Accounts, partitions, reservations: the characters such names are made of on any real site."""
    if not isinstance(value, str) or not _SLURM_NAME.fullmatch(value):
        raise InvalidInput(f"{label} {value!r} is not a valid name (letters, digits, '_', '.', '-')")


def check_env_name(name: str) -> None:
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise InvalidInput(f"environment variable name {name!r} is not of the form [A-Za-z_][A-Za-z0-9_]*")


def check_job_id(jobid: str) -> None:
    if not isinstance(jobid, str) or not _JOB_ID.fullmatch(jobid):
        raise InvalidInput(f"job id {jobid!r} is not a number (or number_index for an array job)")


def check_time_limit(value: str) -> None:
    if not isinstance(value, str) or not _TIME_LIMIT.fullmatch(value):
        raise InvalidInput(f"time limit {value!r} is not minutes, HH:MM:SS or D-HH:MM:SS")


def check_time_spec(label: str, value: str) -> None:
    if not isinstance(value, str) or not _TIME_SPEC.fullmatch(value):
        raise InvalidInput(f"{label} {value!r} is not a time Slurm understands (e.g. 2024-05-01T12:00:00)")


def check_node_count(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"node count {value!r} is not a positive integer")


def check_node_list(value: str) -> None:
    if not isinstance(value, str) or len(value) > _MAX_NODE_LIST or not _NODE_LIST.fullmatch(value):
        raise InvalidInput(f"node name {value!r} is not a host name or host list (names start with a letter or "
                           "digit, e.g. nid001 or nid[001-004,010])")
