"""A real AiiDA calculation through the v2 API: the unmodified aiida-firecrest 1.0.0 from PyPI (transport and
scheduler `firecrest`) runs aiida-core's `core.arithmetic.add` on the demo cluster as alice, authenticated by
client credentials at the service's OAuth2 token endpoint. That is job submission, file upload, the scheduler's
polling, download and retrieval through v2, as an AiiDA user does them.

aiida-core lives in a virtualenv of its own (`make aiida`, which `make test` runs): tests/aiida/calculation.py
runs there as a subprocess, in a throwaway profile, and reports what it saw as one JSON line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid

import pytest
from firecrest.v2 import Firecrest

from conftest import DEMO, HUB_URL, ROOT, HubToken, async_wait_for

pytestmark = pytest.mark.cluster

V2_URL = f"{HUB_URL}/services/firecrest/api/v2"
TOKEN_URI = f"{HUB_URL}/services/firecrest/oauth2/token"
MACHINE = "cluster"
AIIDA_VENV = DEMO / "aiida-venv"
SCRIPT = ROOT / "tests" / "aiida" / "calculation.py"
# The calculation takes a few seconds, and a failing one ends itself within about 20 s (the script stops a
# process that AiiDA paused after its transport tasks kept failing); this is the backstop, inside pytest's own.
RUN_TIMEOUT = 180


@pytest.fixture(scope="session")
def aiida_python() -> str:
    python = AIIDA_VENV / "bin" / "python"
    if not (AIIDA_VENV / ".stamp").exists() or not python.exists():
        pytest.fail(f"no AiiDA virtualenv in {AIIDA_VENV}: run `make aiida` (make test does it)")
    return str(python)


@pytest.fixture
async def remote_dirs(alice):
    """The Computer's work directory and aiida-firecrest's temp directory in alice's home, removed after."""
    tag = uuid.uuid4().hex[:10]
    workdir, temp = f"/home/alice/aiida-work-{tag}", f"/home/alice/aiida-tmp-{tag}"
    yield workdir, temp
    await alice.run(["rm", "-rf", "--", workdir, temp])


def run_calculation(python: str, args: list[str], aiida_path) -> dict:
    """tests/aiida/calculation.py's report, plus its whole output under "output" for the test's messages."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["AIIDA_PATH"] = str(aiida_path)
    try:
        done = subprocess.run([python, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as stuck:
        pytest.fail(f"the AiiDA calculation did not end within {RUN_TIMEOUT} s\n"
                    f"--- stdout\n{stuck.stdout or ''}\n--- stderr\n{stuck.stderr or ''}")
    output = f"exit code {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    lines = done.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(f"the AiiDA calculation printed no report: {output}")
    assert done.returncode == 0, output
    return report | {"output": output}


async def accounted(alice, jobid: str) -> list[str] | None:
    """The job's state and user as sacct has them, once it has its end (slurmdbd may record it a moment after
    squeue stopped showing the job)."""
    sacct = await alice.run(["sacct", "-X", "--noheader", "--parsable2", "--format=State,User", f"--jobs={jobid}"])
    assert sacct.ok, sacct.stderr
    row = sacct.stdout.strip().split("|")
    return row if row[0] not in ("", "PENDING", "RUNNING", "COMPLETING") else None


async def test_arithmetic_add_through_v2(aiida_python, make_token, alice, remote_dirs, tmp_path):
    workdir, temp = remote_dirs
    token = make_token("alice")
    # The client secret is alice's hub token, in a file only she can read (aiida-firecrest reads it from a path).
    secret = tmp_path / "client-secret"
    secret.touch(mode=0o600)
    secret.write_text(token)
    (tmp_path / "aiida").mkdir()
    # The billing account is the one a user looks up first: their default account on the system.
    accounts = Firecrest(firecrest_url=V2_URL, authorization=HubToken(token)).userinfo(MACHINE)["accounts"]
    account = next(entry["name"] for entry in accounts if entry["default"])

    report = await asyncio.to_thread(run_calculation, aiida_python, [
        "--url", V2_URL, "--token-uri", TOKEN_URI, "--client-id", "alice", "--secret-file", str(secret),
        "--machine", MACHINE, "--workdir", workdir, "--temp-directory", temp, "--billing-account", account,
        "--x", "4", "--y", "5",
    ], tmp_path / "aiida")
    output = report["output"]

    # What AiiDA says: finished, exit status 0, the sum 9 and the files it retrieved.
    assert (report["process_state"], report["exit_status"], report["is_finished_ok"]) == ("finished", 0, True), output
    assert report["sum"] == 9, output
    assert {"remote_folder", "retrieved", "sum"} <= set(report["outputs"]), output
    assert "aiida.out" in report["retrieved"] and report["aiida_out"].strip() == "9", output
    assert report["scheduler_state"] == "done", output

    # What the cluster says: the job ran in Slurm as alice in the calculation's directory, which holds the
    # script AiiDA uploaded and the output it retrieved; the temp directory was made through the API.
    remote = report["remote_workdir"]
    assert remote.startswith(f"{workdir}/"), output
    row = await async_wait_for(lambda: accounted(alice, report["job_id"]), 30, interval=0.5,
                               what="sacct to account the job")
    assert row == ["COMPLETED", "alice"], output
    listed = await alice.run(["ls", "--", remote])
    assert listed.ok, listed.stderr
    assert {"_aiidasubmit.sh", "aiida.in", "aiida.out"} <= set(listed.stdout.split())
    assert (await alice.run(["cat", "--", f"{remote}/aiida.out"])).stdout.strip() == "9"
    assert "echo $((4 + 5))" in (await alice.run(["cat", "--", f"{remote}/aiida.in"])).stdout
    assert (await alice.run(["test", "-d", temp])).ok
