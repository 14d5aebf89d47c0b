"""What the service asks of a workload manager, independent of which one it is.

Callers (the REST API, the portal, the spawner) hold a `RemoteSession` for the user they act for and
pass it to every `Scheduler` method: the session names the system, the cluster account and the hub
user, so each scheduler command runs as that account and nobody else. Reads of the job queue are the
exception: they come from the shared job-state cache (see `cache.py`), which reads the whole queue
as the system's service account once per interval.

The dataclasses carry the fields FirecREST v1 clients expect, under v1's names where v1 has one
(`jobid`, `partition`, `name`, `user`, `state`, `start_time`, `time`, `time_left`, `nodes`, `nodelist`,
`job_file`, `job_file_out`, `job_file_err`), plus the few the portal and the spawner need. Values
are the scheduler's own strings (times as `2024-05-01T12:00:00`, durations as `1-02:03:04`), because
that is what v1 passed through.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from traitlets.config import Configurable

from ..errors import InvalidInput
from ..remote import RemoteSession
from .validation import (
    check_env_name, check_node_count, check_plain_text, check_slurm_name, check_time_limit,
)


@dataclass(frozen=True)
class JobRequest:
    """A batch job to submit: the script text (sent on stdin) or the path of a script on the system.

    Everything is checked when the request is made, so bad input fails before any command runs.
    Without a `partition` the script's own `#SBATCH --partition` applies, else Slurm's default. `env` is
    added to the environment the job inherits (names must be shell identifiers, values are arbitrary
    text). `comment` is the job's Slurm comment (the service marks its submissions with it).
    `standard_input`, `standard_output` and `standard_error` are the job's files (Slurm's patterns such
    as %j allowed; relative to the working directory); by default the script's or Slurm's.
    """

    script: str | None = None
    script_path: str | None = None
    name: str | None = None
    account: str | None = None
    partition: str | None = None
    workdir: str | None = None
    time_limit: str | None = None
    nodes: int | None = None
    reservation: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    comment: str | None = None
    standard_input: str | None = None
    standard_output: str | None = None
    standard_error: str | None = None

    def __post_init__(self):
        if (self.script is None) == (self.script_path is None):
            raise InvalidInput("give either a script or a script path, not both or neither")
        if self.script is not None and not self.script.strip():
            raise InvalidInput("the job script is empty")
        for label, value in (("script path", self.script_path), ("job name", self.name),
                             ("working directory", self.workdir), ("job comment", self.comment),
                             ("standard input", self.standard_input), ("standard output", self.standard_output),
                             ("standard error", self.standard_error)):
            if value is not None:
                check_plain_text(label, value)
        for label, value in (("account", self.account), ("partition", self.partition),
                             ("reservation", self.reservation)):
            if value is not None:
                check_slurm_name(label, value)
        if self.time_limit is not None:
            check_time_limit(self.time_limit)
        if self.nodes is not None:
            check_node_count(self.nodes)
        if not isinstance(self.env, Mapping):
            raise InvalidInput("the job environment must be a mapping of names to values")
        for name, value in self.env.items():
            check_env_name(name)
            if not isinstance(value, str) or "\0" in value:
                raise InvalidInput(f"environment variable {name!r} must have a text value without NUL characters")
        # Our own copy: a caller changing its dict later must not change what was validated.
        object.__setattr__(self, "env", dict(self.env))


# States after which a job never runs again. A plain squeue (no --states) lists every other one: what
# "active" means to v1 clients.
ENDED_STATES = frozenset({"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
                          "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT"})


@dataclass(frozen=True)
class Job:
    """A job the scheduler still knows about (queued, running, or recently finished).

    `nodelist` is the allocated nodes only and `reason` why a job waits or failed, each empty when
    there is none. (FirecREST v1 printed squeue's %R in `nodelist`: the nodes, or "(Reason)" while
    pending; a v1 handler can rebuild that from the two.) `job_file` is empty for a script sent on
    stdin, which Slurm keeps no path for.
    """

    jobid: str
    name: str
    user: str
    account: str
    partition: str
    state: str
    reason: str
    nodes: str
    nodelist: str
    submit_time: str
    start_time: str
    time: str
    time_limit: str
    time_left: str
    work_dir: str
    job_file: str
    job_file_out: str
    job_file_err: str

    @property
    def ended(self) -> bool:
        """Whether the job is over (slurmctld still lists it for MinJobAge, 300 s by default)."""
        return self.state.split(" ", 1)[0] in ENDED_STATES

    def without_files(self) -> "Job":
        """The job as shown to other users: v1 lists their jobs without the paths of their files."""
        return dataclasses.replace(self, work_dir="", job_file="", job_file_out="", job_file_err="")


@dataclass(frozen=True)
class AccountingRecord:
    """One job from the accounting database, finished or not. `time` is the elapsed time."""

    jobid: str
    name: str
    user: str
    account: str
    partition: str
    state: str
    exit_code: str
    submit_time: str
    start_time: str
    end_time: str
    time: str
    time_limit: str
    nodes: str
    nodelist: str
    work_dir: str


@dataclass(frozen=True)
class Node:
    """A compute node. `state` is split into its flags (IDLE+DRAIN -> ["IDLE", "DRAIN"]), as v1 lists it.

    `fields` holds every key=value the scheduler printed, for callers that need more than these.
    """

    name: str
    state: list[str]
    partitions: list[str]
    active_features: list[str]
    cpus_total: str
    cpus_allocated: str
    real_memory: str
    reason: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Partition:
    name: str
    state: str
    default: bool
    total_cpus: str
    total_nodes: str
    nodes: str
    max_time: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Reservation:
    name: str
    state: str
    start_time: str
    end_time: str
    duration: str
    nodes: str
    node_count: str
    partition: str
    features: str
    flags: str
    users: str
    accounts: str
    fields: dict[str, str]


@dataclass(frozen=True)
class SlurmAccount:
    """An account the user may charge jobs to; `partition` is empty when the association is for every
    partition, and `default` marks the account a job without `--account` is charged to."""

    name: str
    partition: str
    default: bool


class Scheduler(Configurable):
    """The operations on a workload manager. Every method runs as the account of `session`.

    Subclasses implement every method (in the manner of JupyterHub's Spawner: a Configurable whose
    base methods raise NotImplementedError, since traitlets' metaclass does not mix with ABCMeta).
    """

    async def submit(self, session: RemoteSession, request: JobRequest) -> str:
        """Submit a batch job; returns its id. Raises SubmissionRejected with the scheduler's reason."""
        raise NotImplementedError

    async def jobs(self, session: RemoteSession, *, jobids: Sequence[str] | None = None,
                   all_users: bool = False, newer_than: float | None = None) -> list[Job]:
        """Jobs in the queue, from the shared cache: the session's own, or everyone's (without file
        paths) when `all_users` and the site allows it (PermissionDenied otherwise). `newer_than` (a
        `time.monotonic()` value) asks for a snapshot taken after that moment, e.g. right after a
        submission."""
        raise NotImplementedError

    async def job(self, session: RemoteSession, jobid: str, *, newer_than: float | None = None) -> Job:
        """One of the session's jobs from the shared cache; UnknownJob if the queue does not hold it."""
        raise NotImplementedError

    async def look_up(self, session: RemoteSession, jobid: str) -> Job:
        """One of the session's jobs as the scheduler knows it this moment (one query of that job, e.g.
        right after its submission); the shared cache serves it from then on. UnknownJob if there is none."""
        raise NotImplementedError

    async def cancel(self, session: RemoteSession, jobid: str) -> None:
        """Cancel a job. UnknownJob if there is no such job, PermissionDenied if it is someone else's.
        Readers of the shared cache see the job's new state once this returns."""
        raise NotImplementedError

    async def batch_script(self, session: RemoteSession, jobid: str) -> str | None:
        """The batch script of one of the session's jobs, while the scheduler still holds the job (None
        once it has forgotten it). PermissionDenied for someone else's job."""
        raise NotImplementedError

    async def attach(self, session: RemoteSession, jobid: str, command: str) -> None:
        """Run the shell command line `command` inside the session's running job, as one more step beside
        the job's own, and wait until it ends. UnknownJob, PermissionDenied (someone else's job), or
        CommandFailed with what the step printed when it fails."""
        raise NotImplementedError

    async def accounting(self, session: RemoteSession, *, start_time: str | None = None,
                         end_time: str | None = None,
                         jobids: Sequence[str] | None = None) -> list[AccountingRecord]:
        """The session's jobs from the accounting database, between the given times (scheduler syntax)."""
        raise NotImplementedError

    async def nodes(self, session: RemoteSession, names: Sequence[str] | None = None) -> list[Node]:
        """All nodes, or the named ones (NotFound if a name is unknown)."""
        raise NotImplementedError

    async def partitions(self, session: RemoteSession, names: Sequence[str] | None = None) -> list[Partition]:
        """All partitions, or the named ones (unknown names are left out)."""
        raise NotImplementedError

    async def reservations(self, session: RemoteSession,
                           names: Sequence[str] | None = None) -> list[Reservation]:
        """All reservations, or the named ones (unknown names are left out)."""
        raise NotImplementedError

    async def accounts(self, session: RemoteSession) -> list[SlurmAccount]:
        """The accounts the session's user may charge jobs to (their associations), the default first."""
        raise NotImplementedError
