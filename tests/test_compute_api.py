"""The v1 compute endpoints through the real hub proxy, with real hub tokens, against the real Slurm.

Every endpoint: its status code, v1's task creation answer and the task's result, checked against the
cluster (the job's output read back, the job's state in the queue). Every parameter: hostile values get
a 4xx JSON error, with no task and nothing run (the values would create a marker file if any shell read
them). Isolation: bob neither sees nor cancels alice's jobs, nor reads her tasks. Job state changes reach
the owner's event stream.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import urllib.parse
import uuid

import pytest
import requests

from compute_support import (
    ENDED, HELD, MACHINE, call, cancel_quietly, created, exists, finished_task, job_state, read, result, submit,
)
from conftest import API_URL, async_wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture
async def work(alice):
    """A fresh directory of alice's, removed afterwards."""
    path = f"/home/alice/fc-compute-{uuid.uuid4().hex[:10]}"
    assert (await alice.run(["mkdir", "--", path])).ok
    yield path
    await alice.run(["rm", "-rf", "--", path])


@pytest.fixture
async def held_job(alice_token, alice):
    """A job of alice's that waits (it may not start for an hour); cancelled afterwards."""
    submitted = await submit(alice_token, HELD, name="held.sh")
    yield str(submitted["jobid"])
    await cancel_quietly(alice, submitted["jobid"])


# ---- submissions ------------------------------------------------------------------------------------

async def test_upload_submits_from_a_directory_of_its_own(alice_token, alice):
    script = '#!/bin/bash\necho "hello $GREETING"\npwd\n'
    submitted = await submit(alice_token, script, env=json.dumps({"GREETING": "$(world)", "N": 3}))
    assert set(submitted) == {"result", "jobid", "job_file", "job_file_out", "job_file_err", "job_data_out",
                              "job_data_err"}
    assert submitted["result"] == "Job submitted" and isinstance(submitted["jobid"], int)
    directory = submitted["job_file"].rsplit("/", 1)[0]
    assert submitted["job_file"].startswith("/home/alice/firecrest/") and submitted["job_file"].endswith("/script.sh")
    assert submitted["job_file_out"] == f"{directory}/slurm-{submitted['jobid']}.out"
    assert (await alice.run(["stat", "--format=%a %U", "--", directory])).stdout.split() == ["700", "alice"]
    job = await job_state(alice_token, submitted["jobid"])
    assert job["state"] == "COMPLETED"
    # The environment arrives as literal text, and the job ran in the script's directory.
    assert await read(alice, submitted["job_file_out"]) == f"hello $(world)\n{directory}\n"


async def test_path_submits_a_script_on_the_system(alice_token, alice, work):
    script = f"{work}/run.sh"
    await alice.run(["bash", "-c", 'printf "#!/bin/bash\\n#SBATCH --output=out-%%j.txt\\npwd\\n" > "$1"', "x", script])
    submitted = await result(call("POST", "compute/jobs/path", alice_token, data={"targetPath": script}), alice_token,
                             201)
    jobid = submitted["jobid"]
    assert submitted["job_file"] == script and submitted["job_file_out"] == f"{work}/out-{jobid}.txt"
    await job_state(alice_token, jobid)
    assert await read(alice, f"{work}/out-{jobid}.txt") == f"{work}\n"


async def test_a_submission_has_its_job_when_the_client_first_asks(alice_token, alice):
    """Clients ask for the task right after the POST and then sleep (pyfirecrest 1 s): the POST answers
    once the job is submitted, so that first ask already finds the job id and its files, and a listing
    right after shows the job."""
    task_id = created(call("POST", "compute/jobs/upload", alice_token,
                           files={"file": ("first.sh", HELD.encode())}), 201)
    task = call("GET", f"tasks/{task_id}", alice_token, machine=None).json()["task"]
    try:
        assert task["status"] == "200", task
        assert task["data"]["job_file_out"].endswith(f"/slurm-{task['data']['jobid']}.out")
        listed = await result(call("GET", "compute/jobs", alice_token, params={"jobs": task["data"]["jobid"]}),
                              alice_token)
        assert [job["jobid"] for job in listed.values()] == [str(task["data"]["jobid"])]
    finally:
        if task["status"] == "200":
            await cancel_quietly(alice, task["data"]["jobid"])


async def test_submission_refused_by_slurm_fails_the_task(alice_token):
    response = call("POST", "compute/jobs/upload", alice_token,
                    files={"file": ("bad.sh", b"#!/bin/bash\n#SBATCH --partition=nosuchpartition\ntrue\n")})
    error = await result(response, alice_token, 201, expect="400")
    assert "invalid partition" in error.lower()
    response = call("POST", "compute/jobs/upload", alice_token, files={"file": ("a.sh", b"#!/bin/bash\ntrue\n")},
                    data={"account": "nosuchaccount"})
    assert "account" in (await result(response, alice_token, 201, expect="400")).lower()


# ---- queue, single job, cancellation, accounting ------------------------------------------------------

async def test_jobs_listing_shows_v1_fields_and_pages(alice_token, alice):
    submitted = await asyncio.gather(*(submit(alice_token, HELD, name=f"held{i}.sh") for i in range(3)))
    jobids = sorted(str(job["jobid"]) for job in submitted)
    try:
        listing = await result(call("GET", "compute/jobs", alice_token, params={"jobs": ",".join(jobids)}),
                               alice_token)
        assert sorted(listing) == ["0", "1", "2"]
        assert sorted(job["jobid"] for job in listing.values()) == jobids
        job = listing["0"]
        assert set(job) == {"jobid", "partition", "name", "user", "state", "start_time", "time", "time_left",
                            "nodes", "nodelist", "job_file", "job_file_out", "job_file_err", "job_data_out",
                            "job_data_err"}
        assert (job["user"], job["state"], job["partition"], job["nodelist"]) == ("alice", "PENDING", "debug",
                                                                                  "(BeginTime)")
        pages = [await result(call("GET", "compute/jobs", alice_token,
                                   params={"jobs": ",".join(jobids), "pageSize": "2", "pageNumber": number}),
                              alice_token) for number in ("0", "1")]
        assert [len(page) for page in pages] == [2, 1]
        assert sorted(job["jobid"] for page in pages for job in page.values()) == jobids
        error = await result(call("GET", "compute/jobs", alice_token,
                                  params={"jobs": ",".join(jobids), "pageSize": "2", "pageNumber": "2"}),
                             alice_token, expect="400")
        assert error == "pageNumber (2) is greater than total pages (2)"
        everything = await result(call("GET", "compute/jobs", alice_token), alice_token)
        assert set(jobids) <= {job["jobid"] for job in everything.values()}
        assert {job["user"] for job in everything.values()} == {"alice"}
    finally:
        await cancel_quietly(alice, *jobids)


async def test_one_job_with_its_output(alice_token, alice):
    submitted = await submit(alice_token, "#!/bin/bash\necho out\necho err >&2\nsleep 120\n", name="both.sh")
    jobid = submitted["jobid"]
    try:
        async def shown_with_output():  # while the job runs: v1 shows active jobs only
            job = await result(call("GET", f"compute/jobs/{jobid}", alice_token), alice_token)
            return job if job["0"]["job_data_out"] else None

        job = await async_wait_for(shown_with_output, 30, interval=0.5, what=f"job {jobid} to show its output")
        assert list(job) == ["0"]
        # The state comes from the shared queue snapshot (up to one interval old), the output from the file.
        assert job["0"]["jobid"] == str(jobid) and job["0"]["state"] in ("PENDING", "RUNNING")
        assert job["0"]["job_data_out"] == "out\nerr\n" == job["0"]["job_data_err"]
    finally:
        await cancel_quietly(alice, jobid)


async def test_cancel(alice_token, held_job):
    data = await result(call("DELETE", f"compute/jobs/{held_job}", alice_token), alice_token)
    assert held_job in data
    assert (await job_state(alice_token, held_job))["state"] == "CANCELLED"


async def test_accounting(alice_token):
    submitted = await submit(alice_token, "#!/bin/bash\nexit 3\n", name="fails.sh")
    jobid = str(submitted["jobid"])
    assert (await job_state(alice_token, jobid))["state"] == "FAILED"

    async def accounted():  # slurmdbd learns the end a little after slurmctld
        records = await result(call("GET", "compute/acct", alice_token, params={"jobs": jobid}), alice_token)
        return records[0] if records and records[0]["state"] == "FAILED" else None

    record = await async_wait_for(accounted, 30, interval=0.5, what=f"sacct to report job {jobid} failed")
    assert (record["jobid"], record["user"], record["name"], record["exit_code"]) == (jobid, "alice", "fails.sh",
                                                                                       "3:0")
    assert {"start_time", "time", "time_left", "nodes", "nodelist", "partition"} <= set(record)
    # A window that only the last minutes' jobs fall in: a busy hour has more than a page of them.
    recent = await result(call("GET", "compute/acct", alice_token,
                               params={"starttime": "now-10minutes", "endtime": "now", "pageSize": "1000",
                                       "pageNumber": "0"}), alice_token)
    assert jobid in {record["jobid"] for record in recent}
    # v1 answered "no jobs" with an empty object, which pyfirecrest expects.
    assert await result(call("GET", "compute/acct", alice_token, params={"jobs": "999999999"}), alice_token) == {}


async def test_nodes_partitions_reservations(alice_token):
    nodes = await result(call("GET", "compute/nodes", alice_token), alice_token)
    assert nodes == [{"NodeName": "localhost", "ActiveFeatures": [], "Partitions": ["debug", "xfer"],
                      "State": nodes[0]["State"]}]
    assert nodes[0]["State"][0] in {"IDLE", "MIXED", "ALLOCATED"}  # changes as jobs start and end
    for named in (call("GET", "compute/nodes/localhost", alice_token),
                  call("GET", "compute/nodes", alice_token, params={"nodes": "localhost"})):
        assert [node["NodeName"] for node in await result(named, alice_token)] == ["localhost"]
    error = await result(call("GET", "compute/nodes/nosuchnode", alice_token), alice_token, expect="400")
    assert "nosuchnode" in error
    partitions = await result(call("GET", "compute/partitions", alice_token), alice_token)
    assert partitions == [
        {"PartitionName": "debug", "State": "UP", "TotalCPUs": "64", "TotalNodes": "1", "Default": "YES"},
        {"PartitionName": "xfer", "State": "UP", "TotalCPUs": "64", "TotalNodes": "1", "Default": "NO"},
    ]
    only = await result(call("GET", "compute/partitions", alice_token, params={"partitions": "xfer,nosuch"}),
                        alice_token)
    assert [partition["PartitionName"] for partition in only] == ["xfer"]
    assert await result(call("GET", "compute/reservations", alice_token), alice_token) == []


# ---- isolation ----------------------------------------------------------------------------------------

async def test_bob_neither_sees_nor_cancels_alices_jobs_nor_reads_her_tasks(alice_token, bob_token, held_job):
    listing_task = created(call("GET", "compute/jobs", alice_token))
    error = await result(call("GET", f"compute/jobs/{held_job}", bob_token), bob_token, expect="400")
    assert held_job in error and "not in the queue" in error
    assert await result(call("GET", "compute/jobs", bob_token, params={"jobs": held_job}), bob_token) == {}
    everything = await result(call("GET", "compute/jobs", bob_token), bob_token)
    assert held_job not in {job["jobid"] for job in everything.values()}
    error = await result(call("DELETE", f"compute/jobs/{held_job}", bob_token), bob_token, expect="400")
    assert "another user" in error
    assert (await job_state(alice_token, held_job, states={"PENDING"}))["state"] == "PENDING"
    assert await result(call("GET", "compute/acct", bob_token, params={"jobs": held_job}), bob_token) == {}
    response = call("GET", f"tasks/{listing_task}", bob_token, machine=None)
    assert response.status_code == 404 and "error" in response.json()
    await finished_task(alice_token, listing_task)


# ---- hostile input: a 4xx JSON error, no task, nothing run -------------------------------------------

HOSTILE_QUERIES = [
    ("GET", "compute/jobs", "jobs", "1;touch {marker}"),
    ("GET", "compute/jobs", "jobs", "$(touch {marker})"),
    ("GET", "compute/jobs", "jobs", "1,,2"),
    ("GET", "compute/jobs", "jobs", "-1"),
    ("GET", "compute/jobs", "jobs", "1\x002"),
    ("GET", "compute/jobs", "pageSize", "1;touch {marker}"),
    ("GET", "compute/jobs", "pageSize", "0"),
    ("GET", "compute/jobs", "pageNumber", "-1"),
    ("GET", "compute/acct", "jobs", "`touch {marker}`"),
    ("GET", "compute/acct", "starttime", "$(touch {marker})"),
    ("GET", "compute/acct", "endtime", "now;touch {marker}"),
    ("GET", "compute/acct", "starttime", "2024-01-01\ntouch"),
    ("GET", "compute/acct", "pageNumber", "x"),
    ("GET", "compute/nodes", "nodes", "localhost;touch {marker}"),
    ("GET", "compute/nodes", "nodes", "$(touch {marker})"),
    ("GET", "compute/partitions", "partitions", "debug,x y"),
    ("GET", "compute/partitions", "partitions", "-debug"),
    ("GET", "compute/reservations", "reservations", "`touch {marker}`"),
    ("POST", "compute/jobs/path", "targetPath", "$(touch {marker})"),
    ("POST", "compute/jobs/path", "targetPath", "{work}/run.sh\ntouch {marker}"),
    ("POST", "compute/jobs/path", "targetPath", "{work}/../run.sh"),
    ("POST", "compute/jobs/path", "targetPath", "{work}/run\x00.sh"),
    ("POST", "compute/jobs/path", "targetPath", "/etc/passwd"),
    ("POST", "compute/jobs/path", "targetPath", "-rf"),
    ("POST", "compute/jobs/path", "targetPath", "{work}/missing.sh"),
    ("POST", "compute/jobs/path", "targetPath", "{work}"),
    ("POST", "compute/jobs/path", "account", "x;touch {marker}"),
    ("POST", "compute/jobs/path", "account", "-A"),
    ("POST", "compute/jobs/path", "env", '{{"A": "$(touch {marker})", "B C": "1"}}'),
    ("POST", "compute/jobs/path", "env", "not json $(touch {marker})"),
    ("POST", "compute/jobs/path", "env", '["A"]'),
    ("POST", "compute/jobs/path", "env", '{{"A": null}}'),
    ("POST", "compute/jobs/path", "env", '{{"A": "x\\u0000y"}}'),
]


async def assert_refused(response: requests.Response, alice, work: str) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["description"] and "task_id" not in body
    await asyncio.sleep(0.2)  # anything a shell had started would have run by now
    assert not await exists(alice, f"{work}/MARKER")


@pytest.mark.parametrize("method, endpoint, name, hostile", HOSTILE_QUERIES)
async def test_hostile_parameters_are_refused(alice_token, alice, work, method, endpoint, name, hostile):
    script = f"{work}/run.sh"
    await alice.run(["bash", "-c", 'printf "#!/bin/bash\\ntouch %s\\n" "$2" > "$1"', "x", script, f"{work}/RAN"])
    values = {"targetPath": script} if endpoint == "compute/jobs/path" else {}
    values[name] = hostile.format(work=work, marker=f"{work}/MARKER")
    where = "params" if method == "GET" else "data"
    await assert_refused(call(method, endpoint, alice_token, **{where: values}), alice, work)
    assert not await exists(alice, f"{work}/RAN")


@pytest.mark.parametrize("jobid", ["abc", "1;touch x", "-1", "$(touch x)", "1 2", "１２"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_hostile_job_ids_are_refused(alice_token, alice, work, method, jobid):
    response = call(method, f"compute/jobs/{requests.utils.quote(jobid, safe='')}", alice_token)
    await assert_refused(response, alice, work)
    assert "job id" in response.json()["description"]


@pytest.mark.parametrize("file_name, content, data", [
    ("../x.sh", b"#!/bin/bash\ntrue\n", {}),
    ("..", b"#!/bin/bash\ntrue\n", {}),
    ("", b"#!/bin/bash\ntrue\n", {}),
    ("ok.sh", b"", {}),
    ("ok.sh", b"  \n", {}),
    ("ok.sh", b"\xff\xfe#!", {}),
    ("ok.sh", b"#!/bin/bash\ntrue\n", {"account": "$(touch {marker})"}),
    ("ok.sh", b"#!/bin/bash\ntrue\n", {"env": "{{\"$(touch {marker})\": \"1\"}}"}),
])
async def test_hostile_uploads_are_refused(alice_token, alice, work, file_name, content, data):
    listing_before = (await alice.run(["ls", "-A", "/home/alice/firecrest"])).stdout
    data = {key: value.format(marker=f"{work}/MARKER") for key, value in data.items()}
    response = call("POST", "compute/jobs/upload", alice_token, files={"file": (file_name, content)}, data=data)
    await assert_refused(response, alice, work)
    assert (await alice.run(["ls", "-A", "/home/alice/firecrest"])).stdout == listing_before


async def test_upload_without_a_file_or_too_large(alice_token, alice, work):
    await assert_refused(call("POST", "compute/jobs/upload", alice_token, data={"account": "x"}), alice, work)
    for size in (5 * 1024 * 1024 + 1, 8 * 1024 * 1024):  # just over the limit, and over the body's cap
        response = call("POST", "compute/jobs/upload", alice_token, files={"file": ("big.sh", b"#" * size)})
        assert response.status_code == 413, response.text
        assert "larger" in response.json()["description"]


@pytest.mark.parametrize("endpoint", ["compute/jobs", "compute/acct", "compute/nodes", "compute/partitions"])
async def test_missing_or_hostile_machine_names(alice_token, alice, work, endpoint):
    for machine in (f"cluster$(touch {work}/MARKER)", "nosuchsystem", None):
        response = call("GET", endpoint, alice_token, machine=machine)
        assert response.status_code == 400 and "X-Machine-Does-Not-Exist" in response.headers, response.text
    await assert_refused(response, alice, work)


async def test_without_a_token():
    response = requests.get(f"{API_URL}/compute/jobs", headers={"X-Machine-Name": MACHINE}, timeout=10)
    assert response.status_code == 401 and response.json()["description"]


# ---- job state events ---------------------------------------------------------------------------------

class EventListener:
    """Reads a user's `GET /tasks/events` stream in a thread and keeps its `job` events."""

    def __init__(self, token: str):
        self.jobs: list[dict] = []
        url = urllib.parse.urlsplit(f"{API_URL}/tasks/events")
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        self.connection.request("GET", url.path, headers={"Authorization": f"Bearer {token}"})
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.read()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        event = None
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "job":
                    self.jobs.append(json.loads(line.removeprefix("data: ")))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # the test shut the connection down under the reader

    def close(self):
        # Shut the socket down under the reader, so that the service sees the stream end now.
        self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        self.thread.join(10)


async def test_job_state_changes_reach_the_owners_event_stream(alice_token, bob_token):
    alice_events, bob_events = EventListener(alice_token), EventListener(bob_token)
    try:
        # Both streams are open: the service subscribed each before it answered with the stream's headers.
        submitted = await submit(alice_token, "#!/bin/bash\nsleep 2\n", name="watched.sh")
        jobid = str(submitted["jobid"])
        await job_state(alice_token, jobid)  # reading the queue is what drives the events

        def seen_ended():
            seen = [event for event in alice_events.jobs if event["jobid"] == jobid]
            return seen if not ENDED.isdisjoint(event["state"] for event in seen) else None

        seen = await async_wait_for(seen_ended, 10, interval=0.2, what=f"the end of job {jobid} on alice's stream")
        assert seen and seen[-1]["state"] == "COMPLETED" and seen[-1]["system"] == MACHINE
        assert seen[0]["user"] == "alice" and "previous_state" in seen[0]
        assert all(event["jobid"] != jobid for event in bob_events.jobs)
    finally:
        alice_events.close()
        bob_events.close()
