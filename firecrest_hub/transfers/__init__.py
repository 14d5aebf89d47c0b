"""Internal transfers (v1's storage/xfer-internal): file operations run as Slurm jobs on a system's transfer
partition, as the user. See job.py; the jobs are submitted like any other (jobs/tasks.py)."""

from .job import DEFAULT_TIME_LIMIT, SCRIPT_NAME, Rsync, Transfer

__all__ = ["DEFAULT_TIME_LIMIT", "SCRIPT_NAME", "Rsync", "Transfer"]
