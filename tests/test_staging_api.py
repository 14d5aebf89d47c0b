"""Staging through the real hub proxy, SeaweedFS and the cluster: the multipart extension, integrity
checks, invalidation, isolation between users, bad input and progress events. Then the object store
failing under a transfer, in-process (the shared SeaweedFS keeps running: the failing store is a closed
port, or a proxy in front of SeaweedFS that the test cuts)."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import shlex
import socket
import subprocess
import threading
import time
import uuid
from urllib.parse import unquote, urlparse

import boto3
import pytest
import pytest_asyncio
import requests
from botocore.config import Config as BotoConfig
from traitlets.config import Application

from firecrest_hub.access import Access
from firecrest_hub.api.storage_external import COMPLETE_PATH, PARTS_PATH
from firecrest_hub.staging import ObjectStore, Staging
from firecrest_hub.staging.batch import TransferJob
from firecrest_hub.tasks import Tasks

from conftest import API_URL, async_wait_for, wait_for

pytestmark = pytest.mark.cluster

MACHINE = "cluster"
MiB = 1024 * 1024
FINAL = {"114", "115", "117", "118"}
# For in-process tests of transfers that run as Slurm jobs on the transfer partition.
JOB_THRESHOLD = 32 * MiB
# What the API passes to an in-process Staging's uploads.
MULTIPART_PATHS = {"parts": PARTS_PATH, "complete": COMPLETE_PATH}


def call(token: str, method: str, path: str, *, machine: bool = True, headers=None, **kwargs):
    sent = {"Authorization": f"token {token}", **({"X-Machine-Name": MACHINE} if machine else {}), **(headers or {})}
    return requests.request(method, f"{API_URL}{path}", headers=sent, timeout=30, **kwargs)


def task_of(token: str, task_id: str) -> dict:
    response = call(token, "GET", f"/tasks/{task_id}", machine=False)
    assert response.status_code == 200, response.text
    return response.json()["task"]


def wait_for_status(token: str, task_id: str, statuses, timeout: float = 90) -> dict:
    """The task once it is at one of `statuses`, or has finished."""

    def reached():
        task = task_of(token, task_id)
        return task if task["status"] in statuses or task["status"] in FINAL else None

    return wait_for(reached, timeout, what=f"task {task_id} at one of {sorted(statuses)}")


def started(response) -> str:
    assert response.status_code == 201, response.text
    return response.json()["task_id"]


def s3_client(demo_config):
    store = ObjectStore(config=demo_config)
    return boto3.client("s3", endpoint_url=store.endpoint_url, aws_access_key_id=store.access_key,
                        aws_secret_access_key=store.secret_key, region_name=store.region,
                        config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}))


def object_exists(demo_config, url: str) -> bool:
    """Whether the object a presigned URL names is still in the bucket (asked with the service's keys)."""
    bucket, key = unquote(urlparse(url).path).lstrip("/").split("/", 1)
    try:
        s3_client(demo_config).head_object(Bucket=bucket, Key=key)
    except s3_client(demo_config).exceptions.ClientError:
        return False
    return True


@pytest.fixture
async def work(alice):
    path = f"/home/alice/fc-staging-{uuid.uuid4().hex[:10]}"
    assert (await alice.run(["mkdir", "--", path])).ok
    yield path
    await alice.run(["rm", "-rf", "--", path])


async def cluster_sha256(session, path: str) -> str:
    result = await session.run(["sha256sum", "--", path])
    assert result.ok, result.stderr
    return result.stdout.split()[0]


async def listing(session, path: str) -> list[str]:
    return (await session.run(["ls", "-A", "--", path])).stdout.split()


# ---- the multipart extension and integrity ----------------------------------------------------------

async def test_multipart_upload_with_parts_and_completion(alice_token, alice, work, demo_config):
    data = os.urandom(20 * MiB + 5)
    digest = hashlib.sha256(data).hexdigest()
    task_id = started(call(alice_token, "POST", "/storage/xfer-external/upload", data={
        "sourcePath": "/local/big.bin", "targetPath": work, "size": str(len(data)), "sha256": digest}))
    task = wait_for_status(alice_token, task_id, {"111"})
    multipart = task["data"]["msg"]["multipart"]
    assert multipart["part_count"] == 3 and multipart["method"] == "PUT"
    assert task["data"]["bytes_total"] == len(data)

    listed = call(alice_token, "GET", "/storage/xfer-external/upload/parts", machine=False,
                  headers={"X-Task-Id": task_id}, params={"first": "1", "count": "10"})
    assert listed.status_code == 200, listed.text
    parts = listed.json()["parts"]
    assert [(p["part_number"], p["offset"], p["size"]) for p in parts] == [
        (1, 0, 8 * MiB), (2, 8 * MiB, 8 * MiB), (3, 16 * MiB, 4 * MiB + 5)]

    def put(part):
        response = requests.put(part["url"], data=data[part["offset"]:part["offset"] + part["size"]], timeout=60)
        assert response.status_code == 200, response.text

    put(parts[0])
    put(parts[1])
    early = call(alice_token, "POST", "/storage/xfer-external/upload/complete", machine=False,
                 headers={"X-Task-Id": task_id})
    assert early.status_code == 400 and "1 parts are missing" in early.json()["description"]
    # Each part's URL carries exactly its part's bytes: the store refuses a short or a long one.
    for wrong in (data[parts[2]["offset"]:-1000], data[parts[2]["offset"]:] + b"x"):
        assert requests.put(parts[2]["url"], data=wrong, timeout=60).status_code == 403
    refused = call(alice_token, "POST", "/storage/xfer-external/upload/complete", machine=False,
                   headers={"X-Task-Id": task_id})
    assert refused.status_code == 400 and "1 parts are missing" in refused.json()["description"]
    put(parts[2])
    done = call(alice_token, "POST", "/storage/xfer-external/upload/complete", machine=False,
                headers={"X-Task-Id": task_id})
    assert done.status_code == 200, done.text

    task = wait_for_status(alice_token, task_id, FINAL)
    assert task["status"] == "114", task["data"]
    assert task["data"]["sha256"] == digest and task["data"]["bytes_done"] == len(data)
    assert await cluster_sha256(alice, f"{work}/big.bin") == digest
    assert await listing(alice, work) == ["big.bin"]  # no temporary file left
    assert not object_exists(demo_config, parts[0]["url"])


async def test_parts_reach_the_system_while_the_client_uploads(alice_token, alice, work):
    data = os.urandom(24 * MiB + 1)
    task_id = started(call(alice_token, "POST", "/storage/xfer-external/upload", data={
        "sourcePath": "/local/piped.bin", "targetPath": work, "size": str(len(data))}))
    wait_for_status(alice_token, task_id, {"111"})
    parts = call(alice_token, "GET", "/storage/xfer-external/upload/parts", machine=False,
                 headers={"X-Task-Id": task_id}).json()["parts"]
    for part in parts:
        assert requests.put(part["url"], data=data[part["offset"]:part["offset"] + part["size"]],
                            timeout=60).status_code == 200
    # Not completed yet, and already every byte is on the system.
    def all_on_the_system():
        task = task_of(alice_token, task_id)
        assert task["status"] == "111", task
        return task["data"]["bytes_done"] == len(data)

    wait_for(all_on_the_system, 30, interval=0.2, what="every byte on the system")
    assert await listing(alice, work) != ["piped.bin"]
    for _ in range(2):  # a retried completion is answered alike
        done = call(alice_token, "POST", "/storage/xfer-external/upload/complete", machine=False,
                    headers={"X-Task-Id": task_id})
        assert done.status_code == 200, done.text
    task = wait_for_status(alice_token, task_id, FINAL)
    assert task["status"] == "114", task["data"]
    assert await cluster_sha256(alice, f"{work}/piped.bin") == hashlib.sha256(data).hexdigest()
    assert await listing(alice, work) == ["piped.bin"]


async def test_checksum_mismatch_fails_and_writes_nothing(alice_token, alice, work, tmp_path, demo_config):
    local = tmp_path / "data.bin"
    local.write_bytes(os.urandom(3 * MiB))
    task_id = started(call(alice_token, "POST", "/storage/xfer-external/upload", data={
        "sourcePath": str(local), "targetPath": f"{work}/data.bin", "sha256": "0" * 64}))
    msg = wait_for_status(alice_token, task_id, {"111"})["data"]["msg"]
    # v1's POST form for S3v4 stores: the URL of the bucket, the policy's fields, the client's file.
    assert msg["parameters"]["method"] == "POST" and msg["parameters"]["files"] == str(local)
    assert {"key", "policy", "x-amz-signature"} <= set(msg["parameters"]["data"])
    subprocess.run(shlex.split(msg["command"]), check=True, timeout=60)  # as pyfirecrest runs it
    task = wait_for_status(alice_token, task_id, FINAL)
    assert task["status"] == "115"
    assert "sha256" in task["data"]["msg"] and "nothing was written" in task["data"]["msg"]
    assert (task["data"]["source"], task["data"]["target"]) == (str(local), f"{work}/data.bin")
    assert await listing(alice, work) == []
    assert not object_exists(demo_config, f'{msg["parameters"]["url"]}/{msg["parameters"]["data"]["key"]}')


async def test_download_then_invalidate(alice_token, alice, work):
    source = f"{work}/result.dat"
    assert (await alice.run(["bash", "-c", 'head -c 5000000 /dev/urandom > "$1"', "x", source])).ok
    task_id = started(call(alice_token, "POST", "/storage/xfer-external/download", data={"sourcePath": source}))
    task = wait_for_status(alice_token, task_id, FINAL)
    assert task["status"] == "117", task["data"]
    assert task["data"]["bytes_done"] == task["data"]["bytes_total"] == 5000000
    fetched = requests.get(task["data"]["url"], timeout=60)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == await cluster_sha256(alice, source)

    invalidated = call(alice_token, "POST", "/storage/xfer-external/invalidate", machine=False,
                       headers={"X-Task-Id": task_id})
    assert invalidated.status_code == 201, invalidated.text
    assert requests.get(task["data"]["url"], timeout=30).status_code == 404


async def test_a_new_transfers_first_look_shows_what_the_client_waits_for(alice_token, alice, work):
    """v1 clients ask for the task at once and sleep a second when it is not there yet (pyfirecrest)."""
    upload = started(call(alice_token, "POST", "/storage/xfer-external/upload", data={
        "sourcePath": "/local/x", "targetPath": work, "size": str(40 * MiB)}))
    assert task_of(alice_token, upload)["status"] == "111"
    assert call(alice_token, "POST", "/storage/xfer-external/invalidate", machine=False,
                headers={"X-Task-Id": upload}).status_code == 201
    assert (await alice.run(["bash", "-c", 'head -c 100000 /dev/urandom > "$1"', "x", f"{work}/small"])).ok
    download = started(call(alice_token, "POST", "/storage/xfer-external/download", data={
        "sourcePath": f"{work}/small"}))
    task = task_of(alice_token, download)
    assert task["status"] == "117", task
    assert len(requests.get(task["data"]["url"], timeout=30).content) == 100000


async def test_invalidating_an_awaited_upload_fails_it(alice_token, alice, work, demo_config):
    task_id = started(call(alice_token, "POST", "/storage/xfer-external/upload", data={
        "sourcePath": "/local/x", "targetPath": work, "size": str(40 * MiB)}))
    wait_for_status(alice_token, task_id, {"111"})
    url = call(alice_token, "GET", "/storage/xfer-external/upload/parts", machine=False,
               headers={"X-Task-Id": task_id}).json()["parts"][0]["url"]
    assert requests.put(url, data=os.urandom(8 * MiB), timeout=60).status_code == 200
    assert call(alice_token, "POST", "/storage/xfer-external/invalidate", machine=False,
                headers={"X-Task-Id": task_id}).status_code == 201
    task = task_of(alice_token, task_id)
    assert task["status"] == "115" and task["data"]["msg"] == "invalidated by its owner"
    # No more part URLs; the part already sent is deleted, and the system stops waiting for the others.
    parts = call(alice_token, "GET", "/storage/xfer-external/upload/parts", machine=False,
                 headers={"X-Task-Id": task_id})
    assert parts.status_code == 400
    assert not object_exists(demo_config, url)
    async def fetching_stopped():
        return not await listing(alice, work) and not (await alice.run(["pgrep", "-u", "alice", "-f", "fetch-pieces"])).ok

    await async_wait_for(fetching_stopped, 15, interval=0.2, what="the system to stop fetching and remove its file")


async def test_another_users_task_is_not_found(alice_token, bob_token, work):
    task_id = started(call(alice_token, "POST", "/storage/xfer-external/upload", data={
        "sourcePath": "/local/x", "targetPath": work, "size": str(20 * MiB)}))
    wait_for_status(alice_token, task_id, {"111"})
    for method, path in (("POST", "invalidate"), ("GET", "upload/parts"), ("POST", "upload/complete")):
        response = call(bob_token, method, f"/storage/xfer-external/{path}", machine=False,
                        headers={"X-Task-Id": task_id})
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"] == "Task does not exist"
    assert call(bob_token, "GET", f"/tasks/{task_id}", machine=False).status_code == 404
    assert task_of(alice_token, task_id)["status"] == "111"
    call(alice_token, "POST", "/storage/xfer-external/invalidate", machine=False, headers={"X-Task-Id": task_id})


# ---- bad input: a clear 4xx, and nothing starts -------------------------------------------------------

@pytest.mark.parametrize("fields, header", [
    ({"sourcePath": "/l/f", "targetPath": "relative/x"}, "X-Invalid-Path"),
    ({"sourcePath": "/l/f", "targetPath": "/home/alice/../bob/x"}, "X-Invalid-Path"),
    ({"sourcePath": "/l/f", "targetPath": "/home/alice/x\ny"}, "X-Invalid-Path"),
    ({"sourcePath": "/l/f", "targetPath": "../../etc/x"}, "X-Invalid-Path"),  # relative: from the home
    ({"sourcePath": "/l/f", "targetPath": "/etc/passwd"}, "X-Invalid-Path"),
    ({"sourcePath": "/l/f", "targetPath": "/home/alice/no-such-dir-$(touch x)/f"}, "X-Invalid-Path"),
    ({"sourcePath": "/l/f"}, "X-Invalid-Path"),
    ({"targetPath": "/home/alice/x"}, None),
    ({"sourcePath": "/l/", "targetPath": "/home/alice"}, None),
    ({"sourcePath": "/l/f\n", "targetPath": "/home/alice/x"}, None),
    ({"sourcePath": "/l/f", "targetPath": "/home/alice/x", "size": "-1"}, None),
    ({"sourcePath": "/l/f", "targetPath": "/home/alice/x", "size": "1e9"}, None),
    ({"sourcePath": "/l/f", "targetPath": "/home/alice/x", "sha256": "abc"}, None),
])
def test_bad_upload_requests(alice_token, fields, header):
    before = storage_tasks(alice_token)
    response = call(alice_token, "POST", "/storage/xfer-external/upload", data=fields)
    assert response.status_code == 400, response.text
    assert response.json()["description"]
    if header:
        assert header in response.headers
    assert storage_tasks(alice_token) == before


def storage_tasks(token: str) -> set[str]:
    """Ids of the user's storage tasks (other tests, running meanwhile, make other kinds)."""
    tasks = call(token, "GET", "/tasks/", machine=False).json()["tasks"]
    return {task_id for task_id, task in tasks.items() if task["service"] == "storage"}


async def test_bad_download_requests(alice_token, alice, bob, work):
    secret = f"/home/bob/fc-staging-secret-{uuid.uuid4().hex[:8]}"
    assert (await bob.run(["bash", "-c", 'umask 077 && echo secret > "$1"', "x", secret])).ok
    try:
        cases = [(work, 400, "X-A-Directory"), (f"{work}/missing", 400, "X-Not-Found"),
                 (secret, 400, "X-Permission-Denied"), ("/home/alice/`id`/../x", 400, "X-Invalid-Path")]
        for source, status, header in cases:
            response = call(alice_token, "POST", "/storage/xfer-external/download", data={"sourcePath": source})
            assert response.status_code == status, (source, response.text)
            assert header in response.headers
    finally:
        await bob.run(["rm", "-f", "--", secret])
    assert call(alice_token, "POST", "/storage/xfer-external/download", machine=False,
                data={"sourcePath": f"{work}/x"}).status_code == 400
    assert call(alice_token, "POST", "/storage/xfer-external/invalidate", machine=False).status_code == 400
    assert call(alice_token, "POST", "/storage/xfer-external/invalidate", machine=False,
                headers={"X-Task-Id": "nope;rm"}).status_code == 404


# ---- progress in the task events stream ---------------------------------------------------------------

async def test_events_report_bytes(alice_token, alice, work):
    source = f"{work}/stream.dat"
    size = 40 * MiB  # multipart: pushed in parts, whose progress the store reports
    assert (await alice.run(["bash", "-c", f'head -c {size} /dev/urandom > "$1"', "x", source])).ok
    events: list[dict] = []
    ready = threading.Event()
    stream = requests.get(f"{API_URL}/tasks/events", headers={"Authorization": f"token {alice_token}"},
                          stream=True, timeout=60)

    def read():
        ready.set()
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                event = json.loads(line[6:])
                events.append(event)
                # Its end may come before the POST's answer has named the task: known by its source too.
                ours = event.get("task_id") == task_holder.get("id") or (
                    isinstance(event.get("data"), dict) and event["data"].get("source") == source)
                if ours and event.get("status") in FINAL:
                    return

    task_holder: dict = {}
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(5)
    task_holder["id"] = started(call(alice_token, "POST", "/storage/xfer-external/download",
                                     data={"sourcePath": source}))
    reader.join(90)
    stream.close()
    mine = [event for event in events if event.get("task_id") == task_holder["id"]]
    statuses = [event["status"] for event in mine]
    assert statuses[-1] == "117", mine[-1]
    assert "116" in statuses
    reported = [event["data"] for event in mine if isinstance(event["data"], dict) and "bytes_total" in event["data"]]
    assert all(data["bytes_total"] == size for data in reported)
    assert reported[-1]["bytes_done"] == size
    requests.post(f"{API_URL}/storage/xfer-external/invalidate", timeout=30,
                  headers={"Authorization": f"token {alice_token}", "X-Task-Id": task_holder["id"]})


# ---- the object store failing: in-process staging against a store that goes away --------------------

def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CuttableProxy:
    """A TCP proxy in front of SeaweedFS whose responses trickle at `rate` bytes/s; cut() drops it all."""

    def __init__(self, upstream_port: int, rate: int):
        self.upstream_port, self.rate = upstream_port, rate
        self.connections: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, client_reader, client_writer):
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.connections |= {client_writer, upstream_writer}

        async def pipe(reader, writer, throttled):
            try:
                while chunk := await reader.read(64 * 1024):
                    writer.write(chunk)
                    await writer.drain()
                    if throttled:
                        await asyncio.sleep(len(chunk) / self.rate)
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, upstream_writer, False), pipe(upstream_reader, client_writer, True))

    async def cut(self):
        self.server.close()
        for writer in self.connections:
            writer.transport.abort()


@pytest_asyncio.fixture
async def staging_with(demo_config, tmp_path, system):
    """staging_with(endpoint, database, **Staging settings) -> an in-process Staging on its own task database
    (or a named one, shared), using the real cluster."""
    made = []

    async def make(endpoint: str | None = None, database: str | None = None, **settings) -> Staging:
        config = copy.deepcopy(demo_config)
        config.TaskStore.db_url = f"sqlite:///{tmp_path}/{database or f'tasks-{len(made)}'}.sqlite"
        if endpoint:
            config.ObjectStore.endpoint_url = endpoint
        config.ObjectStore.connect_timeout = 2
        config.Staging.outage_grace = 2
        for name, value in settings.items():
            setattr(config.Staging, name, value)
        parent = Application(config=config)
        tasks = Tasks(parent, "/api")
        objects = ObjectStore(parent=parent)
        access = Access(parent=parent)
        staging = Staging(objects, access, tasks, parent=parent)
        await objects.open()
        await tasks.open()
        made.append((tasks, objects, access))
        return staging

    yield make
    for tasks, objects, access in made:
        await tasks.close()
        await objects.close()
        await access.close()


async def final_state(staging: Staging, user: str, task_id: str, timeout: float) -> tuple:
    """The status of the task once it has finished, and its data: the reason of a failure, or what its
    owner sees of a success (with the URLs signed)."""
    async def finished():
        task = await staging.tasks.store.get(user, task_id)
        return task if task.finished else None

    task = await async_wait_for(finished, timeout, what=f"task {task_id} to finish")
    return task.status, (await staging.tasks.present(task))["data"] if task.status in ("114", "117") else task.data


async def task_at(staging: Staging, task_id: str, status: str, timeout: float = 30):
    """Alice's task, once it is at `status` (an unfinished one)."""

    async def reached():
        task = await staging.tasks.store.get("alice", task_id)
        assert not task.finished, f"task ended at {task.status}: {task.data}"
        return task if task.status == status else None

    return await async_wait_for(reached, timeout, interval=0.05, what=f"task {task_id} at {status}")


async def upload_command(staging: Staging, task_id: str) -> str:
    """v1's curl command of alice's upload, once the task hands it out (111)."""
    task = await task_at(staging, task_id, "111")
    return (await staging.tasks.present(task))["data"]["msg"]["command"]


async def test_store_down_while_an_upload_is_awaited(staging_with, work):
    staging = await staging_with(f"http://127.0.0.1:{closed_port()}")
    task = await staging.start_upload("alice", MACHINE, "/local/f", f"{work}/f", multipart_paths=MULTIPART_PATHS)
    started_at = time.monotonic()
    status, reason = await final_state(staging, "alice", task.id, 30)
    assert status == "115"
    assert "does not answer" in reason and "the upload was given up" in reason
    assert time.monotonic() - started_at < 30


async def test_store_down_during_a_download(staging_with, alice, work):
    source = f"{work}/out.dat"
    assert (await alice.run(["bash", "-c", 'head -c 100000 /dev/urandom > "$1"', "x", source])).ok
    staging = await staging_with(f"http://127.0.0.1:{closed_port()}")
    task = await staging.start_download("alice", MACHINE, source, 100000)
    status, reason = await final_state(staging, "alice", task.id, 30)
    assert status == "118"
    assert "transfer from the system to the object store failed" in reason and "onnect" in reason


async def test_store_cut_during_the_transfer_to_the_system(staging_with, demo_config, alice, work, tmp_path):
    proxy = CuttableProxy(urlparse(ObjectStore(config=demo_config).endpoint_url).port, rate=2 * MiB)
    port = await proxy.start()
    staging = await staging_with(f"http://127.0.0.1:{port}")
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(8 * MiB))
    task = await staging.start_upload("alice", MACHINE, str(local), f"{work}/f.bin", multipart_paths=MULTIPART_PATHS)
    upload = await asyncio.create_subprocess_exec(*shlex.split(await upload_command(staging, task.id)))
    assert await upload.wait() == 0
    await task_at(staging, task.id, "113")
    await asyncio.sleep(1)  # the system is now fetching, slowly
    await proxy.cut()
    status, reason = await final_state(staging, "alice", task.id, 60)
    assert status == "115"
    assert reason.startswith("the transfer from the object store to the system failed: curl:"), reason
    assert await listing(alice, work) == []  # neither the target nor a temporary file
    # The task could not delete its object through the cut proxy; the lifecycle rule would, later.
    key = (await staging.tasks.store.get("alice", task.id)).params["key"]
    s3_client(demo_config).delete_object(Bucket=staging.objects.bucket, Key=key)


async def test_store_cut_while_the_system_awaits_parts(staging_with, demo_config, alice, work):
    proxy = CuttableProxy(urlparse(ObjectStore(config=demo_config).endpoint_url).port, rate=64 * MiB)
    staging = await staging_with(f"http://127.0.0.1:{await proxy.start()}")
    task = await staging.start_upload("alice", MACHINE, "/local/p.bin", f"{work}/p.bin", size=24 * MiB,
                                      multipart_paths=MULTIPART_PATHS)
    current = await task_at(staging, task.id, "111")
    first = (await staging.part_urls(current, 1, 1))["parts"][0]
    response = await asyncio.to_thread(requests.put, first["url"], data=os.urandom(first["size"]), timeout=60)
    assert response.status_code == 200
    await asyncio.sleep(1)  # the system took the first part and waits for the second
    await proxy.cut()
    started_at = time.monotonic()
    status, reason = await final_state(staging, "alice", task.id, 30)
    assert status == "115" and time.monotonic() - started_at < 15
    assert reason.startswith("the transfer from the object store to the system failed: curl:"), reason
    assert await listing(alice, work) == []
    s3_client(demo_config).delete_object(Bucket=staging.objects.bucket,
                                         Key=ObjectStore.part_key(current.params["key"], 1))


# ---- restarts and sweeping ----------------------------------------------------------------------------

async def test_a_transfer_job_is_picked_up_after_a_restart(staging_with, alice, work, monkeypatch):
    source = f"{work}/long.dat"
    size = 40 * MiB  # over the job threshold below: the push runs as a Slurm job, in parts
    assert (await alice.run(["bash", "-c", f'head -c {size} /dev/urandom > "$1"', "x", source])).ok
    first = await staging_with(database="restart", job_threshold=JOB_THRESHOLD)
    task = await first.start_download("alice", MACHINE, source, size)

    async def job_submitted():
        return (await first.tasks.store.get("alice", task.id)).params.get("jobid")

    await async_wait_for(job_submitted, 60, interval=0.02, what="the transfer job's submission")
    await first.tasks.runner.close()  # the service stops: its work is cancelled, its leases released

    def no_second_job(*args, **kwargs):
        raise AssertionError("the resumed task submitted another job")

    monkeypatch.setattr(TransferJob, "submit", no_second_job)
    # The next service process takes the task over.
    second = await staging_with(database="restart", job_threshold=JOB_THRESHOLD)
    status, data = await final_state(second, "alice", task.id, 90)
    assert status == "117", data
    fetched = requests.get(data["url"], timeout=60)
    assert hashlib.sha256(fetched.content).hexdigest() == await cluster_sha256(alice, source)
    # The job's log and exit-status files are gone too.
    assert not [name for name in await listing(alice, "/home/alice") if name.startswith(".firecrest-staging-")]
    await second.invalidate(await second.tasks.store.get("alice", task.id))


async def test_sweep_keeps_fresh_downloads(staging_with, alice, work):
    source = f"{work}/fresh.dat"
    assert (await alice.run(["bash", "-c", 'head -c 1000 /dev/urandom > "$1"', "x", source])).ok
    staging = await staging_with()
    task = await staging.start_download("alice", MACHINE, source, 1000)
    status, data = await final_state(staging, "alice", task.id, 30)
    assert status == "117"
    key = (await staging.tasks.store.get("alice", task.id)).params["key"]
    listed = {name: (size, age) for name, size, age in await staging.objects.listing("download/alice/")}
    assert listed[key][0] == 1000 and 0 <= listed[key][1] < 60
    await staging.sweep()
    assert key in [name for name, *_ in await staging.objects.listing("download/alice/")]
    assert requests.get(data["url"], timeout=30).status_code == 200
    await staging.invalidate(await staging.tasks.store.get("alice", task.id))


@pytest.fixture
def transfer_jobs(monkeypatch) -> list[TransferJob]:
    """The transfer jobs submitted during the test."""
    jobs = []
    submit = TransferJob.submit

    async def counted_submit(*args, **kwargs):
        jobs.append(await submit(*args, **kwargs))
        return jobs[-1]

    monkeypatch.setattr(TransferJob, "submit", counted_submit)
    return jobs


async def test_an_upload_fetched_by_a_transfer_job(staging_with, alice, work, tmp_path, transfer_jobs):
    jobs = transfer_jobs
    staging = await staging_with(job_threshold=JOB_THRESHOLD)
    local = tmp_path / "job.bin"
    data = os.urandom(40 * MiB)
    local.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    task = await staging.start_upload("alice", MACHINE, str(local), f"{work}/job.bin", sha256=digest,
                                      multipart_paths=MULTIPART_PATHS)
    upload = await asyncio.create_subprocess_exec(*shlex.split(await upload_command(staging, task.id)))
    assert await upload.wait() == 0
    status, data = await final_state(staging, "alice", task.id, 90)
    assert status == "114", data
    assert data["sha256"] == digest == await cluster_sha256(alice, f"{work}/job.bin")
    assert len(jobs) == 1 and jobs[0].session.system.transfer_partition == "xfer"
    assert await listing(alice, work) == ["job.bin"]
    assert not [name for name in await listing(alice, "/home/alice") if name.startswith(".firecrest-staging-")]


async def test_an_upload_in_parts_fetched_by_a_transfer_job(staging_with, alice, work, transfer_jobs):
    """The job starts while the client uploads, takes each part as it comes, and ends once all are in."""
    staging = await staging_with(job_threshold=JOB_THRESHOLD)
    data = os.urandom(40 * MiB)
    digest = hashlib.sha256(data).hexdigest()
    task = await staging.start_upload("alice", MACHINE, "/local/parts.bin", f"{work}/parts.bin", size=len(data),
                                      sha256=digest, multipart_paths=MULTIPART_PATHS)
    current = await task_at(staging, task.id, "111")
    # The job is submitted before any part is uploaded.
    await async_wait_for(lambda: transfer_jobs, 60, interval=0.05, what="the transfer job's submission")
    for part in (await staging.part_urls(current, 1, 100))["parts"]:
        chunk = data[part["offset"]:part["offset"] + part["size"]]
        response = await asyncio.to_thread(requests.put, part["url"], data=chunk, timeout=60)
        assert response.status_code == 200
    await staging.complete_upload(await staging.tasks.store.get("alice", task.id))
    status, result = await final_state(staging, "alice", task.id, 90)
    assert status == "114", result
    assert result["sha256"] == digest == await cluster_sha256(alice, f"{work}/parts.bin")
    assert len(transfer_jobs) == 1
    assert await listing(alice, work) == ["parts.bin"]
    assert not [name for name in await listing(alice, "/home/alice") if name.startswith(".firecrest-staging-")]
    assert not await staging.objects.listing(ObjectStore.folder(current.params["key"]))
