"""Reservations without the cluster: the commands' argv and their reading of scontrol's answers, the checks
and limits with v1's messages, and the handlers in-process (tests/handler_support.py) with a system that
has a reservation account: hostile values are refused before anything runs, the operator commands run as
the reservation account with Users=<the caller>, and only the caller's reservations are theirs."""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest import mock

import handler_support
import pytest
import pytest_asyncio
from handler_support import json_of, serve_api
from traitlets import TraitError
from traitlets.config import Config

from firecrest_hub.access import Access
from firecrest_hub.config import System
from firecrest_hub.errors import (
    DependencyUnavailable,
    InvalidInput,
    PermissionDenied,
    ReservationRefused,
    SchedulerUnavailable,
)
from firecrest_hub.identity import AccountMapper
from firecrest_hub.remote import CommandResult
from firecrest_hub.reservations import ReservationRequest, Reservations, reservation_json
from firecrest_hub.reservations.commands import (
    CreateReservation,
    DeleteReservation,
    ListAccounts,
    ShowReservation,
    UpdateReservation,
)

HOSTILE = ["-V", "--help", "a b", "x;id", "$(id)", "a\nb", "", "é"]
NOW = datetime(2027, 6, 1, 8, 0, 0)
START, END = datetime(2027, 6, 2, 8, 0, 0), datetime(2027, 6, 2, 12, 0, 0)
REQUEST = ReservationRequest("exp1", 2, "debug", START, END, "demo")
# scontrol --oneliner show reservation, as Slurm 22.05 prints it.
LINE = ("ReservationName={name} StartTime=2027-06-02T08:00:00 EndTime=2027-06-02T12:00:00 Duration=04:00:00 "
        "Nodes=localhost NodeCnt=1 CoreCnt=64 Features=(null) PartitionName=debug Flags= TRES=cpu=64 "
        "Users={users} Groups=(null) Accounts=demo Licenses=(null) State=INACTIVE BurstBuffer=(null) Watts=n/a "
        "MaxStartDelay=(null)\n")


def result(stdout: str = "", stderr: str = "", exit_status: int = 0) -> CommandResult:
    return CommandResult(("scontrol",), exit_status, stdout, stderr)


def user_words(argv: list[str]) -> list[str]:
    """The words after `--`: each must be a keyword or a Key=Value word (none can act as an option)."""
    return argv[argv.index("--") + 1:]


# -- the commands ------------------------------------------------------------------------------------


def test_create_puts_every_value_in_its_own_key_value_word_after_a_double_dash():
    argv = CreateReservation(REQUEST, "alice", ("PartitionName", "debug")).argv()
    assert argv == ["scontrol", "--", "create", "reservation", "ReservationName=exp1",
                    "StartTime=2027-06-02T08:00:00", "EndTime=2027-06-02T12:00:00", "NodeCnt=2",
                    "PartitionName=debug", "Users=alice", "Accounts=demo"]
    assert all(not word.startswith("-") for word in user_words(argv))


def test_update_and_delete_and_the_reads():
    change = ReservationRequest("exp1", 1, "gpu", START, END)
    assert UpdateReservation(change, ("Features", "gpu")).argv() == [
        "scontrol", "--", "update", "ReservationName=exp1", "StartTime=2027-06-02T08:00:00",
        "EndTime=2027-06-02T12:00:00", "NodeCnt=1", "Features=gpu"]
    assert DeleteReservation("exp1").argv() == ["scontrol", "--", "delete", "ReservationName=exp1"]
    assert ShowReservation("exp1").argv() == ["scontrol", "--oneliner", "--", "show", "reservation", "exp1"]
    assert ListAccounts("alice").argv() == ["sacctmgr", "--noheader", "--parsable2", "show", "assoc",
                                            "user=alice", "format=account"]


@pytest.mark.parametrize("bad", HOSTILE)
def test_no_command_exists_with_a_value_that_could_be_misread(bad):
    for make in (lambda: ShowReservation(bad), lambda: DeleteReservation(bad), lambda: ListAccounts(bad),
                 lambda: CreateReservation(REQUEST, bad, ("PartitionName", "debug")),
                 lambda: CreateReservation(ReservationRequest(bad, 1, "debug", START, END, "demo"), "alice",
                                           ("PartitionName", "debug")),
                 lambda: CreateReservation(ReservationRequest("r", 1, "debug", START, END, bad), "alice",
                                           ("PartitionName", "debug")),
                 lambda: UpdateReservation(ReservationRequest("r", 1, bad, START, END), ("Features", bad))):
        with pytest.raises(InvalidInput):
            make()


def test_a_node_count_must_be_a_positive_integer_and_the_place_a_partition_or_feature():
    for nodes in (0, -1, True, "1"):
        with pytest.raises(InvalidInput):
            UpdateReservation(ReservationRequest("r", nodes, "debug", START, END), ("PartitionName", "debug"))
    with pytest.raises(ValueError):
        UpdateReservation(ReservationRequest("r", 1, "debug", START, END), ("Nodes", "localhost"))


def test_scontrols_answers_are_read_into_typed_results():
    create = CreateReservation(REQUEST, "alice", ("PartitionName", "debug"))
    assert create.parse(result("Reservation created: exp1\n")) == "Reservation created: exp1"
    busy = result("Note, unless nodes are directly requested a reservation must exist in a single partition.\n",
                  "Error creating the reservation: Requested nodes are busy\n", 1)
    with pytest.raises(ReservationRefused, match="^Error creating the reservation: Requested nodes are busy$"):
        create.parse(busy)
    with pytest.raises(DependencyUnavailable, match="lacks Slurm operator rights"):
        create.parse(result(stderr="Error creating the reservation: Invalid user id\n", exit_status=1))
    with pytest.raises(SchedulerUnavailable):
        create.parse(result(stderr="scontrol: error: Unable to contact slurm controller (connect failure)\n",
                            exit_status=1))
    with pytest.raises(ReservationRefused, match="Requested reservation is invalid"):
        DeleteReservation("x").parse(result(stderr="delete_reservation ReservationName=x: Requested reservation "
                                                   "is invalid\n", exit_status=1))


def test_show_reservation_reads_one_or_none():
    show = ShowReservation("exp1")
    reservation = show.parse(result(LINE.format(name="exp1", users="alice")))
    assert (reservation.name, reservation.users, reservation.accounts) == ("exp1", "alice", "demo")
    assert show.parse(result("Reservation exp1 not found\n", exit_status=1)) is None
    assert reservation_json(reservation) == {
        "reservationname": "exp1", "starttime": "2027-06-02T08:00:00", "endtime": "2027-06-02T12:00:00",
        "duration": "04:00:00", "nodes": "localhost", "nodecnt": "1", "corecnt": "64", "features": "(null)",
        "partitionname": "debug", "flags": "", "users": "alice", "accounts": "demo", "licenses": "(null)",
        "state": "INACTIVE", "burstbuffer": "(null)", "watts": "n/a"}


def test_list_accounts_reads_one_account_a_line():
    assert ListAccounts("alice").parse(result("demo\nproj2\ndemo\n")) == {"demo", "proj2"}


# -- the checks and the limits -----------------------------------------------------------------------

LIMITS = Reservations(None, config=Config({"Reservations": {"max_nodes": 4, "max_duration": 6 * 3600,
                                                            "max_start_ahead": 30 * 86400, "max_per_user": 2}}))
GOOD = {"reservation": "exp1", "account": "demo", "numberOfNodes": "2", "nodeType": "debug",
        "starttime": "2027-06-02T08:00:00", "endtime": "2027-06-02T12:00:00"}


def created(**changes):
    form = {**GOOD, **changes}
    return LIMITS.creation(form.get, now=NOW)


def test_a_good_form_is_a_request():
    assert created() == REQUEST
    assert LIMITS.change("exp1", GOOD.get, now=NOW) == ReservationRequest("exp1", 2, "debug", START, END)


@pytest.mark.parametrize(("changes", "message"), [
    *[({name: None}, f"'{name}' form data input missing") for name in GOOD],
    *[({"numberOfNodes": value}, "'numberOfNodes' parameter is not valid. It must be a whole number from 1 to 4")
      for value in ("0", "-3", "", "abc", "²", "٣", "1_0", "1.0", " 1", "5", "9" * 30)],
    *[({name: value}, f"'{name}' parameter format is not valid")
      for name in ("reservation", "account", "nodeType") for value in HOSTILE],
    *[({name: value}, f"'{name}' parameter format is not valid. It should be YYYY-MM-DDTHH:MM:SS")
      for name in ("starttime", "endtime")
      for value in ("", "2day", "2027-06-02T08:00", "2027-6-2T8:00:00", "2027-13-02T08:00:00", "2027-06-02 08:00:00",
                    "２０２７-06-02T08:00:00", "now+1hour")],
    ({"endtime": "2027-06-02T08:00:00"}, ("'endtime' occurs before 'starttime' (values entered: "
                                          "endtime='2027-06-02T08:00:00' <= starttime='2027-06-02T08:00:00')")),
    ({"starttime": "2027-06-01T07:59:59"}, "'starttime' is in the past"),
    ({"starttime": "2027-07-02T08:00:00", "endtime": "2027-07-02T09:00:00"},
     "'starttime' is too far ahead: reservations may start at most 30 days from now"),
    ({"endtime": "2027-06-02T14:00:01"}, "'endtime' is too late: a reservation may last at most 6 hours"),
])
def test_bad_values_and_passed_limits_have_v1s_messages(changes, message):
    with pytest.raises(InvalidInput) as refused:
        created(**changes)
    assert refused.value.description.startswith(message), refused.value.description


def test_the_limits_hold_at_their_edges():
    assert created(numberOfNodes="4").nodes == 4
    assert created(starttime="2027-06-01T08:00:00", endtime="2027-06-01T14:00:00").end - NOW == timedelta(hours=6)
    assert created(starttime="2027-07-01T08:00:00", endtime="2027-07-01T09:00:00")


@pytest.mark.parametrize(("limit", "value"), [
    ("max_nodes", 0), ("max_duration", 59), ("max_start_ahead", 59), ("max_per_user", 0), ("max_per_user", 1001),
])
def test_limits_out_of_their_bounds_stop_the_start(limit, value):
    with pytest.raises(TraitError):
        Reservations(None, config=Config({"Reservations": {limit: value}}))


# -- who may act as the reservation account ----------------------------------------------------------

SYSTEM = System(name="cluster", host="127.0.0.1", port=2222, known_hosts="/dev/null", filesystems=("/home",),
                reservation_account="fc-reserve")


def test_no_hub_user_acts_as_a_systems_reservation_account():
    with pytest.raises(PermissionDenied, match="reserved for the system or the service"):
        AccountMapper().account_for("fc-reserve", SYSTEM)
    with pytest.raises(PermissionDenied):
        AccountMapper(accounts={"alice": "fc-reserve"}).account_for("alice", SYSTEM)
    assert AccountMapper().account_for("alice", SYSTEM) == "alice"


def test_the_operator_session_is_the_reservation_accounts_and_needs_one():
    access = mock.Mock(spec=Access)
    access.pool = mock.Mock()
    Access.operator_session(access, SYSTEM, "reservations")
    access.pool.session.assert_called_once_with(SYSTEM, "fc-reserve", "reservations")
    with pytest.raises(DependencyUnavailable, match="offers no reservations"):
        Access.operator_session(access, System(name="other", host="h", port=22, known_hosts="/dev/null",
                                               filesystems=("/home",)), "reservations")


# -- the handlers, in-process ------------------------------------------------------------------------

SCONTROL_CREATE = ["scontrol", "--", "create", "reservation"]
PARTITIONS = ("PartitionName=debug AllowGroups=ALL Default=YES State=UP TotalCPUs=64 TotalNodes=1 Nodes=localhost\n"
              "PartitionName=xfer AllowGroups=ALL Default=NO State=UP TotalCPUs=64 TotalNodes=1 Nodes=localhost\n")
NODES = "NodeName=localhost Arch=x86_64 AvailableFeatures=fast,big ActiveFeatures=fast,big State=IDLE\n"


@pytest_asyncio.fixture
async def api(tmp_path):
    """The service's routes with the replayed system given the reservation account fc-reserve."""
    with mock.patch.dict(handler_support.SYSTEM, reservation_account="fc-reserve"):
        context = serve_api(tmp_path)
        served = await context.__aenter__()
    try:
        replay = served.replay
        replay.answer(["scontrol", "--oneliner", "show", "partition"], stdout=PARTITIONS)
        replay.answer(["scontrol", "--oneliner", "--", "show", "node"], stdout=NODES)
        replay.answer(["sacctmgr"], stdout="demo\n")
        replay.answer(["scontrol", "--oneliner", "show", "reservation"], stdout="No reservations in the system\n")
        replay.answer(SCONTROL_CREATE, stdout="Reservation created: exp1\n")
        replay.answer(["scontrol", "--", "update"], stdout="Reservation updated.\n")
        replay.answer(["scontrol", "--", "delete"])
        yield served
    finally:
        await context.__aexit__(None, None, None)


def form_ahead(**changes) -> dict:
    start = (datetime.now() + timedelta(days=2)).replace(microsecond=0)
    return {**GOOD, "starttime": start.isoformat(), "endtime": (start + timedelta(hours=1)).isoformat(), **changes}


def ran(api, account: str) -> list[tuple[str, ...]]:
    return [argv for argv in api.replay.ran_as(account) if argv[:2] != ("getent", "passwd")]


async def test_a_reservation_is_made_as_the_reservation_account_for_the_caller_only(api):
    response = await api.fetch("POST", "reservations", "alice-token", form=form_ahead(nodeType="fast"))
    assert response.code == 201, response.body
    assert json_of(response) == {"success": "Reservation created: exp1"}
    [create] = ran(api, "fc-reserve")
    assert create[:5] == (*SCONTROL_CREATE, "ReservationName=exp1")
    assert "Features=fast" in create and create[-2:] == ("Users=alice", "Accounts=demo")
    assert ("sacctmgr", "--noheader", "--parsable2", "show", "assoc", "user=alice", "format=account") in ran(
        api, "alice")


@pytest.mark.parametrize("bad", HOSTILE[:5])
@pytest.mark.parametrize("field", ["reservation", "account", "nodeType"])
async def test_hostile_values_are_refused_before_anything_runs(api, field, bad):
    response = await api.fetch("POST", "reservations", "alice-token", form=form_ahead(**{field: bad}))
    assert response.code == 400
    body = json_of(response)
    assert body == {"description": f"'{field}' parameter format is not valid (value entered:{bad!a})",
                    "error": "Error creating reservation"}
    assert api.replay.log == []


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("name", ["-V", "--help", "a%20b", "x%3Bid", "%24(id)"])
async def test_hostile_names_in_the_path_are_refused_before_anything_runs(api, method, name):
    response = await api.fetch(method, f"reservations/{name}", "alice-token",
                               form=form_ahead() if method == "PUT" else None)
    assert response.code == 400
    assert json_of(response)["description"].startswith("'reservation' parameter format is not valid")
    assert api.replay.log == []


async def test_an_account_the_caller_is_not_in_and_an_unknown_node_type_are_refused(api):
    response = await api.fetch("POST", "reservations", "alice-token", form=form_ahead(account="physics"))
    assert (response.code, json_of(response)["description"]) == (400, "You are not a member of the physics project")
    response = await api.fetch("POST", "reservations", "alice-token", form=form_ahead(nodeType="gpu"))
    assert response.code == 400
    assert "'gpu' is neither a partition nor a node feature" in json_of(response)["description"]
    assert ran(api, "fc-reserve") == []


async def test_the_per_user_count_counts_the_callers_reservations_only(api):
    api.replay.answer(["scontrol", "--oneliner", "show", "reservation"], stdout="".join(
        LINE.format(name=f"r{i}", users=users) for i, users in enumerate(["alice"] * 5 + ["bob", "alice,bob"])))
    response = await api.fetch("POST", "reservations", "alice-token", form=form_ahead())
    assert response.code == 400
    assert json_of(response)["description"] == "Only 5 reservations are allowed at one time."
    assert ran(api, "fc-reserve") == []
    listed = await api.fetch("GET", "reservations", "alice-token")
    assert [r["reservationname"] for r in json_of(listed)["success"]] == ["r0", "r1", "r2", "r3", "r4"]
    response = await api.fetch("POST", "reservations", "bob-token", form=form_ahead())
    assert response.code == 201, response.body


@pytest.mark.parametrize("users", ["bob", "alice,bob", "(null)", None])
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_only_a_reservation_whose_users_are_exactly_the_caller_is_theirs(api, method, users):
    show = ["scontrol", "--oneliner", "--", "show", "reservation", "exp1"]
    if users is None:
        api.replay.answer(show, stdout="Reservation exp1 not found\n", exit_status=1)
    else:
        api.replay.answer(show, stdout=LINE.format(name="exp1", users=users))
    response = await api.fetch(method, "reservations/exp1", "alice-token",
                               form=form_ahead() if method == "PUT" else None)
    assert response.code == 400
    assert json_of(response)["description"] == "You are not an owner of the exp1 reservation"
    assert response.headers["X-Error"] == "You are not an owner of the exp1 reservation"
    assert ran(api, "fc-reserve") == []


async def test_the_owner_updates_and_deletes(api):
    api.replay.answer(["scontrol", "--oneliner", "--", "show", "reservation", "exp1"],
                      stdout=LINE.format(name="exp1", users="alice"))
    response = await api.fetch("PUT", "reservations/exp1", "alice-token", form=form_ahead(nodeType="xfer"))
    assert (response.code, json_of(response)) == (200, {"success": "Reservation exp1 updated"})
    response = await api.fetch("DELETE", "reservations/exp1", "alice-token")
    assert (response.code, response.body) == (204, b"")
    update, delete = ran(api, "fc-reserve")
    assert update[:4] == ("scontrol", "--", "update", "ReservationName=exp1") and "PartitionName=xfer" in update
    assert delete == ("scontrol", "--", "delete", "ReservationName=exp1")


async def test_a_system_without_a_reservation_account_offers_none(tmp_path):
    async with serve_api(tmp_path) as plain:
        response = await plain.fetch("GET", "reservations", "alice-token")
        assert response.code == 503
        assert json_of(response) == {"description": "system 'cluster' offers no reservations: no "
                                                    "reservation_account is configured for it",
                                     "error": "Error listing reservations"}
