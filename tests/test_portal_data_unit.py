"""The portal's read endpoints (portal/api/...) without the cluster: replayed Slurm output, the stand-in hub.
What each returns, that every argument is checked before anything runs, that a user sees only their own
jobs, and that failures are JSON errors with the REST API's status codes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from firecrest_hub.compute import slurm_commands
from firecrest_hub.errors import ClusterUnreachable
from handler_support import FakeSFTP
from test_portal_pages_unit import page

DELIMITER = "|d3l1m|"
# squeue -O's fields in ReadQueue.FIELDS order: jobid state reason user account partition nodes nodelist
# submit start time limit left workdir command stdout stderr name.
QUEUED = {
    "alice": ["301", "RUNNING", "None", "alice", "demo", "debug", "1", "localhost", "2027-01-05T10:00:00",
              "2027-01-05T10:00:01", "0:05", "5:00", "4:55", "/home/alice/firecrest/x", "(null)",
              "/home/alice/firecrest/x/slurm-%j.out", "/home/alice/firecrest/x/slurm-%j.out",
              "<img src=x onerror=alert(1)>"],
    "bob": ["302", "RUNNING", "None", "bob", "demo", "debug", "1", "localhost", "2027-01-05T10:00:00",
            "2027-01-05T10:00:01", "0:05", "5:00", "4:55", "/home/bob", "/home/bob/secret.sh",
            "/home/bob/slurm-302.out", "/home/bob/slurm-302.out", "bob's secret run"],
}
# sacct's fields in ReadAccounting.FIELDS order: jobid state user account partition exit submit start end
# elapsed timelimit nnodes nodelist workdir name.
ENDED = ["290", "COMPLETED", "alice", "demo", "debug", "0:0", "2027-01-04T09:00:00", "2027-01-04T09:00:01",
         "2027-01-04T09:00:03", "00:00:02", "00:30:00", "1", "localhost", "/home/alice/run", "hello"]
PARTITIONS = (
    "PartitionName=debug Default=YES DefaultTime=00:30:00 MaxNodes=UNLIMITED MaxTime=02:00:00 "
    "MaxCPUsPerNode=UNLIMITED Nodes=localhost State=UP TotalCPUs=64 TotalNodes=1 MaxMemPerNode=UNLIMITED\n"
    "PartitionName=xfer Default=NO DefaultTime=01:00:00 MaxNodes=UNLIMITED MaxTime=1-00:00:00 "
    "MaxCPUsPerNode=UNLIMITED Nodes=localhost State=UP TotalCPUs=64 TotalNodes=1 MaxMemPerNode=UNLIMITED\n"
)
NODES = ("NodeName=localhost Arch=x86_64 CPUAlloc=16 CPUTot=64 RealMemory=32000 State=MIXED "
         "Partitions=debug,xfer ActiveFeatures=(null) Reason=(null)\n")


@pytest.fixture(autouse=True)
def fixed_delimiter(monkeypatch):
    monkeypatch.setattr(slurm_commands, "random_delimiter", lambda: DELIMITER)


def queue(api, *users: str) -> None:
    api.replay.answer(["squeue", "--all", "*"], stdout="".join(DELIMITER.join(QUEUED[user]) + "\n" for user in users))


def accounting(api, *records: list[str]) -> None:
    api.replay.answer(["sacct"], stdout="".join(DELIMITER.join(record) + "\n" for record in records))


async def read(api, path: str, token: str = "alice-token"):
    response = await page(api, f"portal/api/{path}", token=token)
    assert response.headers["Content-Type"].startswith("application/json"), response.body[:200]
    return response.code, json.loads(response.body)


async def test_an_active_job_comes_from_the_queue_with_its_files(api):
    queue(api, "alice", "bob")
    code, body = await read(api, "job?system=cluster&jobid=301")
    assert code == 200, body
    job = body["job"]
    assert (job["jobid"], job["state"], job["active"], job["name"]) == ("301", "RUNNING", True,
                                                                       "<img src=x onerror=alert(1)>")
    assert job["job_file_out"] == "/home/alice/firecrest/x/slurm-301.out" and job["account"] == "demo"


async def test_another_users_job_is_no_job_at_all(api):
    queue(api, "alice", "bob")
    accounting(api)  # sacct --user=alice knows no job 302
    code, body = await read(api, "job?system=cluster&jobid=302")
    assert code == 404 and "no job 302" in body["description"]
    assert "secret" not in json.dumps(body)
    assert ["sacct"] == [argv[0] for argv in api.replay.ran_as("alice") if argv[0] == "sacct"]
    assert any(word == "--user=alice" for argv in api.replay.ran_as("alice") for word in argv)
    code, body = await read(api, "job/output?system=cluster&jobid=302")
    assert code == 404 and "secret" not in json.dumps(body)


async def test_an_ended_job_comes_from_the_accounting_with_slurms_default_output_file(api):
    queue(api)
    accounting(api, ENDED)
    code, body = await read(api, "job?system=cluster&jobid=290")
    assert code == 200, body
    job = body["job"]
    assert (job["state"], job["exit_code"], job["active"], job["end_time"]) == (
        "COMPLETED", "0:0", False, "2027-01-04T09:00:03")
    assert job["job_file_out"] == "/home/alice/run/slurm-290.out"


async def test_an_ended_job_shows_the_output_files_its_submission_recorded(api):
    store = api.service.tasks.store
    deadline = datetime.now(timezone.utc) + timedelta(hours=1)
    for user, jobid, out in (("alice", 290, "/home/alice/run/out-290.txt"), ("alice", 2900, "/elsewhere"),
                             ("bob", 290, "/home/bob/out")):
        task = await store.create(user=user, service="compute", system="cluster", kind="submit", params={},
                                  deadline=deadline, runner="r", lease_until=deadline)
        await store.update(task.id, "r", status="200", data={"jobid": jobid, "job_file_out": out, "job_file_err": out})
    queue(api)
    accounting(api, ENDED)
    code, body = await read(api, "job?system=cluster&jobid=290")
    assert code == 200, body
    assert body["job"]["job_file_out"] == body["job"]["job_file_err"] == "/home/alice/run/out-290.txt"


class _Opened:
    """What asyncssh's open() returns: awaitable, and an async context manager (FakeSFTP's is awaitable only)."""

    def __init__(self, opening):
        self.opening = opening

    def __await__(self):
        return self.opening.__await__()

    async def __aenter__(self):
        self.file = await self.opening
        return self.file

    async def __aexit__(self, *exc):
        await self.file.close()


async def test_the_output_tail_is_read_as_the_user(api, monkeypatch):
    opening = FakeSFTP.open
    monkeypatch.setattr(FakeSFTP, "open", lambda sftp, path, mode="r": _Opened(opening(sftp, path, mode)))
    queue(api, "alice")
    api.replay.files.add_directory("/home/alice/firecrest")
    api.replay.files.add_directory("/home/alice/firecrest/x")
    api.replay.files.add_file("/home/alice/firecrest/x/slurm-301.out", b"line 1\n" + b"x" * 100 + b"\nlast <b>line</b>\n")
    code, body = await read(api, "job/output?system=cluster&jobid=301&bytes=20")
    assert code == 200, body
    assert body["files"]["out"]["text"] == "\nlast <b>line</b>\n"[-20:].rjust(20, "x")
    assert body["files"]["err"] == {"path": "/home/alice/firecrest/x/slurm-301.out", "same_as_out": True}
    assert ("sftp.stat", "/home/alice/firecrest/x/slurm-301.out") in api.replay.ran_as("alice")


@pytest.mark.parametrize("path", [
    "job?system=cluster&jobid=1;rm", "job?system=cluster", "job/output?system=cluster&jobid=301&bytes=0",
    "job/output?system=cluster&jobid=301&bytes=lots", "history?system=cluster&start=now%0a-1", "job?jobid=301",
    "history?system=nosuch",
])
async def test_bad_arguments_are_refused_before_anything_runs(api, path):
    code, body = await read(api, path)
    assert code == 400 and body["description"], body
    assert not [argv for argv in api.replay.ran_as("alice") if argv[0] != "getent"]


async def test_the_history_asks_sacct_for_the_range_as_the_user(api):
    accounting(api, ENDED)
    code, body = await read(api, "history?system=cluster&start=2027-01-01T00:00:00&end=now")
    assert code == 200, body
    assert [job["jobid"] for job in body["jobs"]] == ["290"] and body["jobs"][0]["exit_code"] == "0:0"
    [argv] = [argv for argv in api.replay.ran_as("alice") if argv[0] == "sacct"]
    assert "--starttime=2027-01-01T00:00:00" in argv and "--endtime=now" in argv and "--user=alice" in argv
    await read(api, "history?system=cluster")
    assert "--starttime=now-7days" in [argv for argv in api.replay.ran_as("alice") if argv[0] == "sacct"][-1]


async def test_partitions_carry_their_limits_and_load(api):
    api.replay.answer(["scontrol", "--oneliner", "show", "partition"], stdout=PARTITIONS)
    api.replay.answer(["scontrol", "--oneliner", "--", "show", "node"], stdout=NODES)
    code, body = await read(api, "partitions?system=cluster")
    assert code == 200, body
    debug, xfer = body["partitions"]
    assert (debug["name"], debug["default"], debug["max_time"], debug["default_time"]) == (
        "debug", True, "02:00:00", "00:30:00")
    assert (debug["cpus_total"], debug["cpus_allocated"], debug["cpus_idle"]) == (64, 16, 48)
    assert (debug["nodes_total"], debug["nodes_idle"], xfer["default"]) == (1, 0, False)
    code, body = await read(api, "nodes?system=cluster")
    assert body["nodes"][0] == {"name": "localhost", "state": ["MIXED"], "partitions": ["debug", "xfer"],
                                "features": [], "cpus_total": 64, "cpus_allocated": 16, "memory_mb": 32000,
                                "reason": ""}


async def test_reservations_and_accounts(api):
    api.replay.answer(["scontrol", "--oneliner", "show", "reservation"],
                      stdout="ReservationName=maint StartTime=2027-06-01T08:00:00 EndTime=2027-06-01T10:00:00 "
                             "Duration=02:00:00 Nodes=localhost NodeCnt=1 PartitionName=(null) Users=alice "
                             "Accounts=(null) State=INACTIVE\n")
    api.replay.answer(["sacctmgr"], stdout="demo|demo|\ndemo|chem|\n")
    code, body = await read(api, "reservations?system=cluster")
    assert code == 200 and body["reservations"][0]["name"] == "maint" and body["reservations"][0]["partition"] == ""
    code, body = await read(api, "accounts?system=cluster")
    assert body["accounts"] == [{"name": "demo", "partition": "", "default": True},
                                {"name": "chem", "partition": "", "default": False}]
    [argv] = [argv for argv in api.replay.ran_as("alice") if argv[0] == "sacctmgr"]
    assert "name=alice" in argv


async def test_an_unreachable_system_is_a_json_424(api):
    api.replay.fail(["scontrol"], ClusterUnreachable("cluster does not answer"))
    code, body = await read(api, "partitions?system=cluster")
    assert code == 424 and "does not answer" in body["description"]


async def test_bob_reads_only_his_own_active_jobs(api):
    queue(api, "alice", "bob")
    code, body = await read(api, "jobs?system=cluster", token="bob-token")
    assert [job["jobid"] for job in body["jobs"]] == ["302"]
