"""Restart-safe submission: a batch script on the system, submitted once, and its job found again by a marker.

Every job the service submits carries `--comment=firecrest-task:<task id>`. A submission task remembers,
in the task store, that sbatch is about to run before it runs it; a task resumed after a restart then
knows whether sbatch may have run, and if so asks squeue (as the user) for the job carrying its marker
instead of submitting a second one. squeue lists ended jobs for slurmctld's MinJobAge (300 s by default),
well beyond the time a resumed task takes to come back.

Uploaded scripts, like v1's, are written to a directory of their own on the system (the submission's
working directory), so that a job's relative output paths never collide with another submission's.
"""

from __future__ import annotations

import posixpath
import secrets
import stat

from ..compute.slurm_output import raise_for_slurm, random_delimiter, split_records
from ..errors import InvalidPath
from ..filesystem import PathPolicy, sftp_ops
from ..filesystem.paths import PathResolver
from ..remote import CommandResult, RemoteCommand, RemoteSession, guarded

MARKER_PREFIX = "firecrest-task:"


def marker_of(task_id: str) -> str:
    return MARKER_PREFIX + task_id


class FindMarkedJobs(RemoteCommand):
    """The ids of the account's jobs whose comment is `marker` (the ids sbatch printed for them)."""

    def __init__(self, account: str, marker: str, timeout: float | None = None):
        self.account, self.marker, self.timeout = account, marker, timeout
        self.delimiter = random_delimiter()

    def argv(self) -> list[str]:
        return ["squeue", f"--user={self.account}", "--states=all", "--noheader",
                f"--Format=JobArrayID:0{self.delimiter},Comment:0"]

    def parse(self, result: CommandResult) -> list[str]:
        raise_for_slurm(result)
        # The elements of an array job ("123_4") all carry the marker of the one sbatch that made them.
        return sorted({jobid.partition("_")[0] for jobid, comment in split_records(result.stdout, self.delimiter, 2)
                       if comment == self.marker}, key=int)


async def submission_directory(session: RemoteSession, directory: str) -> str:
    """A new directory of the account's alone under `directory` (relative to the account's home, or
    absolute), for one submission: its script, its working directory, its logs."""
    timeout = session.pool.command_timeout
    sftp = await session.sftp()
    async with guarded(directory, timeout):
        base = directory if directory.startswith("/") else posixpath.join(await sftp.realpath("."), directory)
    path = posixpath.join(base, secrets.token_hex(8))
    async with guarded(path, timeout):
        await sftp_ops.make_directory(sftp, path, parents=True)
        # A script may hold secrets; its directory is the account's alone.
        await sftp.chmod(path, 0o700)
    return path


async def stage_script(session: RemoteSession, directory: str, file_name: str, content: bytes) -> str:
    """Write a batch script to a new submission directory under `directory` as the session's account;
    returns the script's path."""
    # The name is checked (a plain file name) before anything is created.
    PathPolicy(("/",)).join("/", file_name, "script file name")
    directory = await submission_directory(session, directory)
    script_path = posixpath.join(directory, file_name)
    await sftp_ops.write_file(await session.sftp(), script_path, content, session.pool.command_timeout)
    return script_path


async def check_script_file(session: RemoteSession, path: str) -> None:
    """A clear error before anything is submitted when `path` leads outside the filesystems (through a
    symlink), or is not a regular file the account can read (sbatch would read it only later)."""
    await PathResolver.for_session(session).check(path)
    sftp = await session.sftp()
    async with guarded(path, session.pool.command_timeout):
        attrs = await sftp.stat(path)
        if not stat.S_ISREG(attrs.permissions or 0):
            raise InvalidPath(f"{path!a} is not a regular file")
        await (await sftp.open(path, "rb")).close()
