"""Compute: the scheduler interface, its Slurm implementation and the shared job-state cache.

Entry point for callers: `SlurmScheduler(pool)`; see `slurm.py` for how the REST API, the portal and
the spawner use it.
"""

from .cache import JobStateCache, QueueSnapshot
from .scheduler import AccountingRecord, Job, JobRequest, Node, Partition, Reservation, Scheduler
from .slurm import SlurmScheduler

__all__ = [
    "AccountingRecord", "Job", "JobRequest", "JobStateCache", "Node", "Partition", "QueueSnapshot",
    "Reservation", "Scheduler", "SlurmScheduler",
]
