"""Benchmark of the REST API (v1 and v2) through the hub's proxy, against a bare `ls` and a bare `sbatch` on
a warm SSH connection.

Run against the demo (`make demo`): python benchmarks/api.py [--clients 100] [--seconds 10]
Prints p50/p99, requests/s and error counts measured in this one run; it asserts nothing.

Latency is measured with one keep-alive HTTP client, as a gateway (pyfirecrest) holds its connection.
Throughput is measured with wrk (Debian package `wrk`): a load generator written in Python would take
much of the machine's CPU from the service it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess

import asyncssh
import httpx
from common import API, demo_authority, demo_config, demo_system, report, timed, user_token

from firecrest_hub.remote import ConnectionPool

API_V2 = API.removesuffix("/v1") + "/v2"
LS = "utilities/ls?targetPath=/home/alice"
LS_V2 = "filesystem/cluster/ops/ls?path=/home/alice"
SCRIPT = "#!/bin/bash\n#SBATCH --time=1\n#SBATCH --output=/dev/null\ntrue\n"


async def warm_connection() -> asyncssh.SSHClientConnection:
    """alice's SSH connection, with the same ciphers as the service's pool, so that a ratio is what the
    service adds, not a cipher choice."""
    system, authority = demo_system(), demo_authority()
    credential = authority.credential("alice", "alice")
    ciphers = ConnectionPool(authority, config=demo_config()).ciphers
    return await asyncssh.connect(system.host, system.port, username="alice", known_hosts=system.known_hosts,
                                  client_keys=credential.client_keys, agent_path=None, config=None,
                                  encryption_algs=ciphers)


async def latency(token: str) -> None:
    print("== listing /home/alice, sequential, one keep-alive client per API version")
    connection = await warm_connection()
    headers = {"Authorization": f"Bearer {token}", "X-Machine-Name": "cluster"}
    async with httpx.AsyncClient(base_url=API, headers=headers, timeout=30) as v1, \
            httpx.AsyncClient(base_url=API_V2, headers=headers, timeout=30) as v2:

        async def list_through_v1():
            (await v1.get(LS)).raise_for_status()

        async def list_through_v2():
            (await v2.get(LS_V2)).raise_for_status()

        await list_through_v1()
        await list_through_v2()
        bare, first, second = [], [], []
        for _ in range(10):
            bare += await timed(lambda: connection.run("ls -la /home/alice", check=True), 30)
            first += await timed(list_through_v1, 30)
            second += await timed(list_through_v2, 30)
    report("bare ls -la, warm asyncssh connection (baseline)", bare)
    report("v1 GET utilities/ls through the hub proxy", first, bare)
    report("v2 GET ops/ls through the hub proxy", second, bare)
    report("v2 GET ops/ls against v1 utilities/ls", second, first)
    connection.close()


async def submissions(token: str) -> None:
    print("== v2 job submission: POST compute/cluster/jobs until its 201 with the job id")
    connection = await warm_connection()
    headers = {"Authorization": f"Bearer {token}"}
    job = {"job": {"script": SCRIPT, "workingDirectory": "/home/alice", "name": "bench"}}
    async with httpx.AsyncClient(base_url=API_V2, headers=headers, timeout=30) as v2:

        async def submit():
            (await v2.post("compute/cluster/jobs", json=job)).raise_for_status()

        await submit()
        bare, api = [], []
        for _ in range(15):  # the two take turns, so that both meet the same load on slurmctld
            bare += await timed(lambda: connection.run("sbatch --parsable --job-name=bench --chdir=/home/alice",
                                                       input=SCRIPT, check=True), 3)
            api += await timed(submit, 3)
    report("sbatch over a warm SSH connection (baseline)", bare)
    report("v2 POST compute/jobs", api, bare)
    connection.close()


def load(token: str, url: str, clients: int, seconds: float) -> None:
    result = subprocess.run(
        ["wrk", f"--connections={clients}", "--threads=2", f"--duration={seconds:g}s", "--latency", "--timeout=30s",
         f"--header=Authorization: Bearer {token}", "--header=X-Machine-Name: cluster", url],
        check=True, capture_output=True, text=True).stdout

    def field(pattern: str, default: str = "0") -> str:
        match = re.search(pattern, result, re.MULTILINE)
        return match.group(1) if match else default

    requests = int(field(r"^\s*(\d+) requests in"))
    non_2xx = int(field(r"Non-2xx or 3xx responses: (\d+)"))
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)",
                                                   field(r"Socket errors: (.*)$", "")))
    rate, p50, p99 = field(r"Requests/sec:\s+([\d.]+)"), field(r"^\s+50%\s+(\S+)"), field(r"^\s+99%\s+(\S+)")
    path = url.removeprefix(API.removesuffix("/v1") + "/")
    print(f"{path:50s} {clients} clients: {float(rate):7.1f} req/s   p50 {p50}   p99 {p99}"
          f"   errors {non_2xx + socket_errors}/{requests}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("benchmarks/api.py needs wrk: apt-get install wrk")
    token = user_token()
    await latency(token)
    await submissions(token)
    print(f"== throughput, wrk, {arguments.seconds:g} s each")
    load(token, f"{API}/status/parameters", arguments.clients, arguments.seconds)
    load(token, f"{API}/{LS}", arguments.clients, arguments.seconds)
    load(token, f"{API_V2}/status/liveness", arguments.clients, arguments.seconds)
    load(token, f"{API_V2}/{LS_V2}", arguments.clients, arguments.seconds)


if __name__ == "__main__":
    asyncio.run(main())
