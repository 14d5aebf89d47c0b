"""Unit tests of the compute layer without a cluster: argv building, input checks, output parsing
(samples captured from the dev cluster's Slurm 22.05) and the job-state cache's single flight."""

from __future__ import annotations

import asyncio
import shlex
import time

import pytest
from traitlets import TraitError

from firecrest_hub.compute import Job, JobRequest, JobStateCache, SlurmScheduler
from firecrest_hub.compute.slurm_commands import (
    SBATCH_WITH_ENV_SCRIPT, CancelJob, ReadAccounting, ReadQueue, ShowNodes, ShowPartitions, ShowReservations,
    SubmitBatchJob,
)
from firecrest_hub.compute.slurm_output import parse_key_values, split_records
from firecrest_hub.config import System
from firecrest_hub.errors import (
    ClusterUnreachable, CommandFailed, InvalidInput, NotFound, PermissionDenied, SchedulerUnavailable,
    SubmissionRejected, UnknownJob,
)
from firecrest_hub.remote import CommandResult, to_shell

HOSTILE = "a'b\"c $(touch /tmp/pwned) `id` ; rm -rf ~ | cat && x || y > z < w \\ $HOME *"
SYSTEM = System.from_dict({"name": "cluster", "host": "127.0.0.1", "known_hosts": "known_hosts",
                           "filesystems": ["/home"], "default_partition": "debug"})


def result(stdout="", stderr="", status=0):
    return CommandResult(("slurm",), status, stdout, stderr)


def words_the_shell_sees(argv):
    """What the login shell on the cluster will split the command line into."""
    return shlex.split(to_shell(argv))


# ---- submission: argv and input checks -------------------------------------------------------------

def test_submit_script_on_stdin_with_options():
    request = JobRequest(script="#!/bin/bash\nhostname\n", name="my job", account="demo",
                         workdir="/home/alice/run 1", time_limit="0:10:00", nodes=1)
    command = SubmitBatchJob(request)
    assert command.argv() == ["sbatch", "--parsable", "--job-name=my job", "--account=demo",
                              "--chdir=/home/alice/run 1", "--time=0:10:00", "--nodes=1"]
    assert command.stdin() == "#!/bin/bash\nhostname\n"


def test_submit_script_path_comes_after_double_dash():
    command = SubmitBatchJob(JobRequest(script_path="-rf.sh", partition="xfer", comment="firecrest-task:1a"))
    assert command.argv() == ["sbatch", "--parsable", "--partition=xfer", "--comment=firecrest-task:1a", "--", "-rf.sh"]
    assert command.stdin() is None


def test_hostile_name_path_and_env_values_stay_single_words():
    request = JobRequest(script_path=f"/home/alice/{HOSTILE}.sh", name=f"--wrap={HOSTILE}",
                         workdir=f"/tmp/{HOSTILE}",
                         env={"GREETING": HOSTILE, "MULTILINE": "one\ntwo\n$(three)", "DASH": "-x --y"})
    command = SubmitBatchJob(request)
    argv = command.argv()
    assert argv == [
        "bash", "-c", SBATCH_WITH_ENV_SCRIPT, "sbatch-with-env",
        "--parsable", f"--job-name=--wrap={HOSTILE}", f"--chdir=/tmp/{HOSTILE}", "--", f"/home/alice/{HOSTILE}.sh",
    ]
    assert words_the_shell_sees(argv) == argv
    # The values may be secrets: they travel on stdin, where `ps` cannot show them to other users.
    assert command.stdin() == f"3\nGREETING={HOSTILE}\0MULTILINE=one\ntwo\n$(three)\0DASH=-x --y\0"


def test_env_values_go_ahead_of_a_script_on_stdin():
    command = SubmitBatchJob(JobRequest(script="#!/bin/bash\nenv\n", env={"TOKEN": "s3cr3t"}))
    assert not any("s3cr3t" in word for word in command.argv())
    assert command.stdin() == "1\nTOKEN=s3cr3t\0#!/bin/bash\nenv\n"


@pytest.mark.parametrize("fields", [
    {"script": ""}, {"script": " \n\t\n"}, {},
    {"script": "#!/bin/sh\n", "script_path": "/home/alice/x.sh"},
    {"script": "#!/bin/sh\n", "name": "two\nlines"},
    {"script": "#!/bin/sh\n", "name": "carriage\rreturn"},
    {"script": "#!/bin/sh\n", "name": "nul\x00byte"},
    {"script": "#!/bin/sh\n", "name": ""},
    {"script_path": "/home/alice/job.sh\n; touch /tmp/pwned"},
    {"script": "#!/bin/sh\n", "workdir": "/home/alice\n/tmp"},
    {"script": "#!/bin/sh\n", "partition": "debug; touch /tmp/pwned"},
    {"script": "#!/bin/sh\n", "partition": "--wrap=id"},
    {"script": "#!/bin/sh\n", "account": "demo $(id)"},
    {"script": "#!/bin/sh\n", "reservation": "r\n1"},
    {"script": "#!/bin/sh\n", "time_limit": "10; id"},
    {"script": "#!/bin/sh\n", "nodes": 0},
    {"script": "#!/bin/sh\n", "nodes": True},
    {"script": "#!/bin/sh\n", "env": {"BAD NAME": "x"}},
    {"script": "#!/bin/sh\n", "env": {"1ST": "x"}},
    {"script": "#!/bin/sh\n", "env": {"A=B": "x"}},
    {"script": "#!/bin/sh\n", "env": {"$(id)": "x"}},
    {"script": "#!/bin/sh\n", "env": {"": "x"}},
    {"script": "#!/bin/sh\n", "env": {"OK": 5}},
    {"script": "#!/bin/sh\n", "env": {"OK": "nul\x00inside"}},
    {"script": "#!/bin/sh\n", "env": [("A", "1")]},
])
def test_bad_submission_is_refused_before_anything_runs(fields):
    with pytest.raises(InvalidInput):
        JobRequest(**fields)


def test_request_keeps_its_own_copy_of_env():
    env = {"A": "1"}
    request = JobRequest(script="#!/bin/sh\n", env=env)
    env["B; id"] = "2"
    assert request.env == {"A": "1"}


def test_sbatch_output_is_the_job_id():
    command = SubmitBatchJob(JobRequest(script="#!/bin/sh\n"))
    assert command.parse(result("42\n")) == "42"
    assert command.parse(result("43;cluster\n", stderr="sbatch: warning: something minor\n")) == "43"


def test_sbatch_against_a_dead_controller_is_scheduler_unavailable():
    command = SubmitBatchJob(JobRequest(script="#!/bin/sh\n"))
    stderr = ("sbatch: error: Batch job submission failed: "
              "Unable to contact slurm controller (connect failure)\n")
    with pytest.raises(SchedulerUnavailable):
        command.parse(result(stderr=stderr, status=1))


# ---- cancel --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("jobid", ["12", "12_3"])
def test_cancel_argv(jobid):
    assert CancelJob(jobid).argv() == ["scancel", "--verbose", "--", jobid]


@pytest.mark.parametrize("jobid", ["", "-1", "12;id", "12 13", "$(id)", "12\n", "12_", "_3", "all", 12])
def test_cancel_refuses_what_is_not_a_job_id(jobid):
    with pytest.raises(InvalidInput):
        CancelJob(jobid)


# ---- key=value and delimited records ------------------------------------------------------------------

def test_key_values_keep_spaces_and_equals_signs_in_values():
    line = ("NodeName=n1 CPUTot=64 OS=Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian "
            "CfgTRES=cpu=64,mem=1M,billing=64 AllocTRES= Reason=maintenance by admin=bob [root@2024-05-01]")
    assert parse_key_values(line) == {
        "NodeName": "n1", "CPUTot": "64", "OS": "Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian",
        "CfgTRES": "cpu=64,mem=1M,billing=64", "AllocTRES": "",
        "Reason": "maintenance by admin=bob [root@2024-05-01]",
    }


def test_records_survive_newlines_and_the_usual_delimiters_in_fields():
    delimiter = "|d|"
    text = "1|d|RUNNING|d|name | with \"quotes\"\nand a line\n2|d|PENDING|d|\n"
    assert split_records(text, delimiter, 3) == [
        ["1", "RUNNING", 'name | with "quotes"\nand a line'], ["2", "PENDING", ""],
    ]
    assert split_records("", delimiter, 3) == []
    with pytest.raises(CommandFailed):
        split_records("1|d|RUNNING\n", delimiter, 3)


# ---- real output of the dev cluster's Slurm 22.05 -----------------------------------------------------
# Captured with the delimiter below standing in for the random one; "<D>" marks where it was printed.
# Only the random parts of test directory and marker names were shortened ("/tmp/t", "m").

DELIMITER = "|5f0c2a7e9b1d3c44|"

# squeue as the service account: a job pending on a partition limit, a pending array, a job whose
# name tries to forge a record (it holds a newline and a guessed delimiter), a job with hostile
# paths, and a job that failed to launch.
SQUEUE = "".join(line.replace("<D>", DELIMITER) + "\n" for line in [
    "161<D>PENDING<D>PartitionTimeLimit<D>alice<D>demo<D>debug<D>1<D><D>2026-11-22T02:46:13<D>N/A<D>0:00<D>"
    "5:00:00<D>5:00:00<D>/tmp<D>(null)<D>/tmp/slurm-161.out<D>/tmp/slurm-161.out<D>too long",
    "162_[1-3]<D>PENDING<D>None<D>bob<D>demo<D>debug<D>1<D><D>2026-11-22T02:46:13<D>N/A<D>0:00<D>30:00<D>"
    "30:00<D>/home/bob<D>(null)<D>/home/bob/slurm-162.out<D>/home/bob/slurm-162.out<D>bob | run",
    "160<D>RUNNING<D>None<D>alice<D>demo<D>debug<D>1<D>localhost<D>2026-11-22T02:46:13<D>2026-11-22T02:46:13<D>"
    "0:01<D>30:00<D>29:59<D>/tmp<D>(null)<D>/tmp/slurm-160.out<D>/tmp/slurm-160.out<D>forged\n4242|5f0c|RUNNING",
    "159<D>COMPLETED<D>None<D>alice<D>demo<D>debug<D>1<D>localhost<D>2026-11-22T02:46:01<D>2026-11-22T02:46:04<D>"
    "0:00<D>30:00<D>30:00<D>/tmp/t/' $(touch m) `touch m` ; touch m &&<D>"
    "/tmp/t/' $(touch m) `touch m` ; touch m &&/--job $(touch m) `touch m` ; touch m &&.sh<D>"
    "/tmp/t/' $(touch m) `touch m` ; touch m &&/slurm-159.out<D>/tmp/t/' $(touch m) `touch m` ; touch m &&/slurm-159.out<D>"
    "-J x' \"q\" $(touch /tmp/m) `touch /tmp/m` ; touch /tmp/m && touch /tmp/m |",
    "147<D>FAILED<D>JobLaunchFailure<D>alice<D>demo<D>debug<D>1<D>localhost<D>2026-11-22T02:43:30<D>"
    "2026-11-22T02:43:30<D>0:00<D>30:00<D>30:00<D>/nonexistent<D>-job.sh<D>/nonexistent/slurm-147.out<D>"
    "/nonexistent/slurm-147.out<D>-job.sh",
])

# sacct as alice. slurmdbd stores '"' in job names as '`' (job 159 was named -J x' "q" ...).
SACCT = "".join(line.replace("<D>", DELIMITER) + "\n" for line in [
    "145<D>COMPLETED<D>alice<D>demo<D>debug<D>0:0<D>2026-11-22T02:43:30<D>2026-11-22T02:43:30<D>"
    "2026-11-22T02:43:30<D>00:00:00<D>00:30:00<D>1<D>localhost<D>/home/alice<D>-job.sh",
    "146<D>CANCELLED by 1001<D>alice<D>demo<D>debug<D>0:0<D>2026-11-22T02:43:30<D>None<D>2026-11-22T02:43:35<D>"
    "00:00:00<D>05:00:00<D>1<D>None assigned<D>/home/alice<D>-job.sh",
    "147<D>FAILED<D>alice<D>demo<D>debug<D>0:53<D>2026-11-22T02:43:30<D>2026-11-22T02:43:30<D>"
    "2026-11-22T02:43:30<D>00:00:00<D>00:30:00<D>1<D>localhost<D>/nonexistent<D>-job.sh",
    "159<D>COMPLETED<D>alice<D>demo<D>debug<D>0:0<D>2026-11-22T02:46:01<D>2026-11-22T02:46:04<D>"
    "2026-11-22T02:46:04<D>00:00:00<D>00:30:00<D>1<D>localhost<D>/tmp/t/' $(touch m) `touch m` ; touch m &&<D>"
    "-J x' `q` $(touch /tmp/m) `touch /tmp/m` ; touch /tmp/m && touch /tmp/m |",
    "160<D>COMPLETED<D>alice<D>demo<D>debug<D>0:0<D>2026-11-22T02:46:13<D>2026-11-22T02:46:13<D>"
    "2026-11-22T02:46:16<D>00:00:03<D>00:30:00<D>1<D>localhost<D>/tmp<D>forged\n4242|5f0c|RUNNING",
])

SCONTROL_NODE = (
    "NodeName=localhost Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=64 CPUTot=64 CPULoad=0.44 "
    "AvailableFeatures=(null) ActiveFeatures=(null) Gres=(null) NodeAddr=127.0.0.1 NodeHostName=localhost "
    "Version=22.05.8 OS=Linux 6.18.44-fc-v769 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=32000 AllocMem=0 "
    "FreeMem=22840 Sockets=64 Boards=1 State=IDLE ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A "
    "Partitions=debug,xfer  BootTime=2026-11-22T02:16:12 SlurmdStartTime=2026-11-22T02:42:02 "
    "LastBusyTime=2026-11-22T02:42:53 CfgTRES=cpu=64,mem=32000M,billing=64 AllocTRES= CapWatts=n/a "
    "CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s\n"
)

SCONTROL_PARTITIONS = (
    "PartitionName=debug AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES QoS=N/A "
    "DefaultTime=00:30:00 DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED "
    "MaxTime=02:00:00 MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=localhost PriorityJobFactor=1 "
    "PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP "
    "TotalCPUs=64 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED "
    "MaxMemPerNode=UNLIMITED TRES=cpu=64,mem=32000M,node=1,billing=64\n"
    "PartitionName=xfer AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=NO QoS=N/A "
    "DefaultTime=01:00:00 DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED "
    "MaxTime=1-00:00:00 MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=localhost PriorityJobFactor=1 "
    "PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP "
    "TotalCPUs=64 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED "
    "MaxMemPerNode=UNLIMITED TRES=cpu=64,mem=32000M,node=1,billing=64\n"
)

# Made by root for this capture (users cannot make reservations), then deleted.
SCONTROL_RESERVATION = (
    "ReservationName=fc_sample StartTime=2027-06-01T08:00:00 EndTime=2027-06-01T10:00:00 Duration=02:00:00 "
    "Nodes=localhost NodeCnt=1 CoreCnt=64 Features=(null) PartitionName=(null) Flags=MAINT,IGNORE_JOBS,SPEC_NODES "
    "TRES=cpu=64 Users=alice,bob Groups=(null) Accounts=(null) Licenses=(null) State=INACTIVE "
    "BurstBuffer=(null) Watts=n/a MaxStartDelay=(null)\n"
)


def test_squeue_argv_asks_for_everything_in_full_width():
    argv = ReadQueue(delimiter=DELIMITER).argv()
    assert argv[:4] == ["squeue", "--all", "--states=all", "--noheader"]
    assert argv[4].startswith(f"--Format=JobArrayID:0{DELIMITER},State:0{DELIMITER},")
    assert argv[4].endswith(f"STDERR:0{DELIMITER},Name:0")


def test_squeue_output_parses_and_a_forged_name_forges_nothing():
    jobs = ReadQueue(delimiter=DELIMITER).parse(result(SQUEUE))
    assert [job.jobid for job in jobs] == ["161", "162_[1-3]", "160", "159", "147"]
    pending, array, forged, hostile, failed = jobs
    assert (pending.state, pending.reason, pending.nodelist, pending.start_time, pending.time_left) == (
        "PENDING", "PartitionTimeLimit", "", "N/A", "5:00:00")
    assert (array.user, array.name, array.reason, array.job_file_out) == (
        "bob", "bob | run", "", "/home/bob/slurm-162.out")
    assert (forged.name, forged.state, forged.user) == ("forged\n4242|5f0c|RUNNING", "RUNNING", "alice")
    assert (forged.nodelist, forged.start_time, forged.time, forged.time_left, forged.job_file) == (
        "localhost", "2026-11-22T02:46:13", "0:01", "29:59", "")
    assert hostile.name == "-J x' \"q\" $(touch /tmp/m) `touch /tmp/m` ; touch /tmp/m && touch /tmp/m |"
    assert hostile.job_file == "/tmp/t/' $(touch m) `touch m` ; touch m &&/--job $(touch m) `touch m` ; touch m &&.sh"
    assert hostile.work_dir == "/tmp/t/' $(touch m) `touch m` ; touch m &&"
    assert (failed.state, failed.reason, failed.job_file, failed.work_dir) == (
        "FAILED", "JobLaunchFailure", "-job.sh", "/nonexistent")


def test_squeue_failures():
    with pytest.raises(SchedulerUnavailable):
        ReadQueue().parse(result(stderr="slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n",
                                 status=1))
    with pytest.raises(SchedulerUnavailable):
        ReadQueue().parse(result(stderr="slurm_load_jobs error: Socket timed out on send/recv operation\n", status=1))
    with pytest.raises(CommandFailed):
        ReadQueue(delimiter=DELIMITER).parse(result("161" + DELIMITER + "PENDING\n"))


def test_sacct_argv():
    command = ReadAccounting("alice", "2026-11-22T00:00:00", "now", ["145", "146_2"], delimiter=DELIMITER)
    assert command.argv() == [
        "sacct", "--noheader", "--parsable2", "--allocations", f"--delimiter={DELIMITER}",
        "--format=JobID,State,User,Account,Partition,ExitCode,Submit,Start,End,Elapsed,Timelimit,NNodes,"
        "NodeList,WorkDir,JobName",
        "--user=alice", "--starttime=2026-11-22T00:00:00", "--endtime=now", "--jobs=145,146_2",
    ]
    assert ReadAccounting("bob", delimiter=DELIMITER).argv()[-1] == "--user=bob"


def test_sacct_output_parses():
    records = ReadAccounting("alice", delimiter=DELIMITER).parse(result(SACCT))
    assert [(record.jobid, record.state) for record in records] == [
        ("145", "COMPLETED"), ("146", "CANCELLED"), ("147", "FAILED"), ("159", "COMPLETED"), ("160", "COMPLETED")]
    completed, cancelled, failed, hostile, forged = records
    assert (completed.name, completed.user, completed.account, completed.partition, completed.nodelist) == (
        "-job.sh", "alice", "demo", "debug", "localhost")
    assert (completed.start_time, completed.end_time, completed.time, completed.time_limit, completed.nodes) == (
        "2026-11-22T02:43:30", "2026-11-22T02:43:30", "00:00:00", "00:30:00", "1")
    assert (cancelled.start_time, cancelled.nodelist, cancelled.time_limit) == ("None", "", "05:00:00")
    assert failed.exit_code == "0:53"
    assert hostile.work_dir == "/tmp/t/' $(touch m) `touch m` ; touch m &&"
    assert hostile.name.startswith("-J x' `q` $(touch /tmp/m)")
    assert forged.name == "forged\n4242|5f0c|RUNNING" and forged.time == "00:00:03"


def test_sacct_refuses_a_bad_time_and_reports_slurms_complaint():
    with pytest.raises(InvalidInput):
        ReadAccounting("alice", start_time="2024-01-01\n")
    with pytest.raises(InvalidInput):
        ReadAccounting("alice").parse(result(stderr="Invalid time specification (pos=5): 2024-13-45\n", status=1))


def test_scontrol_node_output_parses():
    command = ShowNodes(["localhost"])
    assert command.argv() == ["scontrol", "--oneliner", "--", "show", "node", "localhost"]
    assert ShowNodes().argv() == ["scontrol", "--oneliner", "--", "show", "node"]
    [node] = command.parse(result(SCONTROL_NODE))
    assert (node.name, node.state, node.partitions, node.active_features) == (
        "localhost", ["IDLE"], ["debug", "xfer"], [])
    assert (node.cpus_total, node.cpus_allocated, node.real_memory, node.reason) == ("64", "0", "32000", "")
    assert node.fields["OS"] == "Linux 6.18.44-fc-v769 #1 SMP PREEMPT_DYNAMIC @0"
    assert node.fields["CoresPerSocket"] == "1" and node.fields["AllocTRES"] == ""
    assert node.fields["CfgTRES"] == "cpu=64,mem=32000M,billing=64"


def test_scontrol_unknown_node_is_not_found():
    # scontrol prints this on stdout, exit status 1, after any nodes it did find.
    with pytest.raises(NotFound):
        ShowNodes(["localhost,nosuch"]).parse(result(SCONTROL_NODE + "Node nosuch not found\n", status=1))
    with pytest.raises(InvalidInput):
        ShowNodes(["localhost; id"])


def test_scontrol_partition_output_parses():
    debug, xfer = ShowPartitions().parse(result(SCONTROL_PARTITIONS))
    assert (debug.name, debug.state, debug.default, debug.total_cpus, debug.total_nodes) == (
        "debug", "UP", True, "64", "1")
    assert (debug.nodes, debug.max_time, debug.fields["DefaultTime"]) == ("localhost", "02:00:00", "00:30:00")
    assert (xfer.name, xfer.default, xfer.max_time) == ("xfer", False, "1-00:00:00")
    assert xfer.fields["TRES"] == "cpu=64,mem=32000M,node=1,billing=64"


def test_scontrol_reservation_output_parses():
    assert ShowReservations().argv() == ["scontrol", "--oneliner", "show", "reservation"]
    [reservation] = ShowReservations().parse(result(SCONTROL_RESERVATION))
    assert (reservation.name, reservation.state, reservation.start_time, reservation.end_time) == (
        "fc_sample", "INACTIVE", "2027-06-01T08:00:00", "2027-06-01T10:00:00")
    assert (reservation.duration, reservation.nodes, reservation.node_count, reservation.partition) == (
        "02:00:00", "localhost", "1", "")
    assert (reservation.flags, reservation.users, reservation.accounts, reservation.features) == (
        "MAINT,IGNORE_JOBS,SPEC_NODES", "alice,bob", "", "")
    assert ShowReservations().parse(result("No reservations in the system\n")) == []


@pytest.mark.parametrize("stderr, error", [
    ("scancel: Terminating job 134\nscancel: error: Kill job error on job id 134: Access/permission denied\n",
     PermissionDenied),
    ("scancel: Terminating job 5_3\nscancel: error: Kill job error on job id 5_3: Invalid job id specified\n",
     UnknownJob),
    ("scancel: error: Kill job error on job id 9: Unable to contact slurm controller (connect failure)\n",
     SchedulerUnavailable),
])
def test_scancel_messages(stderr, error):
    # scancel exits 0 for an unknown job id, 210 for another user's job: the message decides.
    with pytest.raises(error):
        CancelJob("134").parse(result(stderr=stderr, status=0))


def test_scancel_success_and_already_finished_are_fine():
    assert CancelJob("136").parse(result(stderr="scancel: Terminating job 136\n")) is None
    finished = ("scancel: Terminating job 1\n"
                "scancel: error: Kill job error on job id 1: Job/step already completing or completed\n")
    assert CancelJob("1").parse(result(stderr=finished)) is None


def test_sbatch_complaints_about_the_script_are_rejections():
    command = SubmitBatchJob(JobRequest(script="echo no shebang\n"))
    stderr = ("sbatch: error: This does not look like a batch script.  The first\n"
              "sbatch: error: line must start with #! followed by the path to an interpreter.\n"
              "sbatch: error: For instance: #!/bin/sh\n")
    with pytest.raises(SubmissionRejected) as caught:
        command.parse(result(stderr=stderr, status=1))
    assert caught.value.description.startswith("This does not look like a batch script.  The first line must")
    stderr = ("sbatch: error: invalid partition specified: nope\n"
              "sbatch: error: Batch job submission failed: Invalid partition name specified\n")
    with pytest.raises(SubmissionRejected) as caught:
        command.parse(result(stderr=stderr, status=1))
    assert caught.value.description == "Invalid partition name specified"


# ---- the job-state cache, with a fake service-account session -------------------------------------------

def queue_output(command: ReadQueue, jobs: list[dict]) -> str:
    """squeue's output for `jobs` (attribute -> value) in the command's own format."""
    lines = []
    for job in jobs:
        values = [job.get(attribute, "") for _, attribute in ReadQueue.FIELDS]
        lines.append(command.delimiter.join(values) + "\n")
    return "".join(lines)


class FakeSession:
    """Stands in for the service account's RemoteSession: answers squeue after a short delay."""

    def __init__(self, system, account, latency=0.05):
        self.system, self.account, self.latency = system, account, latency
        self.executed = []
        self.jobs = [{"jobid": "7", "state": "RUNNING", "user": "alice", "name": "a|b", "nodelist": "localhost"},
                     {"jobid": "8", "state": "PENDING", "user": "bob", "name": "x", "job_file_out": "/home/bob/o"}]
        self.failure: Exception | None = None

    async def execute(self, command):
        self.executed.append(command)
        await asyncio.sleep(self.latency)
        if self.failure:
            raise self.failure
        assert isinstance(command, ReadQueue)
        return command.parse(result(queue_output(command, self.jobs)))


class FakePool:
    command_timeout = 30  # what SlurmScheduler.command_timeout defaults to

    def __init__(self):
        self.sessions = {}

    def session(self, system, account, hub_user=None):
        return self.sessions.setdefault(account, FakeSession(system, account))


@pytest.fixture
def fake_pool():
    return FakePool()


def scheduler_with(pool, interval=0.3):
    scheduler = SlurmScheduler(pool)
    scheduler.job_cache(SYSTEM).interval = interval
    return scheduler


async def test_fifty_concurrent_readers_cost_one_squeue_as_the_service_account(fake_pool):
    scheduler = scheduler_with(fake_pool)
    alice = fake_pool.session(SYSTEM, "alice")
    results = await asyncio.gather(*(scheduler.jobs(alice) for _ in range(50)))
    assert scheduler.job_cache(SYSTEM).queue_reads == 1
    assert list(fake_pool.sessions) == ["alice", "firecrest"]
    assert alice.executed == [] and len(fake_pool.sessions["firecrest"].executed) == 1
    assert all([job.jobid for job in jobs] == ["7"] for jobs in results)
    assert results[0][0].name == "a|b"


async def test_a_fresh_snapshot_is_served_without_reading_again(fake_pool):
    scheduler = scheduler_with(fake_pool)
    cache = scheduler.job_cache(SYSTEM)
    first = await cache.snapshot()
    assert await cache.snapshot() is first
    await asyncio.sleep(cache.interval)
    assert await cache.snapshot() is not first
    assert cache.queue_reads == 2


async def test_newer_than_waits_for_the_next_interval_and_is_shared(fake_pool):
    cache = scheduler_with(fake_pool).job_cache(SYSTEM)
    first = await cache.snapshot()
    submitted = time.monotonic()
    started = time.monotonic()
    snapshots = await asyncio.gather(*(cache.snapshot(newer_than=submitted) for _ in range(20)))
    waited = time.monotonic() - started
    assert cache.queue_reads == 2
    assert all(snapshot is snapshots[0] and snapshot.taken_at > submitted for snapshot in snapshots)
    # The refresh it forced started no sooner than one interval after the previous one.
    assert snapshots[0].taken_at - first.taken_at >= cache.interval - 0.01
    assert waited < 2 * cache.interval


async def test_jobs_of_others_are_listed_without_their_files(fake_pool):
    scheduler = scheduler_with(fake_pool)
    alice = fake_pool.session(SYSTEM, "alice")
    with pytest.raises(PermissionDenied):
        await scheduler.jobs(alice, all_users=True)  # unless the site allows it
    scheduler.all_users_jobs = True
    everyone = await scheduler.jobs(alice, all_users=True)
    assert [(job.jobid, job.user, job.job_file_out) for job in everyone] == [("7", "alice", ""), ("8", "bob", "")]
    assert [job.jobid for job in await scheduler.jobs(alice, jobids=["8"])] == []
    assert (await scheduler.job(alice, "7")).state == "RUNNING"
    with pytest.raises(UnknownJob):
        await scheduler.job(alice, "8")
    with pytest.raises(UnknownJob):
        await scheduler.job(alice, "9")


async def test_a_failed_refresh_keeps_the_old_snapshot_until_it_is_too_old(fake_pool):
    scheduler = scheduler_with(fake_pool, interval=0.2)
    cache = scheduler.job_cache(SYSTEM)
    service = fake_pool.session(SYSTEM, "firecrest")
    good = await cache.snapshot()
    service.failure = SchedulerUnavailable("slurm_load_jobs error: Unable to contact slurm controller")
    await asyncio.sleep(cache.interval)
    # Stale but young enough: served, with its age, and the jobs are still there.
    served = await cache.snapshot()
    assert served is good and served.age >= cache.interval and served.job("7")
    # Right after a failure, readers do not retry until the interval is up.
    assert (await cache.snapshot()) is good and cache.queue_reads == 2
    # A reader that needs news cannot be answered by the old snapshot.
    with pytest.raises(SchedulerUnavailable):
        await cache.snapshot(newer_than=time.monotonic())
    await asyncio.sleep(cache.interval * cache.stale_tolerance)
    with pytest.raises(SchedulerUnavailable):
        await cache.snapshot()
    service.failure = None
    await asyncio.sleep(cache.interval)
    assert (await cache.snapshot()).job("8")


async def test_the_first_read_failing_is_an_error_not_an_empty_queue(fake_pool):
    cache = scheduler_with(fake_pool).job_cache(SYSTEM)
    fake_pool.session(SYSTEM, "firecrest").failure = ClusterUnreachable("system 'cluster' is unreachable")
    results = await asyncio.gather(*(cache.snapshot() for _ in range(10)), return_exceptions=True)
    assert all(isinstance(error, ClusterUnreachable) for error in results)
    assert cache.queue_reads == 1


async def test_a_reader_giving_up_does_not_cancel_the_shared_read(fake_pool):
    cache = scheduler_with(fake_pool).job_cache(SYSTEM)
    impatient = asyncio.ensure_future(cache.snapshot())
    patient = asyncio.ensure_future(cache.snapshot())
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert (await patient).job("7")
    assert cache.queue_reads == 1


async def test_a_bad_job_id_runs_nothing(fake_pool):
    scheduler = scheduler_with(fake_pool)
    alice = fake_pool.session(SYSTEM, "alice")
    for call in (scheduler.cancel(alice, "1; scancel -u alice"), scheduler.job(alice, "$(id)"),
                 scheduler.jobs(alice, jobids=["1", "2 3"]), scheduler.accounting(alice, jobids=["1\n2"]),
                 scheduler.accounting(alice, start_time="2024-01-01;id"), scheduler.nodes(alice, ["a b"])):
        with pytest.raises(InvalidInput):
            await call
    assert alice.executed == [] and fake_pool.sessions.keys() == {"alice"}


def test_cache_settings_are_checked():
    async def read_queue():
        return []

    with pytest.raises(TraitError):
        JobStateCache(read_queue, interval=0)
    with pytest.raises(TraitError):
        JobStateCache(read_queue, stale_tolerance=0.5)


def job_of(jobid: str, user: str, state: str) -> Job:
    return Job(**{**{name: "" for name in Job.__dataclass_fields__}, "jobid": jobid, "user": user, "state": state})


def test_ended_jobs_are_told_apart_from_active_ones():
    assert not job_of("1", "alice", "COMPLETING").ended and not job_of("1", "alice", "SUSPENDED").ended
    assert job_of("1", "alice", "CANCELLED").ended and job_of("1", "alice", "OUT_OF_MEMORY").ended


def test_a_learned_job_is_served_until_a_later_queue_read_covers_it():
    reads = []

    async def read_queue():
        reads.append(time.monotonic())
        return list(queue)

    async def scenario():
        cache = JobStateCache(read_queue, interval=0.1)
        assert await cache.jobs_of("alice") == []
        submitted = job_of("7", "alice", "PENDING")
        cache.learn(submitted)  # sbatch answered; the queue read before it did not see the job
        assert await cache.job("7") == submitted  # at once, without waiting for the next read
        queue.append(job_of("7", "alice", "RUNNING"))
        await asyncio.sleep(0.15)
        assert (await cache.job("7")).state == "RUNNING"  # a read that started after learning decides
        queue.clear()
        await asyncio.sleep(0.15)
        assert await cache.job("7") is None

    queue: list = []
    asyncio.run(scenario())
    assert len(reads) == 3
