"""What a user may ask of their notebook's Slurm job, checked against an allow-list and the partition.

`user_options` come from the spawn form (strings) or from the hub's REST API (any JSON a client
sends). Both go through `validate_options`, which knows a fixed set of keys, refuses every other key,
parses each value into a number or a checked name, and holds it against the limits Slurm reports for
the chosen partition. Only the resulting `JobOptions` reach the batch script.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass

from firecrest_hub.compute import Node, Partition
from firecrest_hub.compute.validation import check_slurm_name
from firecrest_hub.errors import InvalidInput

KNOWN_OPTIONS = ("system", "partition", "account", "nodes", "cpus", "memory", "gpus", "runtime", "reservation")

# Numbers are ASCII digits only, and short: str.isdigit() also takes "²" (which int() refuses) and "٣"
# (which int() reads as 3), and int() refuses strings of more than 4300 digits. No job needs more.
_MAX_DIGITS = 9
_WHOLE_NUMBER = re.compile(rf"[0-9]{{1,{_MAX_DIGITS}}}")
# re.ASCII: without it, IGNORECASE lets the Kelvin sign "K" (U+212A) pass for a unit.
_MEMORY = re.compile(rf"([0-9]{{1,{_MAX_DIGITS}}}(?:\.[0-9]{{1,3}})?) *([KMGT]?)(?:I?B)?", re.IGNORECASE | re.ASCII)
_MEMORY_UNITS = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}
# sbatch --time: minutes, minutes:seconds, hours:minutes:seconds, days-hours[:minutes[:seconds]].
_RUNTIME = re.compile(r"(?:([0-9]{1,5})-)?([0-9]{1,9})(?::([0-9]{1,5}))?(?::([0-9]{1,5}))?")
# "gpu:2", "gpu:a100:4(S:0-1)", several joined by commas.
_GPU_GRES = re.compile(r"(?:^|,)gpu(?::[A-Za-z0-9_.-]+)?:([0-9]+)")
_UNLIMITED = ("UNLIMITED", "INFINITE", "NONE", "", None)


@dataclass(frozen=True)
class PartitionLimits:
    """What one job may ask of a partition, per node where Slurm counts per node.

    `max_time` and `max_memory` are None where Slurm sets no limit; times in minutes, memory in MiB.
    """

    name: str
    default: bool
    up: bool
    max_time: int | None
    max_nodes: int
    max_cpus: int
    max_memory: int | None
    max_gpus: int

    @classmethod
    def from_scheduler(cls, partition: Partition, nodes: Collection[Node]) -> PartitionLimits:
        fields = partition.fields
        members = [node for node in nodes if partition.name in node.partitions]
        node_cpus = max((_count(node.cpus_total) for node in members), default=_count(partition.total_cpus))
        max_cpus = _smaller(node_cpus, _limit(fields.get("MaxCPUsPerNode"))) or 1
        node_memory = max((_count(node.real_memory) for node in members), default=0) or None
        max_memory = _smaller(node_memory, _limit(fields.get("MaxMemPerNode")))
        per_cpu = _limit(fields.get("MaxMemPerCPU"))
        if per_cpu is not None:
            max_memory = _smaller(max_memory, per_cpu * max_cpus)
        return cls(
            name=partition.name,
            default=partition.default,
            up=partition.state == "UP",
            max_time=None if partition.max_time in _UNLIMITED else parse_runtime(partition.max_time),
            max_nodes=_smaller(_count(partition.total_nodes) or 1, _limit(fields.get("MaxNodes"))),
            max_cpus=max_cpus,
            max_memory=max_memory,
            max_gpus=max((_gpus(node.fields.get("Gres")) for node in members), default=0),
        )

    def describe(self) -> str:
        """One line for the form: what a job on this partition may have."""
        runtime = "no time limit" if self.max_time is None else f"up to {format_runtime(self.max_time)}"
        nodes = f"{self.max_nodes} node" + ("s" if self.max_nodes > 1 else "")
        memory = "" if self.max_memory is None else f", {self.max_memory / 1024:.3g}G memory"
        gpus = f", {self.max_gpus} GPUs" if self.max_gpus else ", no GPUs"
        state = "" if self.up else " (not accepting jobs)"
        return f"{runtime}; {nodes}; per node {self.max_cpus} CPUs{memory}{gpus}{state}"


@dataclass(frozen=True)
class JobOptions:
    """Validated options of one notebook job. Memory in MiB, runtime in minutes."""

    system: str
    partition: str
    nodes: int
    cpus: int
    memory: int
    gpus: int
    runtime: int
    account: str = ""
    reservation: str = ""

    @property
    def time_limit(self) -> str:
        return format_runtime(self.runtime)

    def as_user_options(self) -> dict:
        """The options as a client would send them again (and as the form shows them)."""
        return {**asdict(self), "memory": format_memory(self.memory), "runtime": self.time_limit}


def choose_system(raw: Mapping, systems: Collection[str], default: str) -> str:
    """The system the job goes to: the one asked for, if it is one of ours."""
    _require_object(raw)
    system = _text("system", raw.get("system")) or default
    if system not in systems:
        raise InvalidInput(f"unknown system {_shown(system)}; choose one of: {', '.join(sorted(systems))}")
    return system


def validate_options(raw: Mapping, *, system: str, partitions: Mapping[str, PartitionLimits],
                     default_partition: str | None, defaults: Mapping, settable: Collection[str],
                     reservations: Collection[str] = ()) -> JobOptions:
    """Check `raw` (user_options) and fill in the defaults; InvalidInput names the first problem.

    `partitions` are the partitions users may choose on `system`; `defaults` are the administrator's
    defaults (clamped to the partition's limits, unlike user values, which are refused when too big);
    `settable` are the keys users may set at all; `reservations` the reservations that exist.
    """
    _require_object(raw)
    unknown = sorted(str(key) for key in raw if key not in KNOWN_OPTIONS)
    if unknown:
        named = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise InvalidInput(f"unknown option(s): {_shorter(named)}; known options: {', '.join(KNOWN_OPTIONS)}")
    given = {key: value for key, value in raw.items() if value not in (None, "")}
    fixed = sorted(key for key in given if key not in settable)
    if fixed:
        raise InvalidInput(f"option(s) {', '.join(fixed)} are set by the administrator and cannot be chosen")

    partition_name = _text("partition", given.get("partition")) or default_partition
    limits = partitions.get(partition_name or "")
    if limits is None:
        raise InvalidInput(f"unknown partition {_shown(partition_name)} on system {system!r}; "
                           f"choose one of: {', '.join(sorted(partitions))}")
    if not limits.up:
        raise InvalidInput(f"partition {limits.name!r} does not accept jobs right now")

    def number(key, parse, low, high, unit=str):
        if key in given:
            value = parse(key, given[key])
            if value < low or (high is not None and value > high):
                bound = f"between {unit(low)} and {unit(high)}" if high is not None else f"at least {unit(low)}"
                raise InvalidInput(f"{key} {unit(value)} is out of range: partition {limits.name!r} allows {bound}")
            return value
        default = parse(key, defaults[key]) if key in defaults else low
        return max(low, default if high is None else min(default, high))

    if limits.max_gpus == 0 and "gpus" in given and _integer("gpus", given["gpus"]) > 0:
        raise InvalidInput(f"partition {limits.name!r} has no GPUs")
    options = JobOptions(
        system=system,
        partition=limits.name,
        nodes=number("nodes", _integer, 1, limits.max_nodes),
        cpus=number("cpus", _integer, 1, limits.max_cpus),
        memory=number("memory", _memory, 1, limits.max_memory, format_memory),
        gpus=number("gpus", _integer, 0, limits.max_gpus),
        runtime=number("runtime", _runtime, 1, limits.max_time, format_runtime),
        account=_name("account", given.get("account", defaults.get("account"))),
        reservation=_name("reservation", given.get("reservation", defaults.get("reservation"))),
    )
    if options.reservation and options.reservation not in reservations:
        raise InvalidInput(f"there is no reservation {options.reservation!r} on system {system!r}")
    return options


def parse_runtime(value: str) -> int:
    """sbatch --time syntax to whole minutes (seconds round up)."""
    match = _RUNTIME.fullmatch(value.strip())
    if not match:
        raise InvalidInput(f"runtime {_shown(value)} is not minutes, HH:MM:SS or D-HH:MM:SS")
    days, first, second, third = match.groups()
    if days is not None:  # days-hours[:minutes[:seconds]]
        hours, minutes, seconds = int(first), int(second or 0), int(third or 0)
        total_seconds = ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds
    elif third is not None:  # hours:minutes:seconds
        total_seconds = (int(first) * 60 + int(second)) * 60 + int(third)
    else:  # minutes[:seconds]
        total_seconds = int(first) * 60 + int(second or 0)
    return math.ceil(total_seconds / 60)


def format_runtime(minutes: int) -> str:
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    clock = f"{hours:02d}:{minutes:02d}:00"
    return f"{days}-{clock}" if days else clock


def format_memory(mebibytes: int) -> str:
    return f"{mebibytes // 1024}G" if mebibytes % 1024 == 0 else f"{mebibytes}M"


def _require_object(raw) -> None:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"user_options must be an object, not {type(raw).__name__}")


def _shorter(text: str, limit: int = 60) -> str:
    """`text`, cut to `limit` characters: refusals quote what was sent, however long it was."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _shown(value) -> str:
    return _shorter(repr(value))


def _text(key: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be text, not {type(value).__name__}")
    return value.strip()


def _name(key: str, value) -> str:
    name = _text(key, value)
    if name:
        check_slurm_name(key, name)
    return name


def _whole_number_or_text(key: str, value, expected: str, read_text) -> int:
    """A JSON whole number as it is (not a boolean, which Python counts as one), or text that
    `read_text(key, text)` reads; `expected` names what may be sent, for the refusal of anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10 ** _MAX_DIGITS:
            raise InvalidInput(f"{key} is far too large: at most {_MAX_DIGITS} digits")
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be {expected}, not {type(value).__name__}")
    return read_text(key, value.strip())


def _integer(key: str, value) -> int:
    return _whole_number_or_text(key, value, "a whole number", _read_whole_number)


def _read_whole_number(key: str, text: str) -> int:
    if not _WHOLE_NUMBER.fullmatch(text):
        raise InvalidInput(f"{key} {_shown(text)} is not a whole number (digits 0-9, at most {_MAX_DIGITS})")
    return int(text)


def _memory(key: str, value) -> int:
    return _whole_number_or_text(key, value, "a whole number of MiB or text such as 4G", _read_memory)


def _read_memory(key: str, text: str) -> int:
    match = _MEMORY.fullmatch(text)
    if not match:
        raise InvalidInput(f"{key} {_shown(text)} is not an amount such as 512M or 4G")
    amount, unit = float(match.group(1)), match.group(2).upper()
    return math.ceil(amount * _MEMORY_UNITS[unit])


def _runtime(key: str, value) -> int:
    return _whole_number_or_text(key, value, "a whole number of minutes or text such as 01:30:00",
                                 lambda key, text: parse_runtime(text))


def _count(value: str | None) -> int:
    return int(value) if value and _WHOLE_NUMBER.fullmatch(value) else 0


def _limit(value: str | None) -> int | None:
    return None if value in _UNLIMITED or not _WHOLE_NUMBER.fullmatch(value) else int(value)


def _smaller(first: int | None, second: int | None) -> int | None:
    known = [value for value in (first, second) if value is not None]
    return min(known) if known else None


def _gpus(gres: str | None) -> int:
    return sum(int(count) for count in _GPU_GRES.findall(gres or ""))
