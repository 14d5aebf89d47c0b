"""Submissions and internal transfers survive a restart of the service: never stuck in progress, never
submitted twice; so does a v2 staged upload whose client goes on uploading meanwhile.

End to end: three tasks are started (an uploaded script, a script on the system, an internal copy) and
the service process is killed the moment their 201s have arrived, gracefully (SIGTERM, as the hub stops
it) and abruptly (SIGKILL, a crash: the next process takes the tasks over when their lease lapses). The
hub starts the service again; every task must then end with 200 and the one job that carries its marker,
or with 400 and a clear reason and no such job.

In process: the resume handler's three cases, each made to happen for sure: sbatch never started
(submit now), sbatch started and made a job (report that job), sbatch started and made none (fail).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import pytest_asyncio
import requests
from firecrest.v2 import Firecrest
from traitlets.config import Config

from compute_support import MACHINE, call, created, exists, finished_task, marked_jobs, read
from conftest import API_URL, HUB_URL, ROOT, HubToken, async_wait_for
from firecrest_hub.access import Access
from firecrest_hub.compute import JobRequest
from firecrest_hub.compute.slurm_commands import SubmitBatchJob
from firecrest_hub.errors import SubmissionRejected
from firecrest_hub.jobs import JobTasks
from firecrest_hub.jobs.submission import marker_of

pytestmark = pytest.mark.cluster

# This checkout's service, as the hub starts it (jupyterhub_config.py): not another checkout's on the machine.
SERVICE_COMMAND = f"firecrest_hub --config {ROOT / 'jupyterhub_config.py'}"


@pytest.fixture
async def work(alice):
    path = f"/home/alice/fc-restart-{uuid.uuid4().hex[:10]}"
    script = 'mkdir -p -- "$1" && printf "data" > "$1/f.txt" && printf "#!/bin/bash\\necho path-job\\n" > "$1/run.sh"'
    setup = await alice.run(["bash", "-c", script, "x", path])
    assert setup.ok, setup.stderr
    yield path
    await alice.run(["rm", "-rf", "--", path])


def service_pids() -> list[str]:
    return subprocess.run(["pgrep", "-f", SERVICE_COMMAND], capture_output=True, text=True, check=False).stdout.split()


def service_pid() -> int:
    found = service_pids()
    assert len(found) == 1, f"expected one service process, found {found}"
    return int(found[0])


async def restarted(old_pid: int, timeout: float = 120) -> None:
    """Wait until the hub has started a new service process and it answers again (401 without a token)."""

    def answers() -> bool:
        pids = service_pids()
        if not pids or str(old_pid) in pids:
            return False
        try:
            return requests.get(f"{API_URL}/status/parameters", timeout=5).status_code == 401
        except requests.ConnectionError:
            return False

    await async_wait_for(answers, timeout, interval=0.5, what="the service to come back")


def start_tasks(token: str, work: str) -> dict[str, str]:
    """Start the three tasks at once; their ids, once all three 201s have arrived."""
    requests_by_kind = {
        "upload": lambda: call("POST", "compute/jobs/upload", token,
                               files={"file": ("up.sh", b"#!/bin/bash\necho upload-job\n")}),
        "path": lambda: call("POST", "compute/jobs/path", token, data={"targetPath": f"{work}/run.sh"}),
        "transfer": lambda: call("POST", "storage/xfer-internal/cp", token,
                                 data={"sourcePath": f"{work}/f.txt", "targetPath": f"{work}/copy.txt"}),
    }
    with ThreadPoolExecutor(len(requests_by_kind)) as threads:
        responses = {kind: threads.submit(send) for kind, send in requests_by_kind.items()}
        return {kind: created(response.result(), 201) for kind, response in responses.items()}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "crash"])
async def test_submissions_and_transfers_survive_a_restart(alice_token, alice, work, signum):
    pid = service_pid()
    tasks = start_tasks(alice_token, work)
    os.kill(pid, signum)
    await restarted(pid)
    outcomes = {}
    for kind, task_id in tasks.items():
        task = outcomes[kind] = await finished_task(alice_token, task_id, timeout=120)
        jobs = await marked_jobs(alice, task_id)
        if task["status"] == "400":
            assert "restarted" in task["data"] and jobs == [], (kind, task)
            continue
        assert task["status"] == "200" and task["system"] == MACHINE, (kind, task)
        assert task["data"]["result"] == "Job submitted"
        assert jobs == [str(task["data"]["jobid"])], (kind, task, jobs)  # it exists, and it is the only one
    if outcomes["transfer"]["status"] == "200":  # and the transfer job really copies
        await async_wait_for(lambda: exists(alice, f"{work}/copy.txt"), 60, interval=0.5, what="the transfer's copy")
        assert await read(alice, f"{work}/copy.txt") == "data"


# ---- the resume handler, case by case --------------------------------------------------------------------

@pytest_asyncio.fixture
async def job_tasks(demo_config):
    """JobTasks on the real parts it uses (the systems, the account policy, pool and scheduler)."""
    config = Config(demo_config)
    config.JobStateCache.interval = 0.5
    access = Access(config=config)
    yield JobTasks(access, SimpleNamespace(runner=SimpleNamespace(on_resume=lambda kind, work: None)),
                   submission_settle_time=0)
    await access.close()


class Handle:
    """A task handle as the runner gives a resumed task: its identity and its remembered params."""

    def __init__(self, script_path: str, **params):
        self.id, self.user, self.system, self.resumed = uuid.uuid4().hex, "alice", MACHINE, True
        self.params = {"request": {"script_path": script_path, "workdir": script_path.rsplit("/", 1)[0]}, **params}

    async def remember(self, **params):
        self.params.update(params)


async def test_resume_before_sbatch_submits(job_tasks, alice, work):
    handle = Handle(f"{work}/run.sh")
    submitted = await job_tasks._resume_submit(handle)
    assert await marked_jobs(alice, handle.id) == [str(submitted["jobid"])]
    assert "sbatch_started_at" in handle.params


async def test_resume_after_sbatch_finds_the_job_and_submits_no_other(job_tasks, alice, work):
    handle = Handle(f"{work}/run.sh", sbatch_started_at=time.time())
    request = JobRequest(**handle.params["request"])
    marked = dataclasses.replace(request, comment=marker_of(handle.id))
    jobid = await alice.execute(SubmitBatchJob(marked))  # the sbatch before the restart
    resumed = await job_tasks._resume_submit(handle)
    assert resumed["jobid"] == int(jobid) and resumed["job_file"] == f"{work}/run.sh"
    assert await marked_jobs(alice, handle.id) == [jobid]


async def test_resume_after_sbatch_without_a_job_fails_clearly(job_tasks, alice, work):
    handle = Handle(f"{work}/run.sh", sbatch_started_at=time.time() - 60)
    with pytest.raises(SubmissionRejected, match="restarted while submitting .* not submitted; submit it again"):
        await job_tasks._resume_submit(handle)
    assert await marked_jobs(alice, handle.id) == []


# ---- a v2 staged upload in flight ---------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "crash"])
async def test_a_v2_upload_goes_on_across_a_restart(alice_token, alice, work, signum, tmp_path):
    """The client uploads one part, the service goes away and comes back, the client uploads the rest and
    completes: the job that fetches the parts is picked up again, and the file arrives whole."""
    client = Firecrest(firecrest_url=f"{HUB_URL}/services/firecrest/api/v2", authorization=HubToken(alice_token))
    local = tmp_path / "parts.bin"
    local.write_bytes(os.urandom(20 * 1024 * 1024 + 5))
    upload = client.upload(MACHINE, str(local), work, "parts.bin", blocking=False)
    directives = upload.transfer_data["transferDirectives"]
    part_size, urls = directives["maxPartSize"], directives["partsUploadUrls"]
    assert len(urls) == 3

    def put(index: int) -> str:
        data = local.read_bytes()[index * part_size:(index + 1) * part_size]
        response = requests.put(urls[index], data=data, timeout=60)
        response.raise_for_status()
        return response.headers["ETag"]

    etags = [put(0)]
    pid = service_pid()
    os.kill(pid, signum)
    etags += [put(1), put(2)]
    await restarted(pid)
    parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in enumerate(etags, 1))
    completed = requests.post(directives["completeUploadUrl"], timeout=30,
                              data=f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>")
    assert completed.status_code == 200, completed.text
    upload.wait_for_transfer_job(timeout=180)
    digest = (await alice.run(["sha256sum", "--", f"{work}/parts.bin"])).stdout.split()[0]
    assert digest == hashlib.sha256(local.read_bytes()).hexdigest()
