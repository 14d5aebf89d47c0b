"""What the compute tasks return, in FirecREST v1's shapes (the `data` of a finished task).

Where v1 differs from its own spec, the spec's meaning wins: v1's squeue format put the time used under
`start_time` and the start time under `time`; here `start_time` is the start time and `time` the time used
(in accounting records the elapsed time, where v1 showed the CPU time).
"""

from __future__ import annotations

import math

from ..compute import AccountingRecord, Job, Node, Partition, Reservation
from ..errors import InvalidInput
from .outputs import expand_output_path

# v1's values for file paths it could not find out.
NO_JOB_FILE = "command-not-found"
NO_STDOUT_FILE = "stdout-file-not-found"
NO_STDERR_FILE = "stderr-file-not-found"


def job_record(job: Job) -> dict:
    """A queued, running or recently ended job, without the tails of its output (see `with_output`)."""
    return {
        "jobid": job.jobid,
        "partition": job.partition,
        "name": job.name,
        "user": job.user,
        "state": job.state,
        "start_time": job.start_time,
        "time": job.time,
        "time_left": job.time_left,
        "nodes": job.nodes,
        # v1 printed squeue's %R: the allocated nodes, or "(Reason)" while the job waits.
        "nodelist": job.nodelist or (f"({job.reason})" if job.reason else ""),
        "job_file": job.job_file or NO_JOB_FILE,
        "job_file_out": expand_output_path(job.job_file_out, job) if job.job_file_out else NO_STDOUT_FILE,
        "job_file_err": expand_output_path(job.job_file_err, job) if job.job_file_err else NO_STDERR_FILE,
    }


def accounting_record(record: AccountingRecord) -> dict:
    """One sacct record under v1's names (`time_left` and `termination_time` both held the end time in v1)."""
    return {
        "jobid": record.jobid,
        "partition": record.partition,
        "name": record.name,
        "user": record.user,
        "state": record.state,
        "start_time": record.start_time,
        "time": record.time,
        "elapsed_time": record.time,
        "termination_time": record.end_time,
        "time_left": record.end_time,
        "nodes": record.nodes,
        "nodelist": record.nodelist,
        "exit_code": record.exit_code,
    }


def node_record(node: Node) -> dict:
    return {"NodeName": node.name, "ActiveFeatures": node.active_features, "Partitions": node.partitions,
            "State": node.state}


def partition_record(partition: Partition) -> dict:
    return {"PartitionName": partition.name, "State": partition.state, "TotalCPUs": partition.total_cpus,
            "TotalNodes": partition.total_nodes, "Default": "YES" if partition.default else "NO"}


def reservation_record(reservation: Reservation) -> dict:
    return {"ReservationName": reservation.name, "State": reservation.state, "Nodes": reservation.nodes,
            "StartTime": reservation.start_time, "EndTime": reservation.end_time,
            "Features": reservation.features.split("&") if reservation.features else []}


def page(items: list, size: int | None, number: int | None) -> list:
    """v1's paging: page `number` (from 0) of `size` items; all items unless a page was asked for."""
    if number is None:
        return items
    pages = max(1, math.ceil(len(items) / size))
    if number >= pages:
        raise InvalidInput(f"pageNumber ({number}) is greater than total pages ({pages})")
    return items[number * size:(number + 1) * size]
