"""v2 gives times as integers: moments in seconds since the epoch, durations in seconds. Slurm prints
them as text (`2024-05-01T12:00:00` in the system's local time, `1-02:03:04`, or words for none)."""

from __future__ import annotations

from datetime import datetime


def epoch_seconds(moment: str | None) -> int | None:
    """Slurm's `2024-05-01T12:00:00` as seconds since the epoch (read in the service's local time, which
    is the system's where they share a time zone); None for "Unknown", "N/A", "None" and the like."""
    try:
        return int(datetime.fromisoformat(moment).timestamp()) if moment else None
    except ValueError:
        return None


def duration_seconds(duration: str | None) -> int | None:
    """Slurm's `days-hours[:minutes[:seconds]]`, `hours:minutes:seconds`, `minutes:seconds` or `minutes`
    in seconds; None for "UNLIMITED", "INVALID", "N/A" and the like."""
    if not duration:
        return None
    days, _, clock = duration.rpartition("-")
    parts = clock.split(":")
    if not (days == "" or days.isdigit()) or not all(part.isdigit() for part in parts) or len(parts) > 3:
        return None
    if days:
        hours, minutes, seconds = (parts + ["0", "0"])[:3]
    elif len(parts) == 1:
        hours, minutes, seconds = "0", parts[0], "0"
    else:
        hours, minutes, seconds = ["0"] * (3 - len(parts)) + parts
    return ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds)
