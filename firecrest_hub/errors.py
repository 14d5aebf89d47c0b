"""Typed failures shared by every layer.

Layers raise these; the API maps each class to one HTTP status in one place, so a handler never has to
guess what went wrong on the cluster.
"""


class FirecrestError(Exception):
    """Base of every failure the service knows how to explain to a user."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class InvalidInput(FirecrestError):
    """The request itself is wrong; nothing was run."""


class ClusterUnreachable(FirecrestError):
    """The system's login node cannot be reached or refused our certificate."""


class CommandTimeout(FirecrestError):
    """A remote command ran past its time limit and was stopped."""


class OutputTooLarge(FirecrestError):
    """A remote command printed more than its output cap allows."""


class PermissionDenied(FirecrestError):
    """The cluster refused the operation for this account."""


class AccountRefused(PermissionDenied):
    """The account policy admits no account of the system for this hub user (a 403: not the cluster's
    refusal of an operation, but the service's of the user)."""


class NotFound(FirecrestError):
    """A path, job or object does not exist (or is not the caller's)."""


class CommandFailed(FirecrestError):
    """A remote command failed in a way the caller did not foresee; the stderr tail is the description."""


class DependencyUnavailable(FirecrestError):
    """A part the service depends on (scheduler, task database, object store, hub) does not answer."""


class TooManyRequests(FirecrestError):
    """The caller holds as many of something as allowed (e.g. open event streams); try again later."""


class SchedulerUnavailable(DependencyUnavailable):
    """The workload manager does not answer (slurmctld down or unreachable)."""


class ReservationRefused(CommandFailed):
    """Slurm or the reservation policy refused to create, change or delete a reservation (not the caller's,
    an account they are not in, too many of theirs, nodes busy); nothing changed. v1 answers these 400
    with the reason, like any failed command."""


class SubmissionRejected(FirecrestError):
    """The scheduler refused a job; the description carries its reason."""


class UnknownJob(NotFound):
    """No such job, or the job is not the caller's."""


# Filesystem failures: each carries the FirecREST v1 header its clients read (see api/base.py).


class InvalidPath(InvalidInput):
    """A path breaks the path policy (relative, `..`, control characters, outside the filesystems)."""


class InvalidMode(InvalidInput):
    """A chmod mode that is neither octal nor symbolic."""


class InvalidOwner(InvalidInput):
    """A chown owner that is not a user name or id the system knows."""


class InvalidGroup(InvalidInput):
    """A chown group that is not a group name or id the system knows."""


class SourceNotFound(NotFound):
    """The source of a move, copy, compression or extraction does not exist."""


class PatternNotFound(NotFound):
    """head/tail with grep: no line holds the pattern (v1 answers 404 here, unlike for paths)."""


class AlreadyExists(FirecrestError):
    """The path an operation would create is already there."""


class NotADirectory(FirecrestError):
    """A path that must be a directory is something else."""


class IsADirectory(FirecrestError):
    """A path that must be a file is a directory."""


class FileTooLarge(OutputTooLarge):
    """A file is larger than the service carries itself (max_file_size); staging carries larger ones."""
