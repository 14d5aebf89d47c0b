"""What a user reads on the hub's "your server is starting" page, from the spawner's view of its job."""

from __future__ import annotations

from .options import format_memory

# Slurm's pending reasons a notebook user meets most, in words; others are shown as Slurm prints them.
QUEUE_REASONS = {
    "None": "Slurm has not scheduled it yet",
    "Priority": "other jobs are ahead of it",
    "Resources": "it waits for free CPUs or memory",
    "ReqNodeNotAvail": "the nodes it needs are unavailable",
    "Reservation": "it waits for its reservation to start",
    "BeginTime": "it waits for its start time",
    "Dependency": "it waits for another job",
    "JobHeldUser": "it is held (scontrol release lets it go)",
    "JobHeldAdmin": "an administrator holds it",
    "PartitionDown": "the partition does not run jobs right now",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "PartitionTimeLimit": "it asks for more time than the partition allows",
    "NodeDown": "a node it needs is down",
    "QOSMaxJobsPerUserLimit": "you run as many jobs as your QOS allows",
    "AssocMaxJobsLimit": "your account runs as many jobs as it may",
    "AssocGrpCpuLimit": "your account uses all the CPUs it may",
}


def progress_event(spawner) -> dict:
    """One progress event ({"progress": 0-100, "message": ...}) for the spawner's current state."""
    options, job = spawner.job_options, spawner.job
    if not spawner.job_id:
        if options is None:
            return {"progress": 5, "message": "Checking your options"}
        return {"progress": 10, "message": (
            f"Submitting your notebook job to {options.system}: partition {options.partition}, "
            f"{options.cpus} CPU{'s' if options.cpus > 1 else ''}, {format_memory(options.memory)} memory, "
            f"{options.time_limit}")}
    if spawner.scheduler_problem:
        return {"progress": 20, "message": (
            f"Job {spawner.job_id}: Slurm does not answer right now ({spawner.scheduler_problem}); retrying")}
    if spawner.port:  # the job runs: its server reported the port, maybe before a queue read showed it
        where = f"node {job.nodelist}, " if job is not None and job.state == "RUNNING" else ""
        return {"progress": 80, "message": f"JupyterLab is starting on {where}port {spawner.port}; waiting for it to answer"}
    if job is None:
        return {"progress": 20, "message": f"Job {spawner.job_id} submitted; waiting for Slurm to list it"}
    if job.state == "PENDING":
        reason = job.reason or "None"
        explained = QUEUE_REASONS.get(reason.split(",")[0])
        why = f"{explained} (Slurm: {reason})" if explained else f"Slurm: {reason}"
        return {"progress": 30, "message": f"Job {job.jobid} is queued in partition {job.partition}: {why}"}
    if job.state == "RUNNING":
        return {"progress": 60, "message": (
            f"Job {job.jobid} is starting on node {job.nodelist}; waiting for JupyterLab to report its port")}
    if job.state in ("CONFIGURING", "REQUEUED"):
        return {"progress": 40, "message": f"Job {job.jobid} is being set up on node {job.nodelist or '(not yet known)'}"}
    return {"progress": 40, "message": f"Job {job.jobid} is {job.state.lower()}"}
