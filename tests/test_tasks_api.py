"""The tasks endpoints through the real hub proxy, with real hub tokens.

The test plays a second replica: it writes tasks into the running service's own task database (found from
`jupyterhub_config.py`, as the service finds it), with the store's code, and reads them back over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import create_engine, delete
from sqlalchemy.engine import make_url
from traitlets.config.loader import PyFileConfigLoader

from firecrest.FirecrestException import FirecrestException
from firecrest_hub.tasks import TaskStore, codes
from firecrest_hub.tasks.model import TaskRow, utcnow
from firecrest_hub.tasks.runner import RESTART_REASON

from conftest import API_URL, ROOT, async_wait_for

pytestmark = pytest.mark.cluster

REPLICA = "tests-replica"
FAR = timedelta(days=1)


def service_db_url() -> str:
    """The task database URL of the running service: its config, relative SQLite paths from its cwd."""
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(ROOT)).load_config()
    url = make_url(TaskStore(config=config).db_url)
    if url.get_backend_name() == "sqlite" and url.database and not url.database.startswith("/"):
        url = url.set(database=str(ROOT / url.database))
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def replica(demo_dir):
    """A store on the service's database; the tasks written through it are deleted afterwards."""
    store = TaskStore("/services/firecrest/api/v1", db_url=service_db_url())
    await store.open()
    written: list[str] = []

    async def add(user: str, status: str = codes.IN_PROGRESS, *, data=None, lease=FAR, runner=REPLICA,
                  kind="tests"):
        task = await store.create(user=user, service="compute", system="cluster", kind=kind, params={},
                                  deadline=utcnow() + FAR, runner=runner, lease_until=utcnow() + lease)
        written.append(task.id)
        if status != codes.QUEUED:
            task = await store.update(task.id, runner, status=status, data=data)
        return task

    store.add = add
    yield store
    engine = create_engine(store.db_url)
    with engine.begin() as connection:
        connection.execute(delete(TaskRow).where(TaskRow.id.in_(written)))
    engine.dispose()
    await store.close()


def get(path: str, token: str | None, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{API_URL}{path}", headers={**headers, **kwargs.pop("headers", {})}, timeout=10, **kwargs)


def in_thread(function, *args, **kwargs):
    return asyncio.to_thread(function, *args, **kwargs)


async def test_tasks_need_a_token():
    response = await in_thread(get, "/tasks", None)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert "token" in response.json()["description"]


async def test_listing_and_reading_tasks_in_v1_shape(replica, alice_token):
    running = await replica.add("alice")
    finished = await replica.add("alice", codes.FINISHED, data={"result": "Job submitted", "jobid": "12"})
    response = await in_thread(get, "/tasks", alice_token)
    assert response.status_code == 200
    tasks = response.json()["tasks"]
    assert {running.id, finished.id} <= set(tasks)
    body = tasks[finished.id]
    assert body["task_id"] == body["hash_id"] == finished.id
    assert (body["user"], body["service"], body["system"]) == ("alice", "compute", "cluster")
    assert (body["status"], body["description"], body["data"]) == ("200", "Finished successfully",
                                                                   {"result": "Job submitted", "jobid": "12"})
    assert body["task_url"] == f"/services/firecrest/api/v1/tasks/{finished.id}"
    assert tasks[running.id]["status"] == "101"

    one = await in_thread(get, f"/tasks/{running.id}", alice_token)
    assert one.status_code == 200 and one.json() == {"task": tasks[running.id]}

    chosen = await in_thread(get, "/tasks", alice_token, params={"tasks": f"{finished.id},{'0' * 32}"})
    assert list(chosen.json()["tasks"]) == [finished.id]


async def test_another_users_task_is_exactly_like_a_missing_one(replica, alice_token, bob_token):
    secret = await replica.add("alice", codes.FINISHED, data={"jobid": "99"})
    theirs = await in_thread(get, f"/tasks/{secret.id}", bob_token)
    missing = await in_thread(get, f"/tasks/{'0' * 32}", bob_token)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.headers["Content-Type"].startswith("application/json")
    assert theirs.json()["description"].replace(secret.id, "ID") == missing.json()["description"].replace("0" * 32, "ID")
    assert "jobid" not in theirs.text and "alice" not in theirs.text
    listing = await in_thread(get, "/tasks", bob_token, params={"tasks": secret.id})
    assert listing.status_code == 200 and listing.json() == {"tasks": {}}
    assert secret.id not in (await in_thread(get, "/tasks", bob_token)).json()["tasks"]


@pytest.mark.parametrize("bad", ["a'b", "$(id)", "`id`", "x;y", "../etc", "a\nb", "-rf", "x" * 65])
async def test_bad_task_ids_in_a_listing_are_a_400(alice_token, bad):
    response = await in_thread(get, "/tasks", alice_token, params={"tasks": bad})
    assert response.status_code == 400
    assert response.json()["error"] == "Failed to retrieve tasks information"


async def test_pyfirecrest_reads_tasks_and_raises_for_failed_ones(replica, client):
    done = await replica.add("alice", codes.FINISHED, data={"jobid": "5"})
    failed = await replica.add("alice", codes.FAILED, data="sbatch: error: invalid partition")
    assert (await in_thread(client._task_safe, done.id))["data"] == {"jobid": "5"}
    with pytest.raises(FirecrestException, match="invalid partition"):
        await in_thread(client._task_safe, failed.id)


async def test_an_orphaned_task_is_failed_by_the_running_service(replica, alice_token):
    orphan = await replica.add("alice", kind="tests-without-resume", runner="a-replica-that-died",
                               lease=-timedelta(seconds=1))
    async def failed():
        task = (await in_thread(get, f"/tasks/{orphan.id}", alice_token)).json()["task"]
        return task if task["status"] != "101" else None

    # The service checks every third of its lease (30 s by default).
    body = await async_wait_for(failed, 40, interval=0.5, what="the orphan to be failed")
    assert (body["status"], body["data"]) == ("400", RESTART_REASON)


class EventReader:
    """Reads Server-Sent Events from a streaming response, with a deadline."""

    def __init__(self, response: requests.Response):
        self.lines = response.iter_lines(decode_unicode=True)

    def until(self, predicate, timeout: float) -> list[dict]:
        events, fields, ends = [], {}, time.monotonic() + timeout
        while time.monotonic() < ends:
            line = next(self.lines)
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
                continue
            if "data" in fields:
                events.append({**fields, "data": json.loads(fields["data"])})
                if predicate(events[-1]):
                    return events
            fields = {}
        raise AssertionError(f"no matching event within {timeout} s; got {events}")


def open_stream(token: str, last_event_id: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    return requests.get(f"{API_URL}/tasks/events", headers=headers, stream=True, timeout=(5, 30))


def task_event(task_id: str):
    """Matches the stream's event about that task (job events, of the caller's own jobs, come in between)."""
    return lambda event: event["event"] == "task" and event["data"]["task_id"] == task_id


def assert_only_alices(events: list[dict]) -> None:
    """Every event is alice's: her tasks, and the job events of her own jobs (other tests, a notebook of hers
    may have jobs running meanwhile), never anything of bob's."""
    assert {event["event"] for event in events} <= {"task", "job"}, events
    assert all(event["data"]["user"] == "alice" for event in events), events


async def test_event_stream_carries_only_the_callers_tasks(replica, alice_token, bob_token):
    mine = await replica.add("alice")
    theirs = await replica.add("bob")
    response = await in_thread(open_stream, alice_token)
    try:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        reader = EventReader(response)
        first = await in_thread(reader.until, task_event(mine.id), 10)
        assert_only_alices(first)
        assert theirs.id not in {e["data"].get("task_id") for e in first}

        # Another replica finishes the task: the stream passes it on, read from the shared store.
        await replica.update(mine.id, REPLICA, status=codes.FINISHED, data={"jobid": "3"})
        await replica.update(theirs.id, REPLICA, status=codes.FINISHED, data={"jobid": "4"})
        later = await in_thread(reader.until, task_event(mine.id), 20)
        assert later[-1]["data"]["status"] == "200"
        assert_only_alices(later)
        resume_from = first[-1]["id"]  # the event about mine
    finally:
        response.close()

    # Reconnecting with Last-Event-ID replays what changed meanwhile, finished tasks included.
    again = await in_thread(open_stream, alice_token, resume_from)
    try:
        replay = await in_thread(EventReader(again).until, task_event(mine.id), 10)
        assert replay[-1]["data"]["status"] == "200"
    finally:
        again.close()


async def test_event_stream_rejects_a_forged_last_event_id(alice_token):
    response = await in_thread(open_stream, alice_token, "1; DROP TABLE")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
