"""No value a user sends can become an option of a command run on a system.

Every command object in the code base is built with hostile values (`-V`, `--help`, `-rf`) for each thing a
user may send it. It must either refuse them (InvalidInput) or carry each one where no tool reads options:
as a word after the last `--`, inside its own `--flag=value` or `NAME=value` word, as a positional
parameter of a `bash -c` script, or not in the argv at all (stdin). A test also fails when a command class
appears that the table below does not cover. One test (marked `cluster`) asks the running service as alice.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import shlex
from datetime import datetime

import pytest

import firecrest_hub
from compute_support import call
import spawner
from firecrest_hub.access import LookUpUid
from firecrest_hub.compute import JobRequest
from firecrest_hub.compute.slurm_commands import (
    CancelJob, ReadAccounting, ReadQueue, RunInJob, ShowAccounts, ShowBatchScript, ShowNodes, ShowPartitions,
    ShowReservations, SubmitBatchJob,
)
from firecrest_hub.compute.validation import check_node_list
from firecrest_hub.errors import InvalidInput
from firecrest_hub.filesystem import commands as files
from firecrest_hub.jobs.submission import FindMarkedJobs
from firecrest_hub.remote import RemoteCommand, to_shell
from firecrest_hub.reservations import ReservationRequest
from firecrest_hub.reservations import commands as reserving
from firecrest_hub.staging import commands as staging
from firecrest_hub.status.probes import CheckDirectory, CheckLogin, PingScheduler
from firecrest_hub.transfers import Rsync

HOSTILE = ["-V", "--help", "-rf"]
LIMITS = staging.CurlLimits()
URL = "https://s3.example.org/bucket/key?X-Amz-Signature=abc"
START, END = datetime(2027, 6, 1, 8), datetime(2027, 6, 1, 9)


def _reservation(name: str = "r1", node_type: str = "debug", account: str | None = "demo") -> ReservationRequest:
    return ReservationRequest(name, 1, node_type, START, END, account)


# command class -> what builds it from one hostile value, in every place a user's value can reach.
FACTORIES = {
    files.FileType: lambda v: files.FileType(v),
    files.StatFile: lambda v: [files.StatFile(v, True), files.StatFile(v, False)],
    files.OwnerNames: lambda v: files.OwnerNames(v),
    files.FilePart: lambda v: [files.FilePart("head", v, limit=10, grep=v), files.FilePart("tail", v, limit=10)],
    files.Checksum: lambda v: files.Checksum(v),
    files.Whoami: lambda v: [files.Whoami(True), files.Whoami(False)],
    files.Copy: lambda v: files.Copy(v, v),
    files.Move: lambda v: files.Move(v, v),
    files.RemoveTree: lambda v: files.RemoveTree(v),
    # "-w" is a mode (take write permission away) that must still not be an option.
    files.ChangeMode: lambda v: [files.ChangeMode(v, "-w"), files.ChangeMode(v, "u+x")],
    files.ChangeOwner: lambda v: files.ChangeOwner(v, "alice", "users"),
    files.Compress: lambda v: [files.Compress(v, v, True), files.Compress(f"/home/a/{v}", v, False)],
    files.Extract: lambda v: [files.Extract(v + ".tgz", v, None), files.Extract(v, v, ".zip")],
    SubmitBatchJob: lambda v: [
        SubmitBatchJob(JobRequest(script="#!/bin/bash\n", name=v, workdir=v, comment=v, env={"X": v},
                                  time_limit="10", nodes=1)),
        SubmitBatchJob(JobRequest(script_path=v, workdir=v, standard_input=v, standard_output=v, standard_error=v)),
    ],
    ReadQueue: lambda v: ReadQueue(),
    CancelJob: lambda v: CancelJob(v),
    ReadAccounting: lambda v: ReadAccounting(v, start_time=v, end_time=v),
    ShowNodes: lambda v: ShowNodes([v]),
    ShowPartitions: lambda v: ShowPartitions(),
    ShowReservations: lambda v: ShowReservations(),
    ShowAccounts: lambda v: ShowAccounts(v),
    ShowBatchScript: lambda v: ShowBatchScript("42"),
    # The command line is bash's -c script, one word after `--`: it never reaches srun's options.
    RunInJob: lambda v: RunInJob("42", v),
    FindMarkedJobs: lambda v: FindMarkedJobs(v, v),
    Rsync: lambda v: Rsync(v, v),
    LookUpUid: lambda v: LookUpUid(v),
    CheckLogin: lambda v: CheckLogin(5),
    PingScheduler: lambda v: PingScheduler(5),
    CheckDirectory: lambda v: CheckDirectory(v, 5),
    staging.CurlTransfer: lambda v: staging.CurlTransfer(URL, LIMITS),
    staging.FetchObject: lambda v: staging.FetchObject(URL, v, LIMITS),
    staging.PushFile: lambda v: staging.PushFile(URL, v, LIMITS),
    staging.FetchPieces: lambda v: [staging.FetchPieces(v, [(0, 1, URL)], LIMITS, ranged=True),
                                    staging.FetchPieces(v, [(0, 1, URL)], LIMITS, ranged=False, wait=5)],
    staging.AllocatedBytes: lambda v: staging.AllocatedBytes(v),
    staging.PushParts: lambda v: staging.PushParts(v, [(1, 0, 1, URL)], LIMITS),
    staging.Niced: lambda v: staging.Niced(staging.PushFile(URL, v, LIMITS), 19),
    staging.Sha256: lambda v: staging.Sha256(v, 60),
    # Every user value of the reservation commands is refused when hostile (REFUSED below); built with
    # good values, their argv is still checked.
    reserving.ShowReservation: lambda v: reserving.ShowReservation("r1"),
    reserving.ListAccounts: lambda v: reserving.ListAccounts("alice"),
    reserving.CreateReservation: lambda v: reserving.CreateReservation(_reservation(), "alice",
                                                                       ("PartitionName", "debug")),
    reserving.UpdateReservation: lambda v: reserving.UpdateReservation(_reservation(account=None),
                                                                       ("Features", "debug")),
    reserving.DeleteReservation: lambda v: reserving.DeleteReservation("r1"),
}

# Each input that must be refused: it would otherwise reach a tool as an operand it cannot tell from an option.
REFUSED = {
    "node name": lambda v: ShowNodes([v]),
    "job id to cancel": lambda v: CancelJob(v),
    "job id to attach to": lambda v: RunInJob(v, "true"),
    "job id of a script": lambda v: ShowBatchScript(v),
    "job id in accounting": lambda v: ReadAccounting("alice", jobids=[v]),
    "account": lambda v: JobRequest(script="#!/bin/bash\n", account=v),
    "partition": lambda v: JobRequest(script="#!/bin/bash\n", partition=v),
    "reservation": lambda v: JobRequest(script="#!/bin/bash\n", reservation=v),
    "time limit": lambda v: JobRequest(script="#!/bin/bash\n", time_limit=v),
    "environment variable name": lambda v: JobRequest(script="#!/bin/bash\n", env={v: "x"}),
    "head count": lambda v: files.FilePart("head", "/home/a/f", limit=10, lines=v),
    "tail bytes": lambda v: files.FilePart("tail", "/home/a/f", limit=10, bytes=v),
    "chown owner": lambda v: files.ChangeOwner("/home/a/f", v, None),
    "chown group": lambda v: files.ChangeOwner("/home/a/f", None, v),
    "archive extension": lambda v: files.Extract("/home/a/x.zip", "/home/a/out", v),
    "reservation to show": lambda v: reserving.ShowReservation(v),
    "reservation to delete": lambda v: reserving.DeleteReservation(v),
    "reservation to create": lambda v: reserving.CreateReservation(_reservation(v), "alice", ("PartitionName", "d")),
    "reservation's account": lambda v: reserving.CreateReservation(_reservation(account=v), "alice",
                                                                   ("PartitionName", "debug")),
    "reservation's user": lambda v: reserving.CreateReservation(_reservation(), v, ("PartitionName", "debug")),
    "account member": lambda v: reserving.ListAccounts(v),
    "reservation's node type": lambda v: reserving.UpdateReservation(_reservation(node_type=v), ("Features", v)),
}

# A word that carries a value glued to its option or its name, so that no tool reads the value as an option.
_OWN_WORD = re.compile(r"--[a-z][a-z0-9-]*=.*|[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)


def _commands(value: str) -> list[RemoteCommand]:
    commands = []
    for factory in FACTORIES.values():
        try:
            built = factory(value)
        except InvalidInput:
            continue
        commands += built if isinstance(built, list) else [built]
    return commands


# The service's `bash -c` scripts that take data as their first positional parameters (paths, never read as
# options), and how many: `bash -c SCRIPT NAME ARGS...`. A script that hands its parameters on to a tool
# as options is not listed, so its parameters are checked like any tool's words.
DATA_PARAMETERS = {files.EXTRACT_SCRIPT: 3, staging.FETCH_PIECES_SCRIPT: 3, staging.PUSH_PARTS_SCRIPT: 1}


def assert_no_option_from(argv: list[str], value: str) -> None:
    assert shlex.split(to_shell(argv)) == argv, argv  # the quoting round-trips: no word splits or joins
    script = argv[2] if argv[:2] == ["bash", "-c"] else None  # the service's own text
    data = range(4, 4 + DATA_PARAMETERS.get(script, 0))
    end_of_options = max((index for index, word in enumerate(argv) if word == "--"), default=len(argv))
    for index, word in enumerate(argv):
        if (script is not None and index == 2) or value not in word or index > end_of_options or index in data:
            continue
        assert word != value and _OWN_WORD.fullmatch(word), (value, word, argv)


def _command_classes(package) -> set[type]:
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not module.name.endswith(".__main__"):  # importing it would start the service
            importlib.import_module(module.name)
    found, pending = set(), [RemoteCommand]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            # Base classes that leave argv to their subclasses build nothing to run.
            if subclass.argv is not RemoteCommand.argv and subclass.__module__.startswith(package.__name__):
                found.add(subclass)
    return found


def test_every_command_class_is_covered():
    classes = _command_classes(firecrest_hub) | _command_classes(spawner)
    missing = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in classes - set(FACTORIES))
    assert not missing, f"build these with hostile values in FACTORIES: {missing}"


@pytest.mark.parametrize("value", HOSTILE)
def test_no_hostile_value_reaches_a_tool_as_an_option(value):
    commands = _commands(value)
    assert len(commands) >= len(FACTORIES) - 2  # only ShowNodes and CancelJob refuse every hostile value
    for command in commands:
        assert_no_option_from(command.argv(), value)
        stdin = command.stdin()
        assert stdin is None or isinstance(stdin, (str, bytes))  # on stdin nothing is an option


@pytest.mark.parametrize("label", sorted(REFUSED))
@pytest.mark.parametrize("value", HOSTILE)
def test_values_that_would_be_operands_are_refused(label, value):
    with pytest.raises(InvalidInput):
        REFUSED[label](value)


def test_node_lists_are_refused_unless_each_name_starts_with_a_letter_or_digit():
    for good in ("localhost", "nid001", "nid[001-004,010]", "rack[1-2]-n[01-08],login1", "n_1.x", "0node"):
        check_node_list(good)
    for bad in ("-V", "--help", "localhost,-V", "nid[001-004", "[1-2]n", "a b", "n;id", "n,", ",n", "", "a" * 5000):
        with pytest.raises(InvalidInput, match="host name or host list"):
            check_node_list(bad)


def test_scontrol_reads_node_names_after_the_end_of_its_options():
    assert ShowNodes(["nid[01-02]"]).argv() == ["scontrol", "--oneliner", "--", "show", "node", "nid[01-02]"]


def test_the_check_itself_catches_a_value_before_the_end_of_options():
    with pytest.raises(AssertionError):
        assert_no_option_from(["scontrol", "show", "node", "-V"], "-V")
    with pytest.raises(AssertionError):
        assert_no_option_from(["env", "--", "X=1", "sbatch", "-V", "--", "job.sh"], "-V")
    with pytest.raises(AssertionError):
        assert_no_option_from(["bash", "-c", "script", "-V"], "-V")  # -V would be the script's $0
    with pytest.raises(AssertionError):  # a script that is not known to take data hands "$@" on as options
        assert_no_option_from(["bash", "-c", 'exec sbatch "$@"', "name", "-V"], "-V")
    with pytest.raises(AssertionError):  # beyond its data parameters
        assert_no_option_from(["bash", "-c", staging.PUSH_PARTS_SCRIPT, "name", "/f", "-V"], "-V")


@pytest.mark.cluster
@pytest.mark.parametrize("name", ["-V", "--help"])
def test_an_option_as_a_node_name_is_refused_by_the_api(alice_token, name):
    response = call("GET", f"compute/nodes/{name}", alice_token)
    assert response.status_code == 400, response.text
    assert response.json()["description"] == (
        f"node name {name!r} is not a host name or host list (names start with a letter or digit, "
        "e.g. nid001 or nid[001-004,010])")
    assert "task_id" not in response.json()
