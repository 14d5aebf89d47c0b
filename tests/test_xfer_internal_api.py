"""The v1 storage/xfer-internal endpoints through the real hub proxy: each transfer a Slurm job on the
transfer partition, run as the caller, its effect checked on the real disk.

The task finishes (200) once the transfer job is submitted, with v1's submission data; the transfer's
outcome is the job's state. Paths that look like code are taken literally by the job's script; hostile
parameters get a 4xx JSON error with no task and nothing run.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from compute_support import HELD, MACHINE, call, cancel_quietly, created, exists, finished_task, job_state, read, submit

pytestmark = pytest.mark.cluster

V1_FIELDS = {"result", "jobid", "job_file", "job_file_out", "job_file_err", "job_data_out", "job_data_err"}


@pytest.fixture
async def work(alice):
    """A fresh directory of alice's holding `f.txt` and `d/inner.txt`, removed afterwards."""
    path = f"/home/alice/fc-xfer-{uuid.uuid4().hex[:10]}"
    script = 'mkdir -p -- "$1/d" && printf "one\\n" > "$1/f.txt" && printf "inner" > "$1/d/inner.txt"'
    setup = await alice.run(["bash", "-c", script, "setup", path])
    assert setup.ok, setup.stderr
    yield path
    await alice.run(["rm", "-rf", "--", path])


async def transfer(token: str, operation: str, expect_state: str = "COMPLETED", **data) -> tuple[dict, dict]:
    """Run one internal transfer to its end: (the task's data, the job as compute/jobs shows it)."""
    task = await finished_task(token, created(call("POST", f"storage/xfer-internal/{operation}", token, data=data),
                                              201))
    assert task["status"] == "200" and task["system"] == MACHINE, task
    submitted = task["data"]
    assert set(submitted) == V1_FIELDS and submitted["result"] == "Job submitted"
    job = await job_state(token, submitted["jobid"])
    assert job["state"] == expect_state, job
    return submitted, job


async def test_copy_runs_as_a_job_of_the_caller_on_the_transfer_partition(alice_token, alice, work):
    submitted, job = await transfer(alice_token, "cp", sourcePath=f"{work}/d", targetPath=f"{work}/copy")
    assert (job["partition"], job["user"], job["name"]) == ("xfer", "alice", "cp-job")
    assert submitted["job_file"].endswith("/sbatch-job.sh")
    assert submitted["job_file_err"] == submitted["job_file"].replace("sbatch-job.sh", f"job-{submitted['jobid']}.err")
    assert await read(alice, f"{work}/copy/inner.txt") == "inner"
    assert (await alice.run(["stat", "--format=%U", "--", f"{work}/copy/inner.txt"])).stdout.strip() == "alice"
    assert await read(alice, submitted["job_file_err"]) == ""


async def test_move_rsync_and_remove(alice_token, alice, work):
    await transfer(alice_token, "mv", sourcePath=f"{work}/f.txt", targetPath=f"{work}/moved.txt")
    assert await read(alice, f"{work}/moved.txt") == "one\n" and not await exists(alice, f"{work}/f.txt")
    submitted, _ = await transfer(alice_token, "rsync", sourcePath=f"{work}/d/", targetPath=f"{work}/synced")
    assert await read(alice, f"{work}/synced/inner.txt") == "inner"
    assert "inner.txt" in await read(alice, submitted["job_file_out"])  # rsync --verbose
    await transfer(alice_token, "rm", targetPath=f"{work}/synced")
    assert not await exists(alice, f"{work}/synced")


async def test_compress_and_extract(alice_token, alice, work):
    await transfer(alice_token, "compress", sourcePath=f"{work}/d", targetPath=f"{work}/d.tar.gz")
    listing = await alice.run(["tar", "-tzf", f"{work}/d.tar.gz"])
    assert sorted(listing.stdout.split()) == ["d/", "d/inner.txt"]
    assert (await alice.run(["mkdir", "--", f"{work}/out"])).ok
    # v1's `type`; an `extension` (the spec names it, pyfirecrest sends it) changes nothing, as with v1.
    await transfer(alice_token, "extract", sourcePath=f"{work}/d.tar.gz", targetPath=f"{work}/out", type=".gz",
                   extension=".rar")
    assert await read(alice, f"{work}/out/d/inner.txt") == "inner"


async def test_job_options_and_stage_out_dependency(alice_token, alice, work):
    held = await submit(alice_token, HELD, name="production.sh")
    try:
        task = await finished_task(alice_token, created(call(
            "POST", "storage/xfer-internal/cp", alice_token,
            data={"sourcePath": f"{work}/f.txt", "targetPath": f"{work}/later.txt", "jobName": "stage out $(x)",
                  "time": "5", "stageOutJobId": str(held["jobid"])}), 201))
        assert task["status"] == "200", task
        job = await job_state(alice_token, task["data"]["jobid"], states={"PENDING"})
        assert (job["name"], job["time_left"], job["nodelist"]) == ("stage out $(x)", "5:00", "(Dependency)")
        await cancel_quietly(alice, held["jobid"], task["data"]["jobid"])
        assert not await exists(alice, f"{work}/later.txt")
    finally:
        await cancel_quietly(alice, held["jobid"])


async def test_a_failed_transfer_shows_in_the_job_state(alice_token, alice, work):
    submitted, _ = await transfer(alice_token, "cp", expect_state="FAILED", sourcePath=f"{work}/missing",
                                  targetPath=f"{work}/copy")
    assert "No such file or directory" in await read(alice, submitted["job_file_err"])


async def test_the_cluster_permissions_of_the_caller_apply(bob_token, alice, work):
    await alice.run(["chmod", "600", "--", f"{work}/f.txt"])
    submitted, _ = await transfer(bob_token, "cp", expect_state="FAILED", sourcePath=f"{work}/f.txt",
                                  targetPath="/tmp/fc-xfer-stolen")
    assert submitted["job_file"].startswith("/home/bob/firecrest/")
    assert not await exists(alice, "/tmp/fc-xfer-stolen")


async def test_paths_that_look_like_code_are_taken_literally(alice_token, alice, work):
    marker = f"fc-marker-{uuid.uuid4().hex[:8]}"
    name = f"a'b\"c $(touch {marker}) `touch {marker}`;touch {marker}&& -rf"
    await alice.run(["bash", "-c", 'printf data > "$1"', "x", f"{work}/{name}"])
    copied, _ = await transfer(alice_token, "cp", sourcePath=f"{work}/{name}", targetPath=f"{work}/-{name}")
    assert await read(alice, f"{work}/-{name}") == "data"
    compressed, _ = await transfer(alice_token, "compress", sourcePath=f"{work}/-{name}",
                                   targetPath=f"{work}/{name}.tgz")
    assert (await alice.run(["tar", "-tzf", f"{work}/{name}.tgz"])).stdout.splitlines() == [f"-{name}"]
    # A shell that ran a name would have made the marker in its working directory.
    job_directories = [submitted["job_file"].rsplit("/", 1)[0] for submitted in (copied, compressed)]
    for directory in ("/home/alice", work, *job_directories):
        assert not await exists(alice, f"{directory}/{marker}")


# ---- hostile input: a 4xx JSON error, no task, nothing run -------------------------------------------

M = "{work}/MARKER"
HOSTILE = [
    ("cp", "sourcePath", "../$(touch " + M + ")"),  # relative paths start at the home, as in v1
    ("cp", "sourcePath", "{work}/f.txt\ntouch " + M),
    ("cp", "targetPath", "{work}/../x"),
    ("cp", "targetPath", "/etc/x"),
    ("cp", "targetPath", "../-rf"),
    ("mv", "sourcePath", "/home"),
    ("mv", "sourcePath", None),
    ("rsync", "targetPath", "{work}/x\x00y"),
    ("rm", "targetPath", "/tmp"),
    ("rm", "targetPath", "relative;touch " + M),
    ("cp", "jobName", "a\ntouch " + M),
    ("cp", "time", "1;touch " + M),
    ("cp", "time", "two hours"),
    ("cp", "stageOutJobId", "1;touch " + M),
    ("cp", "stageOutJobId", "$(touch " + M + ")"),
    ("cp", "stageOutJobId", "afterany:1"),
    ("cp", "account", "a b"),
    ("cp", "account", "$(touch " + M + ")"),
    ("compress", "dereference", "yes;touch " + M),
    ("extract", "type", ".zip`touch " + M + "`"),
    ("extract", "type", ".rar"),
]


@pytest.mark.parametrize("operation, name, hostile", HOSTILE)
async def test_hostile_parameters_are_refused(alice_token, alice, work, operation, name, hostile):
    before = (await alice.run(["ls", "-A", "/home/alice/firecrest"])).stdout
    data = {"targetPath": f"{work}/target"}
    if operation != "rm":
        data["sourcePath"] = f"{work}/f.txt.tar" if operation == "extract" else f"{work}/f.txt"
    if hostile is None:
        data.pop(name)
    else:
        data[name] = hostile.format(work=work)
    response = call("POST", f"storage/xfer-internal/{operation}", alice_token, data=data)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["Content-Type"].startswith("application/json") and response.json()["description"]
    await asyncio.sleep(0.3)
    assert not await exists(alice, f"{work}/MARKER") and not await exists(alice, f"{work}/target")
    assert (await alice.run(["ls", "-A", "/home/alice/firecrest"])).stdout == before


async def test_missing_or_hostile_machine_names(alice_token, alice, work):
    for machine in (f"cluster$(touch {work}/MARKER)", "nosuchsystem", None):
        response = call("POST", "storage/xfer-internal/rm", alice_token, machine=machine,
                        data={"targetPath": f"{work}/f.txt"})
        assert response.status_code == 400 and "X-Machine-Does-Not-Exist" in response.headers, response.text
    assert await exists(alice, f"{work}/f.txt") and not await exists(alice, f"{work}/MARKER")


async def test_unknown_task_ids(alice_token, bob_token, work):
    task_id = created(call("POST", "storage/xfer-internal/cp", alice_token,
                           data={"sourcePath": f"{work}/f.txt", "targetPath": f"{work}/copy.txt"}), 201)
    for token, unknown in ((bob_token, task_id), (alice_token, "0" * 32), (alice_token, "not-a-task")):
        response = call("GET", f"tasks/{unknown}", token, machine=None)
        assert response.status_code == 404 and "description" in response.json()
    await finished_task(alice_token, task_id)
