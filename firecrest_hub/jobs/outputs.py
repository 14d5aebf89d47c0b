"""A job's output files as FirecREST v1 shows them: paths with Slurm's patterns filled in, and their tails.

squeue prints a job's StdOut/StdErr as given to sbatch, patterns and all (`/home/alice/slurm-%j.out`);
v1 read them from `scontrol show job`, which fills the patterns in. Tails are read over SFTP as the job's
own account, so the cluster's permissions decide what can be read; a file that cannot be read has an
empty tail, as in v1.
"""

from __future__ import annotations

import re
import stat

from ..compute import Job
from ..errors import FirecrestError
from ..filesystem import sftp_ops
from ..remote import RemoteSession

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


async def read_tail(session: RemoteSession, path: str, size: int) -> str:
    """The last `size` bytes of a regular file, read as the session's account; "" if it cannot be read."""
    if not path.startswith("/"):
        return ""
    timeout = session.pool.command_timeout
    try:
        sftp = await session.sftp()
        async with sftp_ops.guarded(path, timeout):
            attrs = await sftp.stat(path)
            # Only regular files: opening a FIFO would block the account's one sftp-server.
            if not stat.S_ISREG(attrs.permissions or 0):
                return ""
            async with sftp.open(path, "rb") as remote_file:
                data = await remote_file.read(size, max(0, (attrs.size or 0) - size))
    except FirecrestError:
        return ""
    return data.decode(errors="replace")
