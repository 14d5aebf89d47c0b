"""storage/xfer-internal: v1's internal transfers (rsync, cp, mv, rm, compress, extract) as Slurm jobs on the
system's transfer partition, run as the caller's own account.

Parameters as v1 (form fields): sourcePath (not for rm), targetPath, jobName, time, stageOutJobId, account,
plus dereference (compress) and, as the v1 server read it, type (extract: .zip, .tar, .tgz, .gz, .bz2 or
auto, the default, from the archive's name; the spec's `extension` is accepted and, as by v1, not read).
Every path passes the system's PathPolicy; the
answer is 201 with a task, which finishes (200) once the transfer job is submitted, its `data` v1's
submission result (jobid, job_file, job_file_out, job_file_err...), the task's `system` the system that
runs it. Where the paths lead is checked before the job is submitted, as each command treats them
(filesystem.PathResolver). Whether the transfer itself succeeded is the job's state (GET compute/jobs,
compute/acct), as in v1: pyfirecrest's compress()/extract() poll the job and read its error file.
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..filesystem.commands import Compress, Copy, Extract, FileCommand, Move, RemoveTree
from ..jobs import TRANSFER
from ..remote import RemoteCommand
from ..transfers import DEFAULT_TIME_LIMIT, SCRIPT_NAME, Rsync, Transfer
from .utilities import UtilitiesHandler


class TransferHandler(UtilitiesHandler):
    operation = ""

    def command(self) -> FileCommand:
        raise NotImplementedError

    async def checked_command(self) -> RemoteCommand:
        """The transfer's command, once its paths lead inside the filesystems."""
        command = self.command()
        await self.files.resolver.check_command(command)
        return command

    async def post(self):
        system = self.system()
        if not system.transfer_partition:
            raise InvalidInput(f"system {system.name!r} has no transfer partition; internal transfers are off")
        transfer = Transfer(
            self.operation, await self.checked_command(), name=self.argument("jobName") or None,
            time_limit=self.argument("time") or DEFAULT_TIME_LIMIT,
            stage_out_job=self.argument("stageOutJobId") or None, account=self.argument("account") or None,
        )
        request = transfer.request(system.transfer_partition)
        task = await self.service.job_tasks.submit_script(self.username, await self.session(system), SCRIPT_NAME, request,
                                                          kind=TRANSFER, summary=transfer.summary())
        self.write_json(task.creation_json(), 201)


class RsyncHandler(TransferHandler):
    operation = "rsync"

    async def checked_command(self):
        source, target = self.path("sourcePath"), self.path("targetPath")
        resolver = self.files.resolver
        await resolver.check(target)
        # For rsync a trailing slash means "the directory's contents", which the normalized path dropped;
        # rsync follows such a source (a link to a directory too), and copies any other source link as a link.
        if self.argument("sourcePath").endswith("/") and source != "/":
            return Rsync(await resolver.check(source) + "/", target)
        return Rsync(await resolver.check_entry(source), target)


class CopyHandler(TransferHandler):
    operation = "cp"

    def command(self):
        return Copy(self.path("sourcePath"), self.path("targetPath"))


class MoveHandler(TransferHandler):
    operation = "mv"

    def command(self):
        return Move(self.paths.check_removable(self.argument("sourcePath"), "sourcePath"), self.path("targetPath"))


class RemoveHandler(TransferHandler):
    operation = "rm"

    def command(self):
        return RemoveTree(self.paths.check_removable(self.argument("targetPath"), "targetPath"))


class CompressHandler(TransferHandler):
    operation = "compress"

    def command(self):
        return Compress(self.path("sourcePath"), self.path("targetPath"), self.flag("dereference"))


class ExtractHandler(TransferHandler):
    operation = "extract"

    def command(self):
        return Extract(self.path("sourcePath"), self.path("targetPath"), self.argument("type") or "auto")


routes = [
    (r"/storage/xfer-internal/rsync", RsyncHandler),
    (r"/storage/xfer-internal/cp", CopyHandler),
    (r"/storage/xfer-internal/mv", MoveHandler),
    (r"/storage/xfer-internal/rm", RemoveHandler),
    (r"/storage/xfer-internal/compress", CompressHandler),
    (r"/storage/xfer-internal/extract", ExtractHandler),
]
