"""No working credential at rest, acted out as another user of the cluster would try it.

bob has a shell on the login node and batch jobs of his own. The service's task database used to hand
him alice's live presigned URLs and the secret she passed in a job's environment. Now the database is
private to the service, and even a copy of all of it holds no presigned URL and no environment value:
URLs are signed when their owner reads the task, and environment values never reach the store.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url
from traitlets.config import Application

from compute_support import call, created, finished_task
from conftest import API_URL, async_wait_for, wait_for
from firecrest_hub.access import Access
from firecrest_hub.staging import ObjectStore, Staging
from firecrest_hub.tasks import Tasks

pytestmark = pytest.mark.cluster

SIGNATURE = "X-Amz-Signature"


@pytest.fixture(scope="module")
def task_database(demo_config) -> Path:
    return Path(make_url(demo_config.TaskStore.db_url).database)


def whole_database(path: Path) -> str:
    """Everything the task database holds, as one text: what a copy of its files gives whoever has one."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return "\n".join(connection.iterdump())


def as_bob(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "bob", "--", *argv], capture_output=True, text=True, timeout=30)


def task_of(token: str, task_id: str) -> dict:
    response = call("GET", f"tasks/{task_id}", token, machine=None)
    assert response.status_code == 200, response.text
    return response.json()["task"]


def wait_for_status(token: str, task_id: str, status: str, timeout: float = 60) -> dict:
    def reached():
        task = task_of(token, task_id)
        assert task["status"] not in ("115", "118"), task  # failed: no use waiting
        return task if task["status"] == status else None

    return wait_for(reached, timeout, what=f"task {task_id} in status {status}")


@pytest.fixture
async def work(alice):
    path = f"/home/alice/fc-secrets-{uuid.uuid4().hex[:10]}"
    assert (await alice.run(["mkdir", "-m", "0700", "--", path])).ok
    yield path
    await alice.run(["rm", "-rf", "--", path])


def test_the_task_database_is_the_services_alone(task_database):
    assert task_database.parent.stat().st_mode & 0o777 == 0o700
    for path in task_database.parent.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    refused = as_bob("cat", str(task_database))
    assert refused.returncode != 0 and "Permission denied" in refused.stderr


async def test_a_copy_of_the_database_gives_no_presigned_url(alice_token, alice, work, task_database):
    secret_file = f"{work}/secret.txt"
    assert (await alice.run(["bash", "-c", 'umask 077 && printf alice-only > "$1"', "x", secret_file])).ok
    download = created(call("POST", "storage/xfer-external/download", alice_token,
                            data={"sourcePath": secret_file}), 201)
    upload = created(call("POST", "storage/xfer-external/upload", alice_token,
                          data={"sourcePath": "/local/in.txt", "targetPath": work}), 201)
    staged = wait_for_status(alice_token, download, "117")
    awaiting = wait_for_status(alice_token, upload, "111")
    # The owner gets working URLs...
    assert requests.get(staged["data"]["url"], timeout=30).content == b"alice-only"
    form = awaiting["data"]["msg"]["parameters"]
    assert form["method"] == "POST" and "x-amz-signature" in form["data"]  # v1's POST form
    assert form["data"]["x-amz-signature"] in awaiting["data"]["msg"]["command"]
    # ... and the database, all of it, holds none of them.
    dump = whole_database(task_database)
    assert download in dump and upload in dump
    assert SIGNATURE.lower() not in dump.lower() and "x-amz-credential" not in dump.lower()
    call("POST", "storage/xfer-external/invalidate", alice_token, headers={"X-Task-Id": upload})


async def test_job_environment_values_reach_the_job_but_not_the_store(alice_token, alice, task_database):
    secret = secrets.token_hex(16)
    script = "#!/bin/bash\n#SBATCH --output=/dev/null\nprintf '%s' \"$FC_SECRET\" > \"$HOME/$FC_OUT\"\n"
    out = f"fc-env-{uuid.uuid4().hex[:8]}.txt"
    task_id = created(call("POST", "compute/jobs/upload", alice_token, files={"file": ("env.sh", script)},
                           data={"env": f'{{"FC_SECRET": "{secret}", "FC_OUT": "{out}"}}'}), 201)
    task = await finished_task(alice_token, task_id)
    assert task["status"] == "200", task

    async def output():
        done = await alice.run(["cat", "--", f"/home/alice/{out}"])
        return done if done.ok else None

    written = await async_wait_for(output, 60, interval=0.5, what="the job to write its output")
    await alice.run(["rm", "-f", "--", f"/home/alice/{out}"])
    assert written.stdout == secret
    dump = whole_database(task_database)
    assert task_id in dump and "FC_SECRET" in dump and secret not in dump


async def test_upload_urls_carry_exactly_the_announced_bytes(alice_token, work):
    data = os.urandom(4096)
    upload = created(call("POST", "storage/xfer-external/upload", alice_token,
                          data={"sourcePath": "/local/exact.bin", "targetPath": work, "size": str(len(data))}), 201)
    form = wait_for_status(alice_token, upload, "111")["data"]["msg"]["parameters"]

    def post(body: bytes) -> int:
        return requests.post(form["url"], data=form["data"], files={"file": ("exact.bin", body)}, timeout=30).status_code

    for wrong in (data + b"more", data[:100]):
        assert post(wrong) == 400  # the policy's content-length-range refuses it
    assert post(data) == 204
    assert (await finished_task_status(alice_token, upload)) == "114"


async def finished_task_status(token: str, task_id: str, timeout: float = 60) -> str:
    def ended():
        status = task_of(token, task_id)["status"]
        return status if status in ("114", "115") else None

    return await async_wait_for(ended, timeout, interval=0.2, what=f"task {task_id} to end")


async def test_what_reaches_an_invalidated_upload_is_swept(alice_token, work, demo_config, tmp_path):
    upload = created(call("POST", "storage/xfer-external/upload", alice_token,
                          data={"sourcePath": "/local/late.bin", "targetPath": work}), 201)
    form = wait_for_status(alice_token, upload, "111")["data"]["msg"]["parameters"]
    assert call("POST", "storage/xfer-external/invalidate", alice_token, machine=None,
                headers={"X-Task-Id": upload}).status_code == 201
    key = form["data"]["key"]
    config = Application(config=demo_config).config
    config.TaskStore.db_url = f"sqlite:///{tmp_path}/state/tasks.sqlite"
    parent = Application(config=config)
    objects, access = ObjectStore(parent=parent), Access(parent=parent)
    staging = Staging(objects, access, Tasks(parent, "/api"), parent=parent)
    await objects.open()
    try:
        assert await objects.size(ObjectStore.ended_key(key)) == 0  # the mark the invalidation left
        # S3 cannot revoke the form: a late POST still lands ...
        assert requests.post(form["url"], data=form["data"], files={"file": ("late.bin", b"planted")},
                             timeout=30).status_code == 204
        # ... and the next sweep (of any replica) deletes it.
        await staging.sweep()
        assert await objects.size(key) is None
    finally:
        await objects.close()
        await access.close()


def test_a_token_sent_in_the_url_is_not_logged(alice_token):
    # A token sent in the URL (which the hub's auth still accepts) must not land in the access log.
    requests.get(f"{API_URL}/status/systems", params={"token": alice_token}, timeout=30)
    log = Path(__file__).resolve().parent.parent / ".demo" / "logs" / "hub.log"
    assert alice_token not in log.read_text(errors="replace")
