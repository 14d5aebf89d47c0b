"""The batch job of an internal transfer, built from a file command object by the batch-script builder
of every transfer (staging/batch.py).

The operation is a command object (cp, mv, rm, compress and extract are the file commands of
filesystem/commands.py, run exactly as utilities runs them; rsync is here); its argv becomes the script's
one command call through `to_shell`, so every word is shell-quoted, options come first and `--` stands
before the paths. Nothing else the user sent reaches the script text: the job name, time limit and
account go to sbatch as argv words (JobRequest), and the dependency on a stage-out job is checked to be a
job id before it is written into an `#SBATCH` line.

Output goes to `job-<id>.out` and `job-<id>.err` in the submission's own directory, as in v1; a transfer
that succeeds says so in its output, in FirecREST v2's words, and one that fails makes its job fail, which
the job's state and accounting show.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compute import JobRequest
from ..compute.validation import check_job_id
from ..remote import RemoteCommand
from ..staging.batch import transfer_script

# v1's defaults: two hours, and the script's file name in the submission directory.
DEFAULT_TIME_LIMIT = "02:00:00"
SCRIPT_NAME = "sbatch-job.sh"


class Rsync(RemoteCommand):
    """rsync as v1 ran it: archive mode (recursive, links, permissions, times), verbose."""

    def __init__(self, source: str, target: str):
        self.source, self.target = source, target

    def argv(self) -> list[str]:
        return ["rsync", "--archive", "--verbose", "--", self.source, self.target]


# What a transfer job's output says once its operation succeeded (v2's words: its clients look for them).
SUCCESS_MESSAGES = {
    "cp": "Files were successfully copied.", "mv": "Files were successfully moved.",
    "rsync": "Files were successfully synchronized.", "rm": "Files were successfully deleted.",
    "compress": "Files were successfully compressed.", "extract": "Files were successfully extracted.",
}


@dataclass(frozen=True)
class Transfer:
    """One internal transfer: `operation` (cp, mv, rsync, rm, compress, extract) done by `command`.

    `name` defaults to v1's `<operation>-job`; `stage_out_job` makes the transfer wait until that job
    has completed successfully (`--dependency=afterok:`).
    """

    operation: str
    command: RemoteCommand
    name: str | None = None
    time_limit: str = DEFAULT_TIME_LIMIT
    stage_out_job: str | None = None
    account: str | None = None

    def __post_init__(self):
        if self.stage_out_job is not None:
            check_job_id(self.stage_out_job)

    def script(self) -> str:
        directives = ["--output=job-%j.out", "--error=job-%j.err", "--ntasks=1"]
        if self.stage_out_job is not None:
            directives.append(f"--dependency=afterok:{self.stage_out_job}")
        return transfer_script([self.command], directives, message=SUCCESS_MESSAGES[self.operation])

    def summary(self) -> str:
        """What the transfer does, for its owner's list of transfers: the operation and its paths."""
        paths = [getattr(self.command, name) for name in ("source", "path", "target") if hasattr(self.command, name)]
        return " ".join([self.operation, *paths])

    def request(self, partition: str) -> JobRequest:
        """The job that runs the transfer on `partition`; JobRequest checks the name, time and account."""
        return JobRequest(script=self.script(), name=self.name or f"{self.operation}-job", account=self.account,
                          partition=partition, time_limit=self.time_limit)
