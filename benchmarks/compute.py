"""Benchmark of the foundation: pooled commands, job submission and the shared job-state cache.

Run against the demo cluster (`make demo`): python benchmarks/compute.py
Prints p50/p99 and ratios measured in this one run; it asserts nothing.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import tempfile
import time
from pathlib import Path

import asyncssh
import httpx
from firecrest.v1 import Firecrest

from common import API, demo_authority, demo_system, report, timed, user_token
from conftest import HubToken
from firecrest_hub.compute import JobRequest, SlurmScheduler
from firecrest_hub.remote import ConnectionPool

LS = ["ls", "-la", "/home/alice"]
SCRIPT = "#!/bin/bash\n#SBATCH --output=/dev/null\ntrue\n"


async def bare_connection(system, authority):
    credential = authority.credential("alice", "alice")
    return await asyncssh.connect(system.host, system.port, username="alice", known_hosts=system.known_hosts,
                                  client_keys=credential.client_keys, agent_path=None, config=None)


def fresh_ssh_command(system, authority, workdir: Path) -> list[str]:
    """`ssh` as a new process per call, with a certificate on disk: what FirecREST v1 paid per request."""
    credential = authority.credential("alice", "alice")
    credential.key.write_private_key(str(workdir / "id"))
    credential.certificate.write_certificate(str(workdir / "id-cert.pub"))
    (workdir / "id").chmod(0o600)
    return ["ssh", "-p", str(system.port), "-i", str(workdir / "id"), "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={system.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            f"alice@{system.host}", *LS]


async def commands(system, authority, pool) -> None:
    print("== one command (ls -la) as alice")
    connection = await bare_connection(system, authority)
    session = pool.session(system, "alice")
    await session.run(LS)
    await connection.run(" ".join(LS))
    bare, pooled = [], []
    for _ in range(10):  # interleaved, so drift of the machine hits both alike
        bare += await timed(lambda: connection.run(" ".join(LS), check=True), 30)
        pooled += await timed(lambda: session.run(LS), 30)
    with tempfile.TemporaryDirectory() as workdir:
        argv = fresh_ssh_command(system, authority, Path(workdir))
        fresh = await timed(lambda: asyncio.to_thread(subprocess.run, argv, check=True, capture_output=True), 30)
    report("bare asyncssh exec, warm connection (baseline)", bare)
    report("through the pool (firecrest_hub.remote)", pooled, bare)
    report("fresh ssh process per call", fresh, bare)
    connection.close()


async def submissions(system, authority, pool) -> None:
    print("== job submission as alice")
    connection = await bare_connection(system, authority)
    scheduler = SlurmScheduler(pool)
    session = pool.session(system, "alice")
    request = JobRequest(script=SCRIPT, name="bench")
    raw, layered = [], []
    for _ in range(5):
        raw += await timed(lambda: connection.run("sbatch --parsable --job-name=bench", input=SCRIPT, check=True), 6)
        layered += await timed(lambda: scheduler.submit(session, request), 6)
    report("sbatch over a warm SSH connection (baseline)", raw)
    report("submit through the compute layer", layered, raw)
    connection.close()


async def submissions_through_the_api(system, authority) -> None:
    """What a client waits for: POST compute/jobs/upload until its task shows the job id (200)."""
    print("== job submission through the API, until the task shows the job id")
    connection = await bare_connection(system, authority)
    headers = {"Authorization": f"Bearer {user_token(note='benchmarks/compute.py')}", "X-Machine-Name": "cluster"}
    async with httpx.AsyncClient(base_url=API, headers=headers, timeout=30) as http:

        async def submit_and_wait():
            response = await http.post("compute/jobs/upload", files={"file": ("bench.sh", SCRIPT.encode())})
            task_id = response.raise_for_status().json()["task_id"]
            while (task := (await http.get(f"tasks/{task_id}")).json()["task"])["status"] != "200":
                if task["status"] == "400":
                    raise RuntimeError(f"the submission failed: {task['data']}")
                await asyncio.sleep(0.002)

        await submit_and_wait()
        raw, api = [], []
        for _ in range(5):
            raw += await timed(lambda: connection.run("sbatch --parsable --job-name=bench", input=SCRIPT, check=True), 6)
            api += await timed(submit_and_wait, 6)
    report("sbatch over a warm SSH connection (baseline)", raw)
    report("POST compute/jobs/upload until the task's 200", api, raw)
    connection.close()


async def submissions_with_pyfirecrest(system, authority) -> None:
    """What a pyfirecrest user waits for: `Firecrest.submit()` until it returns the job (it asks for the
    task right after the POST, then sleeps 1 s between further asks)."""
    print("== job submission with pyfirecrest's v1 client, until submit() returns the job")
    connection = await bare_connection(system, authority)
    client = Firecrest(firecrest_url=API, authorization=HubToken(user_token(note="benchmarks")))
    with tempfile.TemporaryDirectory() as workdir:
        script = Path(workdir) / "bench.sh"
        script.write_text(SCRIPT)
        submit = functools.partial(client.submit, "cluster", script_local_path=str(script))
        await asyncio.to_thread(submit)
        raw, api = [], []
        for _ in range(5):
            raw += await timed(lambda: connection.run("sbatch --parsable --job-name=bench", input=SCRIPT, check=True), 4)
            api += await timed(lambda: asyncio.to_thread(submit), 4)
    report("sbatch over a warm SSH connection (baseline)", raw)
    report("pyfirecrest Firecrest.submit()", api, raw)
    connection.close()


async def queue_reads(system, pool) -> None:
    print("== shared job-state cache")
    scheduler = SlurmScheduler(pool)
    session = pool.session(system, "alice")
    cache = scheduler.job_cache(system)
    await asyncio.gather(*(scheduler.jobs(session) for _ in range(50)))
    print(f"50 concurrent job-state reads: {cache.queue_reads} squeue call(s)")
    before, started = cache.queue_reads, time.monotonic()
    while time.monotonic() - started < 3 * cache.interval:
        await asyncio.gather(*(scheduler.jobs(pool.session(system, user)) for user in ("alice", "bob") * 25))
        await asyncio.sleep(0.1)
    print(f"50 readers every 0.1 s for {3 * cache.interval:g} s (interval {cache.interval:g} s): "
          f"{cache.queue_reads - before} squeue call(s)")


async def main() -> None:
    system, authority = demo_system(), demo_authority()
    pool = ConnectionPool(authority, max_channels=64)
    try:
        await commands(system, authority, pool)
        await submissions(system, authority, pool)
        await submissions_through_the_api(system, authority)
        await submissions_with_pyfirecrest(system, authority)
        await queue_reads(system, pool)
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
