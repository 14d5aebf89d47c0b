"""Unit tests of the spawner's option checks, port reports, batch script and progress messages."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import time
from types import SimpleNamespace

import pytest
import requests
from conftest import HUB_URL
from batchspawner import JobStatus
from jupyterhub import apihandlers
from jupyterhub.spawner import Spawner
from tornado.httputil import HTTPFile
from traitlets import TraitError, TraitType
from traitlets.config import Config

from firecrest_hub.compute import Job, Node, Partition, QueueSnapshot
from firecrest_hub.compute.slurm_output import parse_key_values
from firecrest_hub.errors import ClusterUnreachable, InvalidInput, SchedulerUnavailable
from spawner import FirecrestSpawner
from spawner.options import (
    KNOWN_OPTIONS,
    JobOptions,
    PartitionLimits,
    choose_system,
    format_runtime,
    parse_runtime,
    validate_options,
)
from spawner.port_report import PortRefused, PortReportHandler, parse_port_report
from spawner.progress import progress_event
from spawner.spawner import SpawnFailure, UnusedOption, first_node

# What `scontrol -o show partition` / `show node` print on a small cluster with a GPU partition.
DEBUG = ("PartitionName=debug AllowGroups=ALL AllowAccounts=ALL Default=YES DefaultTime=NONE "
         "MaxNodes=UNLIMITED MaxTime=1-00:00:00 MaxCPUsPerNode=UNLIMITED Nodes=cn[1-2] State=UP "
         "TotalCPUs=128 TotalNodes=2 DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED")
GPU = ("PartitionName=gpu Default=NO MaxNodes=1 MaxTime=04:00:00 MaxCPUsPerNode=16 Nodes=gpu1 State=UP "
       "TotalCPUs=32 TotalNodes=1 MaxMemPerNode=65536")
DOWN = "PartitionName=old Default=NO MaxTime=UNLIMITED Nodes=cn1 State=DOWN TotalCPUs=64 TotalNodes=1"
NODES = [
    "NodeName=cn1 CPUTot=64 RealMemory=257000 Gres=(null) Partitions=debug,old State=IDLE",
    "NodeName=cn2 CPUTot=64 RealMemory=257000 Gres=(null) Partitions=debug State=IDLE",
    "NodeName=gpu1 CPUTot=32 RealMemory=128000 Gres=gpu:a100:4(S:0-1) Partitions=gpu State=MIXED",
]


def partition(line: str) -> Partition:
    fields = parse_key_values(line)
    return Partition(name=fields["PartitionName"], state=fields["State"], default=fields["Default"] == "YES",
                     total_cpus=fields["TotalCPUs"], total_nodes=fields["TotalNodes"], nodes=fields["Nodes"],
                     max_time=fields["MaxTime"], fields=fields)


def node(line: str) -> Node:
    fields = parse_key_values(line)
    return Node(name=fields["NodeName"], state=[fields["State"]], partitions=fields["Partitions"].split(","),
                active_features=[], cpus_total=fields["CPUTot"], cpus_allocated="0",
                real_memory=fields["RealMemory"], reason="", fields=fields)


@pytest.fixture
def partitions() -> dict[str, PartitionLimits]:
    nodes = [node(line) for line in NODES]
    return {p.name: PartitionLimits.from_scheduler(p, nodes) for p in map(partition, (DEBUG, GPU, DOWN))}


def check(raw, partitions, **overrides) -> JobOptions:
    arguments = {"system": "cluster", "partitions": partitions, "default_partition": "debug",
                 "defaults": {"nodes": 1, "cpus": 1, "memory": "2G", "gpus": 0, "runtime": "01:00:00"},
                 "settable": KNOWN_OPTIONS, "reservations": {"course"}}
    return validate_options(raw, **{**arguments, **overrides})


def refused(raw, partitions, **overrides) -> str:
    with pytest.raises(InvalidInput) as caught:
        check(raw, partitions, **overrides)
    return caught.value.description


def test_partition_limits_come_from_the_partition_and_its_nodes(partitions):
    debug, gpu, old = partitions["debug"], partitions["gpu"], partitions["old"]
    assert (debug.max_time, debug.max_nodes, debug.max_cpus, debug.max_memory, debug.max_gpus) == (
        24 * 60, 2, 64, 257000, 0)
    assert debug.default and debug.up
    assert (gpu.max_time, gpu.max_nodes, gpu.max_cpus, gpu.max_memory, gpu.max_gpus) == (240, 1, 16, 65536, 4)
    assert old.max_time is None and not old.up
    assert "4 GPUs" in gpu.describe() and "up to 04:00:00" in gpu.describe()


def test_defaults_fill_what_is_not_given(partitions):
    options = check({}, partitions)
    assert options == JobOptions(system="cluster", partition="debug", nodes=1, cpus=1, memory=2048, gpus=0,
                                 runtime=60)
    assert options.time_limit == "01:00:00"
    assert options.as_user_options()["memory"] == "2G"


def test_form_strings_and_json_numbers_are_both_accepted(partitions):
    from_form = check({"partition": "gpu", "nodes": "1", "cpus": "8", "memory": "16G", "gpus": "2",
                       "runtime": "2:30:00", "account": "proj1", "reservation": "course"}, partitions)
    from_api = check({"partition": "gpu", "nodes": 1, "cpus": 8, "memory": 16384, "gpus": 2,
                      "runtime": 150, "account": "proj1", "reservation": "course"}, partitions)
    assert from_form == from_api
    assert (from_form.cpus, from_form.memory, from_form.gpus, from_form.runtime) == (8, 16384, 2, 150)


def test_defaults_larger_than_the_partition_are_lowered_to_its_limits(partitions):
    options = check({"partition": "gpu"}, partitions,
                    defaults={"cpus": 32, "memory": "100G", "runtime": "1-00:00:00"})
    assert (options.cpus, options.memory, options.runtime) == (16, 65536, 240)


@pytest.mark.parametrize("raw, message", [
    ({"partition": "nosuch"}, "unknown partition 'nosuch'"),
    ({"runtime": "2-00:00:00"}, "runtime 2-00:00:00 is out of range"),
    ({"partition": "gpu", "runtime": "04:00:01"}, "runtime 04:01:00 is out of range"),
    ({"cpus": 65}, "cpus 65 is out of range: partition 'debug' allows between 1 and 64"),
    ({"nodes": 3}, "nodes 3 is out of range"),
    ({"nodes": 0}, "nodes 0 is out of range"),
    ({"memory": "300G"}, "memory 300G is out of range"),
    ({"gpus": 1}, "partition 'debug' has no GPUs"),
    ({"partition": "gpu", "gpus": 5}, "gpus 5 is out of range"),
    ({"partition": "old"}, "partition 'old' does not accept jobs"),
    ({"reservation": "other"}, "there is no reservation 'other'"),
    ({"cmd": "/bin/sh"}, "unknown option(s): cmd"),
    ({"partition": "debug", "exec_prefix": "touch /tmp/x", "batch_script": "x"},
     "unknown option(s): batch_script, exec_prefix"),
])
def test_invalid_options_are_refused_with_a_clear_message(partitions, raw, message):
    assert message in refused(raw, partitions)


@pytest.mark.parametrize("key, value", [
    ("account", "proj; rm -rf ~"), ("account", "$(id)"), ("account", "`id`"), ("account", "a\nb"),
    ("account", "--uid=0"), ("reservation", "x y"), ("partition", "debug\n#SBATCH --uid=0"),
    ("cpus", "1; id"), ("cpus", True), ("cpus", 1.5), ("cpus", [1]), ("cpus", "-1"), ("nodes", "0x10"),
    ("memory", "2G; id"), ("memory", "-5G"), ("memory", True), ("runtime", "1:00\n:00"),
    ("runtime", "01:00:00 --uid=0"), ("runtime", 1.5), ("partition", 3),
])
def test_injection_attempts_and_wrong_types_are_refused(partitions, key, value):
    refused({key: value}, partitions)


# Hostile values from the form (strings) and from the REST API (any JSON): each is refused with a message.
NOT_ASCII_DIGITS = ["²", "٣", "３", "߂", "⑦"]  # superscript two, Arabic-Indic, fullwidth, N'Ko, circled
HOSTILE = [
    *[(key, digit) for key in ("cpus", "nodes", "gpus", "runtime") for digit in NOT_ASCII_DIGITS],
    *[("memory", digit + "G") for digit in NOT_ASCII_DIGITS],
    ("cpus", "1" + "²"), ("runtime", "1:٣0:00"), ("runtime", "1-٣"), ("memory", "1.²G"),
    ("memory", "2\u212a"),  # KELVIN SIGN, the same letter as "k" to a case-insensitive match
    ("cpus", "1_000"), ("cpus", "+4"), ("cpus", "0x10"), ("cpus", "1e3"), ("cpus", "4.0"), ("cpus", "NaN"),
    ("cpus", "four"), ("cpus", "4 cpus"), ("runtime", "1:00:00:00:00"), ("memory", "1e3G"), ("memory", "4 GB B"),
    ("cpus", 4.0), ("cpus", 1.5), ("cpus", float("nan")), ("cpus", float("inf")), ("memory", 2.5),
    ("memory", float("inf")), ("runtime", 60.0), ("runtime", float("nan")),
    ("cpus", True), ("cpus", False), ("memory", True), ("runtime", False), ("gpus", True), ("nodes", True),
    ("cpus", [4]), ("cpus", {"count": 4}), ("memory", ["4G"]), ("memory", {}), ("runtime", [60]),
    ("partition", ["debug"]), ("partition", {"name": "debug"}), ("partition", True), ("account", ["a"]),
    ("account", 7), ("reservation", {"x": 1}),
    ("cpus", -1), ("nodes", -3), ("memory", -5), ("runtime", -60), ("cpus", "-1"), ("memory", "-5G"),
    ("runtime", "-1:00:00"), ("gpus", -1),
    ("cpus", 10 ** 9), ("cpus", 10 ** 30), ("cpus", 10 ** 400), ("memory", 10 ** 30), ("runtime", 10 ** 30),
    ("cpus", "9" * 10), ("cpus", "9" * 5000), ("nodes", "9" * 5000), ("memory", "9" * 5000 + "G"),
    ("memory", "9" * 400 + ".5T"), ("runtime", "9" * 5000), ("runtime", "9" * 5000 + "-00:00:00"),
]


@pytest.mark.parametrize("key, value", HOSTILE)
def test_hostile_values_are_refused_with_a_short_message(partitions, key, value):
    message = refused({key: value}, partitions)
    assert key in message and len(message) < 200, message


def test_only_ascii_digits_are_numbers(partitions):
    assert "cpus '²' is not a whole number" in refused({"cpus": "²"}, partitions)
    assert check({"cpus": " 4 ", "nodes": "2", "memory": "1.5g", "runtime": "90"}, partitions).cpus == 4


@pytest.mark.parametrize("value", [["cluster"], {"name": "cluster"}, 3, True, "٣", "x" * 5000])
def test_hostile_systems_are_refused_with_a_short_message(value):
    with pytest.raises(InvalidInput) as caught:
        choose_system({"system": value}, ["cluster"], "cluster")
    assert "system" in caught.value.description and len(caught.value.description) < 200


@pytest.mark.parametrize("raw, message", [
    ({"cpus ": 1}, "unknown option(s): cpus "), ({"CPUS": 1}, "unknown option(s): CPUS"),
    ({f"key{n}": n for n in range(1000)}, "and 995 more"), ({"x" * 5000: 1}, "unknown option(s): xxx"),
    ({"system": "cluster", "user_options": {"cpus": 1}}, "unknown option(s): user_options"),
])
def test_unknown_keys_are_refused_with_a_short_message(partitions, raw, message):
    description = refused(raw, partitions)
    assert message in description and len(description) < 300, description


@pytest.mark.parametrize("raw", [[("cpus", 1)], "cpus=1", 4, None])
def test_options_must_be_an_object(partitions, raw):
    assert "user_options must be an object" in refused(raw, partitions)
    with pytest.raises(InvalidInput, match="user_options must be an object"):
        choose_system(raw, ["cluster"], "cluster")


async def test_refused_options_are_a_400_with_no_traceback_in_the_hub_log(caplog):
    class RefusingSpawner(FirecrestSpawner):
        async def validate_user_options(self, user_options):
            raise SpawnFailure("Invalid options: cpus '²' is not a whole number", reason="invalid-options")

    with pytest.raises(SpawnFailure) as refusal:
        await RefusingSpawner()._run_apply_user_options({"cpus": "²"})
    assert refusal.value.status_code == 400
    assert "cpus '²' is not a whole number" in refusal.value.jupyterhub_message
    assert [record for record in caplog.records if record.exc_info] == []


async def test_an_uploaded_file_in_the_form_is_refused_as_an_unknown_option(partitions):
    class FormSpawner(FirecrestSpawner):
        async def validate_user_options(self, user_options):
            return check(user_options, partitions)

    upload = HTTPFile(filename="cpus.txt", body=b"4", content_type="text/plain")
    form = FormSpawner()
    with pytest.raises(InvalidInput, match="unknown option.*cpus_file"):
        await form.options_from_form_data({"cpus": ["2"], "cpus_file": [upload]})
    assert (await form.options_from_form_data({"cpus": ["2"], "memory": ["  "]}))["cpus"] == 2


def test_options_fixed_by_the_administrator_cannot_be_chosen(partitions):
    settable = set(KNOWN_OPTIONS) - {"account"}
    assert "set by the administrator" in refused({"account": "rich"}, partitions, settable=settable)
    assert check({}, partitions, settable=settable, defaults={"account": "course"}).account == "course"


def test_empty_values_mean_the_default(partitions):
    assert check({"partition": "", "account": None, "runtime": ""}, partitions) == check({}, partitions)


def test_system_must_be_a_configured_one():
    assert choose_system({}, ["cluster", "other"], "cluster") == "cluster"
    assert choose_system({"system": "other"}, ["cluster", "other"], "cluster") == "other"
    with pytest.raises(InvalidInput, match="unknown system 'elsewhere'"):
        choose_system({"system": "elsewhere"}, ["cluster"], "cluster")


@pytest.mark.parametrize("text, minutes", [
    ("30", 30), ("30:30", 31), ("01:00:00", 60), ("10:00:00", 600), ("1-00", 1440), ("1-02:03", 1563),
    ("2-00:00:00", 2880), ("0:0:59", 1),
])
def test_runtime_follows_sbatch_time_syntax(text, minutes):
    assert parse_runtime(text) == minutes


def test_runtime_is_printed_for_sbatch():
    assert format_runtime(90) == "01:30:00"
    assert format_runtime(1563) == "1-02:03:00"


@pytest.mark.parametrize("body, accepted", [
    ({"port": 8888}, True),
    ({"port": 1234, "exec_prefix": "touch /tmp/x"}, False),
    ({"port": 1234, "host": "10.0.0.1"}, False),
    ({"exec_prefix": "touch /tmp/x"}, False),
    ({"port": "8888"}, False), ({"port": True}, False), ({"port": 0}, False), ({"port": 70000}, False),
    ({"port": 88.5}, False), ([8888], False), (None, False), ({}, False),
])
def test_a_port_report_is_exactly_one_integer_port(body, accepted):
    if accepted:
        assert parse_port_report(body) == body["port"]
    else:
        with pytest.raises(ValueError):
            parse_port_report(body)


def test_batchspawners_handler_is_replaced_by_ours():
    routes = [route for route in apihandlers.default_handlers if route[0] == r"/api/batchspawner"]
    assert routes == [(r"/api/batchspawner", PortReportHandler)]


def test_a_spawner_takes_a_port_only_while_it_waits_for_one():
    spawner = FirecrestSpawner()
    with pytest.raises(PortRefused):
        spawner.receive_port(8888)
    spawner._awaiting_port = True
    spawner.receive_port(8888)
    assert spawner.port == 8888
    with pytest.raises(PortRefused):
        spawner.receive_port(9999)
    assert spawner.port == 8888


@pytest.mark.parametrize("nodelist, first", [
    ("localhost", "localhost"), ("nid[001-004,010]", "nid001"), ("cn5,cn7", "cn5"),
    ("gpu[3,5]-ib", "gpu3-ib"), ("nid[010-011],gpu1", "nid010"),
])
def test_the_server_runs_on_the_first_node(nodelist, first):
    assert first_node(nodelist) == first


def test_the_batch_script_holds_validated_options_and_quoted_values():
    spawner = FirecrestSpawner(notebook_env="/opt/nb", req_prologue="module load python")
    spawner.job_environment = lambda: {"JUPYTERHUB_API_TOKEN": "t0k", "HOSTILE": "x'; touch /tmp/pwned; '$(id)"}
    options = JobOptions(system="cluster", partition="gpu", nodes=1, cpus=8, memory=16384, gpus=2, runtime=150)
    script = spawner.render_batch_script(options)
    assert script.startswith("#!/bin/bash\n#SBATCH ")
    for directive in ("--cpus-per-task=8", "--mem=16384M", "--gres=gpu:2", "--output=.firecrest-hub/notebook-%j.log"):
        assert f"#SBATCH {directive}\n" in script
    assert "export PATH=/opt/nb/bin:" in script
    assert "export HOSTILE='x'\"'\"'; touch /tmp/pwned; '\"'\"'$(id)'\n" in script
    assert "module load python\n/opt/nb/bin/firecrest-singleuser /opt/nb/bin/jupyterhub-singleuser" in script
    assert "JPY_API_TOKEN" not in script


def test_secrets_of_the_hub_are_not_exported(monkeypatch):
    monkeypatch.setenv("CONFIGPROXY_AUTH_TOKEN", "proxy-secret")
    monkeypatch.setenv("JPY_COOKIE_SECRET", "cookie-secret")
    spawner = FirecrestSpawner()
    spawner.get_env = lambda: {"JUPYTERHUB_API_TOKEN": "t", "JPY_API_TOKEN": "t", "JUPYTERHUB_USER": "alice"}
    assert spawner.job_environment() == {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_USER": "alice"}


# batchspawner's options (its classes in FirecrestSpawner's ancestry, less JupyterHub's own Spawner options
# that it re-declares, such as start_timeout and ip), read from the installed batchspawner.
BATCHSPAWNER_OPTIONS = {
    name
    for cls in FirecrestSpawner.__mro__ if cls.__module__.startswith("batchspawner")
    for name, trait in vars(cls).items() if isinstance(trait, TraitType) and trait.metadata.get("config")
} - set(Spawner.class_trait_names(config=True))
USED_BATCHSPAWNER_OPTIONS = {"batch_script", "req_prologue", "req_epilogue", "req_options", "startup_poll_interval"}
REFUSED_BATCHSPAWNER_OPTIONS = sorted(BATCHSPAWNER_OPTIONS - USED_BATCHSPAWNER_OPTIONS)


def test_every_batchspawner_option_is_either_used_or_refused():
    refused_here = {name for name, trait in FirecrestSpawner.class_traits().items() if isinstance(trait, UnusedOption)}
    assert USED_BATCHSPAWNER_OPTIONS < BATCHSPAWNER_OPTIONS
    assert refused_here == set(REFUSED_BATCHSPAWNER_OPTIONS)
    assert len(REFUSED_BATCHSPAWNER_OPTIONS) == 24


@pytest.mark.parametrize("name", REFUSED_BATCHSPAWNER_OPTIONS)
@pytest.mark.parametrize("value", ["4G", 4])
def test_a_batchspawner_option_without_effect_is_refused_saying_what_to_use(name, value):
    refusal = rf"^FirecrestSpawner does not use batchspawner's {name}; \S.{{20,}}"
    with pytest.raises(TraitError, match=refusal) as caught:
        FirecrestSpawner(config=Config({"FirecrestSpawner": {name: value}}))
    advice = str(caught.value).split("; ", 1)[1]
    assert "c." in advice  # it names the option (or section) that does the job
    assert FirecrestSpawner().trait_metadata(name, "help").startswith("Not used by FirecrestSpawner, and refused: ")


@pytest.mark.parametrize("section", ["SlurmSpawner", "BatchSpawnerBase", "Spawner"])
def test_a_batchspawner_option_is_refused_in_any_section_the_spawner_reads(section):
    with pytest.raises(TraitError, match="does not use batchspawner's req_memory; use c.FirecrestSpawner.option_defa"):
        FirecrestSpawner(config=Config({section: {"req_memory": "8G"}}))


def test_jupyterhubs_own_spawner_options_keep_working():
    config = Config({
        "Spawner": {"environment": {"OMP_NUM_THREADS": "4"}, "env_keep": ["LANG"], "default_url": "/lab",
                    "start_timeout": 600},
        "FirecrestSpawner": {"ip": "127.0.0.1", "http_timeout": 90, "poll_interval": 20, "args": ["--debug"]},
    })
    spawner = FirecrestSpawner(config=config)
    assert (spawner.environment, spawner.env_keep, spawner.default_url) == ({"OMP_NUM_THREADS": "4"}, ["LANG"], "/lab")
    assert (spawner.start_timeout, spawner.ip, spawner.http_timeout, spawner.poll_interval) == (
        600, "127.0.0.1", 90, 20)
    assert "--debug" in spawner.get_args()


def test_the_batchspawner_options_it_uses_reach_the_batch_script():
    spawner = FirecrestSpawner(notebook_env="/opt/nb", req_prologue="module load python", req_epilogue="echo done",
                               req_options="--qos=interactive --constraint=mc")
    spawner.job_environment = lambda: {}
    options = JobOptions(system="cluster", partition="debug", nodes=1, cpus=1, memory=1024, gpus=0, runtime=60)
    script = spawner.render_batch_script(options)
    assert "#SBATCH --qos=interactive --constraint=mc\n" in script
    assert script.index("module load python\n") < script.index("/opt/nb/bin/firecrest-singleuser") < script.index(
        "echo done\n")
    spawner.batch_script = "#!/bin/sh\n#SBATCH --cpus-per-task={{ options.cpus }} {{ extra_directives }}\n"
    assert spawner.render_batch_script(options) == (
        "#!/bin/sh\n#SBATCH --cpus-per-task=1 --qos=interactive --constraint=mc\n")


async def test_a_starting_job_is_looked_at_every_startup_poll_interval(monkeypatch):
    looks = iter([JobStatus.PENDING, JobStatus.PENDING, JobStatus.NOTFOUND])

    class StartingSpawner(FirecrestSpawner):
        async def query_job_status(self):
            return next(looks)

    async def no_sftp():
        raise ClusterUnreachable("no SFTP in this test")  # what a session says when SFTP fails

    waits, real_sleep = [], asyncio.sleep

    async def sleep(seconds):
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    spawner = StartingSpawner(startup_poll_interval=0.25)
    spawner.job_id = "42"
    with pytest.raises(SpawnFailure, match="job 42 left the queue before JupyterLab started"):
        await spawner._wait_until_answering(SimpleNamespace(sftp=no_sftp))
    assert waits == [0.25, 0.25]


@pytest.mark.parametrize("name, beyond", [("startup_poll_interval", 0), ("limits_max_age", -1), ("stop_timeout", -1),
                                          ("output_tail_bytes", -1)])
def test_the_spawners_numbers_have_bounds(name, beyond):
    with pytest.raises(TraitError, match=name):
        FirecrestSpawner(config=Config({"FirecrestSpawner": {name: beyond}}))


def job(state: str, reason: str = "None", nodelist: str = "") -> Job:
    return Job(jobid="42", name="jupyterhub-notebook", user="alice", account="", partition="debug", state=state,
               reason=reason, nodes="1", nodelist=nodelist, submit_time="", start_time="", time="0:00",
               time_limit="1:00:00", time_left="1:00:00", work_dir="", job_file="", job_file_out="",
               job_file_err="")


def test_progress_tells_where_the_job_is():
    spawner = FirecrestSpawner()
    spawner.job_options = JobOptions(system="cluster", partition="debug", nodes=1, cpus=2, memory=4096, gpus=0,
                                     runtime=60)
    assert "Submitting your notebook job to cluster: partition debug, 2 CPUs, 4G" in progress_event(spawner)["message"]
    spawner.job_id = "42"
    spawner.job = job("PENDING", "Resources")
    assert progress_event(spawner)["message"] == (
        "Job 42 is queued in partition debug: it waits for free CPUs or memory (Slurm: Resources)")
    spawner.job = job("PENDING", "QOSGrpNodeLimit")
    assert progress_event(spawner)["message"] == "Job 42 is queued in partition debug: Slurm: QOSGrpNodeLimit"
    spawner.job = job("RUNNING", nodelist="cn5")
    assert "starting on node cn5" in progress_event(spawner)["message"]
    spawner.port = 8888
    assert progress_event(spawner)["message"] == (
        "JupyterLab is starting on node cn5, port 8888; waiting for it to answer")
    spawner.job = job("PENDING")  # the port came before a queue read showed the job running
    assert progress_event(spawner)["message"] == "JupyterLab is starting on port 8888; waiting for it to answer"
    spawner.scheduler_problem = "the Slurm controller does not answer"
    assert "retrying" in progress_event(spawner)["message"]


class FakeCache:
    """The shared job-state cache as poll() sees it: a snapshot, or the error of a failed read."""

    def __init__(self, answer):
        self.answer = answer

    async def snapshot(self):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def polling_spawner(cache: FakeCache) -> FirecrestSpawner:
    class PollingSpawner(FirecrestSpawner):
        backend = SimpleNamespace(scheduler=SimpleNamespace(job_cache=lambda system: cache))

        async def session(self):
            return SimpleNamespace(system="cluster", account="alice")

    spawner = PollingSpawner()
    spawner.load_state({"job_id": "42", "job_system": "cluster"})
    return spawner


async def test_poll_keeps_a_running_server_through_scheduler_errors():
    cache = FakeCache(QueueSnapshot((job("RUNNING", nodelist="cn5"),), time.monotonic()))
    spawner = polling_spawner(cache)
    assert await spawner.poll() is None
    cache.answer = SchedulerUnavailable("the Slurm controller does not answer")
    assert await spawner.poll() is None
    assert spawner.job_id == "42" and spawner.scheduler_problem
    cache.answer = QueueSnapshot((), time.monotonic())
    assert await spawner.poll() == 1
    assert spawner.job_id == ""


async def test_a_job_not_yet_listed_is_not_taken_for_gone():
    spawner = polling_spawner(FakeCache(QueueSnapshot((), time.monotonic())))
    spawner._submitted_at = time.monotonic()
    assert await spawner.poll() is None
    spawner._submitted_at = time.monotonic() - 60
    assert await spawner.poll() == 1


async def test_another_users_job_is_not_ours():
    bobs = dataclasses.replace(job("RUNNING"), user="bob")
    spawner = polling_spawner(FakeCache(QueueSnapshot((bobs,), time.monotonic())))
    assert await spawner.poll() == 1


@pytest.mark.cluster
def test_the_hub_refuses_unicode_digits_with_a_400_and_submits_nothing(admin_token, demo_dir):
    def alices_jobs() -> str:
        return subprocess.run(["squeue", "--noheader", "--user=alice", "--format=%i"], check=True,
                              capture_output=True, text=True, timeout=30).stdout

    headers = {"Authorization": f"token {admin_token}"}
    assert requests.get(f"{HUB_URL}/hub/api/users/alice", headers=headers, timeout=30).json()["servers"] == {}
    hub_log = demo_dir / "logs" / "hub.log"
    log_start, jobs_before = hub_log.stat().st_size, alices_jobs()
    response = requests.post(f"{HUB_URL}/hub/api/users/alice/server", headers=headers, timeout=60,
                             json={"user_options": {"cpus": "²"}})
    assert response.status_code == 400, response.text
    assert "Invalid options: cpus '²' is not a whole number" in response.json()["message"]
    assert requests.get(f"{HUB_URL}/hub/api/users/alice", headers=headers, timeout=30).json()["servers"] == {}
    assert alices_jobs() == jobs_before
    with hub_log.open(errors="replace") as log:
        log.seek(log_start)
        written = log.read()
    assert "Not starting alice's server" in written and "Exception applying user_options" not in written
