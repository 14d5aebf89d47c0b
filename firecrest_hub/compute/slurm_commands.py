"""Slurm's commands, one class each: the argv goes in, typed results (or typed errors) come out.

The argv is a list of words, quoted as a whole by the remote layer; user input only ever lands in
its own word (`--job-name=VALUE`, `NAME=VALUE` for `env`, a path or a node list after `--`), and is
checked before the command object exists. Output is read in machine formats: records split on a random
delimiter (`squeue -O`, `sacct --parsable2`), and `scontrol -o` key=value one-liners.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import CommandFailed, InvalidInput, NotFound, PermissionDenied, SubmissionRejected, UnknownJob
from ..remote import CommandResult, RemoteCommand, system_script
from .scheduler import AccountingRecord, Job, JobRequest, Node, Partition, Reservation, SlurmAccount
from .slurm_output import (
    error_messages, error_text, listed, parse_key_values, plain, raise_for_slurm, raise_if_controller_down,
    random_delimiter, split_records,
)
from .validation import check_job_id, check_node_list, check_slurm_name, check_time_spec

SBATCH_WITH_ENV_SCRIPT = system_script(__package__, "sbatch-with-env.sh")
_JOB_ID_OUTPUT = re.compile(r"^([0-9]+)(;.*)?$")


class SlurmCommand(RemoteCommand):
    def __init__(self, timeout: float | None = None):
        self.timeout = timeout


class SubmitBatchJob(SlurmCommand):
    """`sbatch --parsable`: the script on stdin, or the path of a script on the system after `--`.

    Environment variables may be secrets, and an argv is readable by every user of the login node: they
    travel on stdin, ahead of the script, to scripts/sbatch-with-env.sh, which exports them to sbatch's
    own environment (readable by its owner only), and sbatch's default `--export=ALL` hands them on.
    """

    def __init__(self, request: JobRequest, **kwargs):
        super().__init__(**kwargs)
        self.request = request

    def argv(self) -> list[str]:
        request = self.request
        argv = ["bash", "-c", SBATCH_WITH_ENV_SCRIPT, "sbatch-with-env"] if request.env else ["sbatch"]
        argv += ["--parsable"]
        options = (("--job-name", request.name), ("--account", request.account),
                   ("--partition", request.partition), ("--chdir", request.workdir),
                   ("--time", request.time_limit), ("--nodes", request.nodes),
                   ("--reservation", request.reservation), ("--comment", request.comment),
                   ("--input", request.standard_input), ("--output", request.standard_output),
                   ("--error", request.standard_error))
        argv += [f"{flag}={value}" for flag, value in options if value is not None]
        if request.script_path is not None:
            argv += ["--", request.script_path]
        return argv

    def stdin(self) -> str | None:
        request = self.request
        if not request.env:
            return request.script
        variables = "".join(f"{name}={value}\0" for name, value in request.env.items())
        return f"{len(request.env)}\n{variables}{request.script or ''}"

    def parse(self, result: CommandResult) -> str:
        if not result.ok:
            raise_if_controller_down(result)
            raise SubmissionRejected(_rejection_reason(result))
        match = _JOB_ID_OUTPUT.match(result.stdout.strip())
        if not match:
            raise SubmissionRejected(f"sbatch printed no job id: {result.stdout.strip()!r}")
        return match.group(1)


def _rejection_reason(result: CommandResult) -> str:
    """slurmctld's verdict if there is one, else sbatch's own complaint (which may span lines)."""
    messages = error_messages(result)
    verdict = "Batch job submission failed: "
    for message in messages:
        if message.startswith(verdict):
            return message.removeprefix(verdict)
    return " ".join(messages) or result.stderr.strip() or f"sbatch exited with status {result.exit_status}"


class ReadQueue(SlurmCommand):
    """`squeue` over all users, partitions and job states, one record per job; or over the given jobs
    only (as their owner: squeue shows other users' jobs as well, the caller filters).

    Finished jobs stay in the output for slurmctld's MinJobAge (300 s by default), so a reader sees a
    job complete before it drops out of the queue.
    """

    # (squeue -O field, Job attribute). The job id comes first: record splitting relies on it.
    FIELDS = (
        ("JobArrayID", "jobid"), ("State", "state"), ("Reason", "reason"), ("UserName", "user"),
        ("Account", "account"), ("Partition", "partition"), ("NumNodes", "nodes"),
        ("NodeList", "nodelist"), ("SubmitTime", "submit_time"), ("StartTime", "start_time"),
        ("TimeUsed", "time"), ("TimeLimit", "time_limit"), ("TimeLeft", "time_left"),
        ("WorkDir", "work_dir"), ("Command", "job_file"), ("STDOUT", "job_file_out"),
        ("STDERR", "job_file_err"), ("Name", "name"),
    )

    def __init__(self, delimiter: str | None = None, jobids: Sequence[str] = (), **kwargs):
        super().__init__(**kwargs)
        for jobid in jobids:
            check_job_id(jobid)
        self.delimiter = delimiter or random_delimiter()
        self.jobids = list(jobids)

    def argv(self) -> list[str]:
        # Width 0 prints a field in full; the suffix after it separates it from the next field.
        fields = [f"{name}:0{self.delimiter}" for name, _ in self.FIELDS[:-1]] + [f"{self.FIELDS[-1][0]}:0"]
        selection = ["--jobs=" + ",".join(self.jobids)] if self.jobids else []
        return ["squeue", "--all", "--states=all", *selection, "--noheader", "--Format=" + ",".join(fields)]

    def parse(self, result: CommandResult) -> list[Job]:
        if self.jobids and "invalid job id" in result.stderr.lower():
            return []  # squeue's answer when slurmctld holds none of the given jobs (any more)
        raise_for_slurm(result)
        jobs = []
        for values in split_records(result.stdout, self.delimiter, len(self.FIELDS)):
            job = dict(zip((attribute for _, attribute in self.FIELDS), values))
            for attribute in ("reason", "nodelist", "work_dir", "job_file", "job_file_out", "job_file_err"):
                job[attribute] = plain(job[attribute])
            jobs.append(Job(**job))
        return jobs


class CancelJob(SlurmCommand):
    """`scancel --verbose`: without --verbose, scancel says nothing about a job id it does not know.

    Its exit status is 0 even then, so the error lines decide. Cancelling a job that has already
    ended succeeds: the caller wanted it stopped, and it is.
    """

    def __init__(self, jobid: str, **kwargs):
        super().__init__(**kwargs)
        check_job_id(jobid)
        self.jobid = jobid

    def argv(self) -> list[str]:
        return ["scancel", "--verbose", "--", self.jobid]

    def parse(self, result: CommandResult) -> None:
        errors = error_messages(result)
        reported = "\n".join(errors).lower()
        if "invalid job id" in reported:
            raise UnknownJob(f"job {self.jobid} does not exist")
        if "permission denied" in reported:
            raise PermissionDenied(f"job {self.jobid} belongs to another user ({errors[0]})")
        if "already completing or completed" in reported:
            return
        raise_for_slurm(result)
        if errors:
            raise_if_controller_down(result)
            raise CommandFailed("\n".join(errors))


class ShowBatchScript(SlurmCommand):
    """`scontrol write batch_script JOBID -`: the script slurmctld keeps for a job it still holds, printed
    instead of written to a file. None for a job it no longer holds (or never held).

    scontrol exits with status 0 when it retrieves nothing ("job script retrieval failed: Invalid job id
    specified", or "Invalid user id" for another user's job): its stderr decides.
    """

    def __init__(self, jobid: str, **kwargs):
        super().__init__(**kwargs)
        check_job_id(jobid)
        self.jobid = jobid

    def argv(self) -> list[str]:
        return ["scontrol", "write", "batch_script", self.jobid, "-"]

    def parse(self, result: CommandResult) -> str | None:
        reported = result.stderr.lower()
        if "invalid job id" in reported:
            return None
        if "invalid user id" in reported or "permission denied" in reported:
            raise PermissionDenied(f"job {self.jobid} belongs to another user")
        raise_for_slurm(result)
        if "retrieval failed" in reported:
            raise CommandFailed(f"the script of job {self.jobid} could not be read: {result.stderr.strip()}")
        return result.stdout


class RunInJob(SlurmCommand):
    """`srun --jobid=JOBID --overlap`: a shell command line run as one more step of a running job, beside
    its other steps. The line is one word, bash's -c script after `--`, so nothing in it reaches an option."""

    def __init__(self, jobid: str, command: str, **kwargs):
        super().__init__(**kwargs)
        check_job_id(jobid)
        if not isinstance(command, str) or not command.strip() or "\0" in command:
            raise InvalidInput("the command to run in the job must be a non-empty line of shell, without NUL")
        self.jobid, self.command = jobid, command

    def argv(self) -> list[str]:
        return ["srun", f"--jobid={self.jobid}", "--overlap", "--quiet", "--", "bash", "-c", "--", self.command]

    def parse(self, result: CommandResult) -> None:
        if result.ok:
            return
        reported = "\n".join(error_messages(result)).lower()
        if "invalid job id" in reported:
            raise UnknownJob(f"job {self.jobid} does not exist")
        if "access/permission denied" in reported:
            raise PermissionDenied(f"job {self.jobid} belongs to another user")
        if "not running" in reported or "pending" in reported or "already completing or completed" in reported:
            raise InvalidInput(f"job {self.jobid} is not running: {error_text(result)}")
        raise_if_controller_down(result)
        raise CommandFailed(f"the command in job {self.jobid} failed (exit status {result.exit_status}): "
                            f"{error_text(result) or 'no message'}")


class ReadAccounting(SlurmCommand):
    """`sacct` for one user's job allocations (not their steps).

    `--user` is explicit because sacct shows any user's job when asked for it by id.
    """

    FIELDS = (
        ("JobID", "jobid"), ("State", "state"), ("User", "user"), ("Account", "account"),
        ("Partition", "partition"), ("ExitCode", "exit_code"), ("Submit", "submit_time"),
        ("Start", "start_time"), ("End", "end_time"), ("Elapsed", "time"),
        ("Timelimit", "time_limit"), ("NNodes", "nodes"), ("NodeList", "nodelist"),
        ("WorkDir", "work_dir"), ("JobName", "name"),
    )

    def __init__(self, user: str, start_time: str | None = None, end_time: str | None = None,
                 jobids: Sequence[str] | None = None, delimiter: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        for label, value in (("start time", start_time), ("end time", end_time)):
            if value is not None:
                check_time_spec(label, value)
        for jobid in jobids or ():
            check_job_id(jobid)
        self.start_time, self.end_time, self.jobids = start_time, end_time, list(jobids or ())
        self.delimiter = delimiter or random_delimiter()

    def argv(self) -> list[str]:
        argv = ["sacct", "--noheader", "--parsable2", "--allocations", f"--delimiter={self.delimiter}",
                "--format=" + ",".join(name for name, _ in self.FIELDS), f"--user={self.user}"]
        if self.start_time is not None:
            argv.append(f"--starttime={self.start_time}")
        if self.end_time is not None:
            argv.append(f"--endtime={self.end_time}")
        if self.jobids:
            argv.append("--jobs=" + ",".join(self.jobids))
        return argv

    def parse(self, result: CommandResult) -> list[AccountingRecord]:
        if not result.ok and "invalid time" in result.stderr.lower():
            raise InvalidInput(error_text(result))
        raise_for_slurm(result)
        records = []
        for values in split_records(result.stdout, self.delimiter, len(self.FIELDS)):
            record = dict(zip((attribute for _, attribute in self.FIELDS), values))
            # "CANCELLED by 1001": the state is the first word, as in squeue.
            record["state"] = record["state"].split(" ", 1)[0]
            record["nodelist"] = "" if record["nodelist"] == "None assigned" else record["nodelist"]
            records.append(AccountingRecord(**record))
        return records


class ShowNodes(SlurmCommand):
    def __init__(self, names: Sequence[str] | None = None, **kwargs):
        super().__init__(**kwargs)
        for name in names or ():
            check_node_list(name)
        self.names = list(names or ())

    def argv(self) -> list[str]:
        # Every word after `--` is an operand, even one that looks like an option (Slurm 22.05's scontrol
        # reads options with getopt_long, which stops there).
        return ["scontrol", "--oneliner", "--", "show", "node", *([",".join(self.names)] if self.names else [])]

    def parse(self, result: CommandResult) -> list[Node]:
        lines = result.stdout.splitlines()
        # "Node x not found" comes on stdout, between the nodes that were found.
        missing = [line for line in lines if not line.startswith("NodeName=") and line.endswith(" not found")]
        if missing:
            raise NotFound("; ".join(missing))
        raise_for_slurm(result)
        return [_node(parse_key_values(line)) for line in lines if line.startswith("NodeName=")]


def _node(fields: dict[str, str]) -> Node:
    return Node(
        name=fields.get("NodeName", ""), state=listed(fields.get("State"), separator="+"),
        partitions=listed(fields.get("Partitions")), active_features=listed(fields.get("ActiveFeatures")),
        cpus_total=fields.get("CPUTot", ""), cpus_allocated=fields.get("CPUAlloc", ""),
        real_memory=fields.get("RealMemory", ""), reason=plain(fields.get("Reason")), fields=fields,
    )


class ShowPartitions(SlurmCommand):
    def argv(self) -> list[str]:
        return ["scontrol", "--oneliner", "show", "partition"]

    def parse(self, result: CommandResult) -> list[Partition]:
        raise_for_slurm(result)
        return [_partition(parse_key_values(line)) for line in result.stdout.splitlines()
                if line.startswith("PartitionName=")]


def _partition(fields: dict[str, str]) -> Partition:
    return Partition(
        name=fields.get("PartitionName", ""), state=fields.get("State", ""),
        default=fields.get("Default") == "YES", total_cpus=fields.get("TotalCPUs", ""),
        total_nodes=fields.get("TotalNodes", ""), nodes=plain(fields.get("Nodes")),
        max_time=fields.get("MaxTime", ""), fields=fields,
    )


class ShowReservations(SlurmCommand):
    def argv(self) -> list[str]:
        return ["scontrol", "--oneliner", "show", "reservation"]

    def parse(self, result: CommandResult) -> list[Reservation]:
        # "No reservations in the system" is printed as a message, not an error.
        raise_for_slurm(result)
        return [_reservation(parse_key_values(line)) for line in result.stdout.splitlines()
                if line.startswith("ReservationName=")]


def _reservation(fields: dict[str, str]) -> Reservation:
    return Reservation(
        name=fields.get("ReservationName", ""), state=fields.get("State", ""),
        start_time=fields.get("StartTime", ""), end_time=fields.get("EndTime", ""),
        duration=fields.get("Duration", ""), nodes=plain(fields.get("Nodes")),
        node_count=fields.get("NodeCnt", ""), partition=plain(fields.get("PartitionName")),
        features=plain(fields.get("Features")), flags=plain(fields.get("Flags")),
        users=plain(fields.get("Users")), accounts=plain(fields.get("Accounts")), fields=fields,
    )


class ShowAccounts(SlurmCommand):
    """`sacctmgr show user withassoc`: the user's associations (account, partition) and default account.

    `user` is the session's account, a checked POSIX name, so `name=VALUE` is one word sacctmgr reads
    as a condition and nothing else.
    """

    def __init__(self, user: str, **kwargs):
        super().__init__(**kwargs)
        check_slurm_name("user", user)
        self.user = user

    def argv(self) -> list[str]:
        return ["sacctmgr", "--noheader", "--parsable2", "show", "user", "withassoc", "where",
                f"name={self.user}", "format=defaultaccount,account,partition"]

    def parse(self, result: CommandResult) -> list[SlurmAccount]:
        raise_for_slurm(result)
        accounts = []
        for line in result.stdout.splitlines():
            if not line.strip():
                continue
            default, account, partition = (line.split("|") + ["", ""])[:3]
            if account:
                accounts.append(SlurmAccount(name=account, partition=partition, default=account == default))
        return sorted(accounts, key=lambda account: (not account.default, account.name, account.partition))
