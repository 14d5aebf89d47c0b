"""Benchmark of the spawner: what polling running servers costs Slurm, and how long a start takes.

Run against the demo (`make demo`):  python benchmarks/spawner.py [--servers 20] [--seconds 60] [--starts 8]

1. Polling. N running Slurm jobs stand for N running notebook servers (what a poll looks at is the job,
   not JupyterLab). N FirecrestSpawner objects, with the demo hub's config and the real compute layer,
   poll them exactly as the hub does (Spawner.start_polling: poll_interval 10 s, 10 % jitter) for the
   given time; then N stock batchspawner SlurmSpawner objects poll the same jobs (`squeue -j ID` each,
   as the user through runuser). Counted: the squeue runs each made (the JobStateCache's own count;
   the stock spawners' commands), and slurmctld's job-info RPCs from sdiag, which also include anything
   else using this Slurm meanwhile.
2. Start to ready. alice's server is started through the hub's REST API (POST, then until the hub
   calls it ready), several times; the hub log's timestamps split each start into: the options check
   and sbatch, the time until the job runs and its server reports its port (queued in Slurm plus the
   job's launch; Slurm's own Submit and Start times give the queued part, to the second), JupyterLab's
   start (from the job's own output), the wait until the spawner sees it answer (a queue read must show
   the job running, to learn its node: up to one JobStateCache interval), and the hub's last step.
It prints the figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import subprocess
import time
from datetime import datetime

import requests
from batchspawner import SlurmSpawner
from common import DEMO, ROOT
from traitlets.config import PyFileConfigLoader

from firecrest_hub.compute import JobRequest, JobStateCache
from spawner import FirecrestSpawner
from spawner.backend import backend_for

HUB = "http://127.0.0.1:8000/hub/api"
USERS = ("alice", "bob")


class BenchUser:
    """What a spawner needs of its hub user when it only polls."""

    def __init__(self, name: str):
        self.name = self.escaped_name = name
        self.url = f"/user/{name}/"


def sdiag_job_info_rpcs() -> int:
    """slurmctld's count of job-info RPCs (what squeue sends) since its statistics were last reset."""
    text = subprocess.run(["sdiag"], check=True, capture_output=True, text=True).stdout
    return sum(int(count) for count in re.findall(r"REQUEST_JOB_INFO\S*\s+\(\s*\d+\)\s+count:(\d+)", text))


async def submit_placeholders(backend, count: int) -> list[tuple[str, str]]:
    system = backend.systems.all()[0]
    jobs = []
    for index in range(count):
        user = USERS[index % len(USERS)]
        request = JobRequest(script="#!/bin/bash\nsleep 900\n", name="bench-notebook", time_limit="20",
                             partition=system.default_partition)
        jobs.append((user, await backend.scheduler.submit(backend.session(user, system), request)))
    ids = ",".join(jobid for _, jobid in jobs)
    while True:
        listing = await asyncio.to_thread(subprocess.run, ["squeue", "--noheader", f"--jobs={ids}", "--format=%T"],
                                          check=True, capture_output=True, text=True)
        states = listing.stdout.split()
        if states.count("RUNNING") == count:
            return jobs
        await asyncio.sleep(0.5)


async def poll_for(spawners, seconds: float) -> None:
    for spawner in spawners:
        spawner.start_polling()
    await asyncio.sleep(seconds)
    for spawner in spawners:
        spawner.stop_polling()


async def poll_cost(config, count: int, seconds: float, interval: int) -> None:
    backend = backend_for(config)
    cache = backend.scheduler.job_cache(backend.systems.all()[0])
    jobs = await submit_placeholders(backend, count)
    print(f"== polling {count} running servers for {seconds:g} s, poll_interval {interval} s "
          f"(JobStateCache.interval {cache.interval:g} s)")
    try:
        ours = []
        for user, jobid in jobs:
            spawner = FirecrestSpawner(config=config, user=BenchUser(user), poll_interval=interval)
            spawner.load_state({"job_id": jobid})
            ours.append(spawner)
        reads, rpcs = cache.queue_reads, sdiag_job_info_rpcs()
        await poll_for(ours, seconds)
        ours_squeue, ours_rpcs = cache.queue_reads - reads, sdiag_job_info_rpcs() - rpcs

        stock_squeue = 0

        class CountingSlurmSpawner(SlurmSpawner):
            async def run_command(self, cmd, input=None, env=None):
                nonlocal stock_squeue
                stock_squeue += " squeue " in f" {cmd} "
                return await super().run_command(cmd, input=input, env=env)

        stock = []
        for user, jobid in jobs:
            # req_keepvars would be computed from get_env(), which needs a whole hub; polls do not use it.
            spawner = CountingSlurmSpawner(user=BenchUser(user), poll_interval=interval, req_keepvars="",
                                           exec_prefix="runuser -u {username} --")
            spawner.load_state({"job_id": jobid})
            stock.append(spawner)
        rpcs = sdiag_job_info_rpcs()
        await poll_for(stock, seconds)
        stock_rpcs = sdiag_job_info_rpcs() - rpcs
    finally:
        for user, jobid in jobs:
            await backend.scheduler.cancel(backend.session(user, backend.systems.all()[0]), jobid)
        await backend.pool.close()
    print(f"{'FirecrestSpawner (shared JobStateCache)':44s} squeue runs {ours_squeue:4d}   "
          f"slurmctld job-info RPCs {ours_rpcs:5d}")
    print(f"{'stock batchspawner SlurmSpawner':44s} squeue runs {stock_squeue:4d}   "
          f"slurmctld job-info RPCs {stock_rpcs:5d}")
    print(f"   ({count} servers x {seconds / interval:g} polls = {count * seconds / interval:g} polls each way; "
          f"RPC counts include other users of this Slurm)")


def log_times(path, patterns: dict[str, str], offset: int = 0) -> dict[str, float]:
    """Unix times of the first line (after byte `offset`) that matches each pattern, in a log of
    JupyterHub or Jupyter Server ("[I 2024-05-01 12:00:00.123 ...")."""
    with open(path, "rb") as log:
        log.seek(offset)
        lines = log.read().decode(errors="replace").splitlines()
    found = {}
    for line in lines:
        stamp = re.match(r"\[\w (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})", line)
        for key, pattern in patterns.items():
            if stamp and key not in found and re.search(pattern, line):
                found[key] = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
    return found


def slurm_queued_seconds(jobid: str) -> int:
    submit, start = subprocess.run(
        ["sacct", "--noheader", "--allocations", "--parsable2", f"--jobs={jobid}", "--format=Submit,Start"],
        check=True, capture_output=True, text=True).stdout.strip().split("|")
    return int((datetime.fromisoformat(start) - datetime.fromisoformat(submit)).total_seconds())


def start_to_ready(admin_token: str, runs: int, interval: float) -> None:
    headers = {"Authorization": f"token {admin_token}"}
    options = {"partition": "debug", "runtime": "00:10:00", "cpus": 1, "memory": "1G"}
    print(f"== start to ready of alice's server through the hub, {runs} runs")
    rows = []
    for _ in range(runs):
        requests.delete(f"{HUB}/users/alice/server", headers=headers, timeout=60)
        while requests.get(f"{HUB}/users/alice", headers=headers, timeout=30).json()["servers"]:
            time.sleep(0.2)
        # Starts arrive at random moments of the JobStateCache's refresh cycle, as users' clicks do
        # (right after a stop, a start always waits the longest: the stop has just refreshed the cache).
        time.sleep(random.uniform(0, interval))
        offset = (DEMO / "logs" / "hub.log").stat().st_size
        started = time.time()
        response = requests.post(f"{HUB}/users/alice/server", headers=headers, json={"user_options": options},
                                 timeout=300)
        response.raise_for_status()
        while not (requests.get(f"{HUB}/users/alice", headers=headers, timeout=30).json()["servers"]
                   .get("", {}).get("ready")):
            time.sleep(0.05)
        ready = time.time()
        jobid = requests.get(f"{HUB}/users/alice", headers=headers, timeout=30).json()["servers"][""]["state"]["job_id"]
        marks = log_times(DEMO / "logs" / "hub.log", {"submitted": r"Submitted notebook job",
                                                      "port": r"reported port", "answers": r"answers on"}, offset)
        # The job's own output (read as root here): when JupyterLab listened.
        marks.update(log_times(f"/home/alice/.firecrest-hub/notebook-{jobid}.log",
                               {"listening": r"Jupyter Server .* is running at"}))
        rows.append((ready - started, marks["submitted"] - started, marks["port"] - marks["submitted"],
                     slurm_queued_seconds(jobid), marks["listening"] - marks["port"],
                     marks["answers"] - marks["listening"], ready - marks["answers"]))
    requests.delete(f"{HUB}/users/alice/server", headers=headers, timeout=60)
    names = ("start -> ready", "check + sbatch", "sbatch -> port report", "  of which queued in Slurm (1 s res.)",
             "JupyterLab start (port -> listening)", "listening -> spawner sees it answer",
             "hub: proxy + ready")
    for index, name in enumerate(names):
        values = [row[index] for row in rows]
        print(f"{name:40s} p50 {statistics.median(values):6.2f} s   min {min(values):6.2f} s   max {max(values):6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--poll-interval", type=int, default=10)
    parser.add_argument("--starts", type=int, default=8)
    arguments = parser.parse_args()
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(ROOT)).load_config()
    asyncio.run(poll_cost(config, arguments.servers, arguments.seconds, arguments.poll_interval))
    cache_interval = config.JobStateCache.get("interval", JobStateCache.interval.default_value)
    start_to_ready((DEMO / "admin.token").read_text().strip(), arguments.starts, cache_interval)


if __name__ == "__main__":
    main()
