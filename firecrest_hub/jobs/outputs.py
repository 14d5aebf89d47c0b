"""A job's output files as FirecREST v1 shows them: paths with Slurm's patterns filled in, and their tails.

squeue prints a job's StdOut/StdErr as given to sbatch, patterns and all (`/home/alice/slurm-%j.out`);
v1 read them from `scontrol show job`, which fills the patterns in. Tails are read over SFTP as the job's
own account, so the cluster's permissions decide what can be read; a file that cannot be read has an
empty tail, as in v1.
"""

from __future__ import annotations

import re

from ..compute import Job
from ..errors import FirecrestError
from ..remote import RemoteSession, read_tail

# Slurm's filename patterns with an optional zero-padding width: %j job id, %A and %a array job id and
# index, %x job name, %u user, %N first node, %% a percent sign.
_PATTERN = re.compile(r"%(\d*)([%AajxuN])")
# A single node name: a node list with brackets or commas names several.
_SINGLE_NODE = re.compile(r"[A-Za-z0-9_.-]+")


def expand_output_path(path: str, job: Job) -> str:
    """`path` with the patterns the job's values can fill; the others are left as they are."""
    array_job, _, index = job.jobid.partition("_")
    numbers = {"A": array_job, "a": index, "j": "" if index else job.jobid}
    names = {"x": job.name, "u": job.user, "N": job.nodelist if _SINGLE_NODE.fullmatch(job.nodelist) else ""}

    def fill(match: re.Match) -> str:
        width, letter = match.groups()
        if letter == "%":
            return "%"
        if numbers.get(letter):
            return numbers[letter].zfill(int(width or 0))
        return names.get(letter) or match.group(0)

    return _PATTERN.sub(fill, path)


async def output_tail(session: RemoteSession, path: str, size: int) -> str:
    """The last `size` bytes of a job's output file, read as the session's account; "" if it cannot be
    read (as v1 showed it)."""
    if not path.startswith("/"):
        return ""
    try:
        return await read_tail(session, path, size) or ""
    except FirecrestError:
        return ""
