"""Jobs as the v1 compute and xfer-internal endpoints serve them, on top of the compute layer.

- tasks.py: `JobTasks`, the asynchronous tasks behind those endpoints (submissions, queries,
  cancellation), each resumable after a restart;
- submission.py: restart-safe submission (a marker on every job, scripts written to a directory of their own);
- views.py: FirecREST v1's shapes of jobs, accounting records, nodes, partitions and reservations;
- outputs.py: a job's output file paths with Slurm's patterns filled in, and their tails;
- events.py: `JobEventPublisher`, job state changes pushed to their owners' event streams.
"""

from .events import JobEventPublisher
from .tasks import SUBMIT, TRANSFER, JobTasks

__all__ = ["JobEventPublisher", "JobTasks", "SUBMIT", "TRANSFER"]
