#!/usr/bin/env python3
"""firecrest-singleuser: runs inside the notebook's Slurm job, as the user, on the compute node.

It picks a free port, reports it to the hub (`POST $JUPYTERHUB_API_URL/batchspawner`, body
`{"port": N}`, with the server's own token), and only then starts the command it is given
(jupyterhub-singleuser) on that port. Unlike batchspawner-singleuser it checks the hub's answer: a
refused report ends the job with the hub's reason in the job's output, where the spawner reads it,
instead of a server nobody can reach; an unreachable hub (restarting) is retried for a while.

Standard library only: devcluster/notebook-env.sh copies this file into the notebook environment.
"""

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse, urlunparse

# How long to keep trying while the hub does not answer, e.g. during a hub restart.
REPORT_PATIENCE = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def report_port(port: int) -> None:
    request = urllib.request.Request(
        os.environ["JUPYTERHUB_API_URL"].rstrip("/") + "/batchspawner",
        data=json.dumps({"port": port}).encode(),
        headers={"Authorization": f"token {os.environ['JUPYTERHUB_API_TOKEN']}",
                 "Content-Type": "application/json"},
        method="POST",
    )
    deadline, wait = time.monotonic() + REPORT_PATIENCE, 0.5
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10):
                return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                detail = error.read().decode(errors="replace")[:500]
                sys.exit(f"firecrest-singleuser: the hub refused the port report ({error.code}): {detail}")
            problem = f"the hub answered {error.code}"
        except OSError as error:
            problem = f"the hub is unreachable: {error}"
        if time.monotonic() > deadline:
            sys.exit(f"firecrest-singleuser: could not report the port: {problem}")
        print(f"firecrest-singleuser: {problem}; retrying", file=sys.stderr, flush=True)
        time.sleep(wait)
        wait = min(wait * 2, 10)


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit("usage: firecrest-singleuser COMMAND [ARGS...]")
    port = free_port()
    report_port(port)
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    os.environ["JUPYTERHUB_SERVICE_URL"] = urlunparse(url._replace(netloc=f"{host}:{port}"))
    print(f"firecrest-singleuser: starting on port {port}", file=sys.stderr, flush=True)
    os.execvp(argv[1], argv[1:])


if __name__ == "__main__":
    main(sys.argv)
