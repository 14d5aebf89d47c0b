"""v1's reservations service through the real hub proxy, with real hub tokens, against the real Slurm.

alice creates, lists, changes and deletes a reservation of the dev cluster's node; Slurm holds it with
Users=alice (made by the system's reservation account, a Slurm operator); bob neither sees nor changes
nor deletes it. Every bad parameter gets v1's 400 and its message, hostile names are refused before
anything runs, and the admin's limits hold. Every reservation a test makes is deleted afterwards (as
root, whatever the test did).

Reservations of the one node may not overlap, so each test takes windows of its own, days ahead: no job
of the other tests (at most a day long, the xfer partition's limit) is kept from starting by them.
"""

from __future__ import annotations

import random
import secrets
import subprocess
import urllib.parse
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from compute_support import MACHINE, call
from conftest import wait_for

from firecrest_hub.compute.slurm_output import parse_key_values
from firecrest_hub.reservations import Reservations

pytestmark = pytest.mark.cluster

TIME = "%Y-%m-%dT%H:%M:%S"
HOSTILE = ["-V", "--help", "a b", "x;id"]


def scontrol_show(name: str) -> dict[str, str] | None:
    """The reservation as Slurm holds it, asked as root; None if there is none."""
    done = subprocess.run(["scontrol", "--oneliner", "--", "show", "reservation", name], capture_output=True,
                          text=True, timeout=30, check=False)
    if done.returncode != 0:
        assert done.stdout.strip().endswith("not found"), done.stdout + done.stderr
        return None
    return parse_key_values(done.stdout.strip())


@pytest.fixture(scope="module")
def limits(demo_config) -> Reservations:
    """The limits the demo service runs with (the same config file)."""
    return Reservations(None, config=demo_config)


class Windows:
    """Hour-long windows two hours apart, from a random hour 20 to 170 days ahead (a rerun, or a test run
    beside this one, picks other hours)."""

    def __init__(self):
        first = datetime.now().replace(minute=0, second=0, microsecond=0)
        self.first = first + timedelta(days=20, hours=random.randrange(150 * 24))
        self.count = 0

    def next(self, hours: int = 1) -> tuple[str, str]:
        start = self.first + timedelta(hours=2 * self.count)
        self.count += hours
        return start.strftime(TIME), (start + timedelta(hours=hours)).strftime(TIME)


@pytest.fixture
def reservations():
    """make(**changes) -> a valid creation form with a fresh name and a window of its own; every name it
    handed out is deleted afterwards, as root."""
    names, windows = [], Windows()

    def make(**changes) -> dict:
        start, end = windows.next()
        form = {"reservation": f"fct-{secrets.token_hex(4)}", "account": "demo", "numberOfNodes": "1",
                "nodeType": "debug", "starttime": start, "endtime": end, **changes}
        names.append(form["reservation"])
        return form

    make.windows = windows
    yield make
    for name in names:
        subprocess.run(["scontrol", "--", "delete", f"ReservationName={name}"], capture_output=True, timeout=30,
                       check=False)


def listed(token: str) -> list[str]:
    response = call("GET", "reservations", token)
    assert response.status_code == 200, response.text
    return [reservation["reservationname"] for reservation in response.json()["success"]]


def refused(response, message: str, error: str = "Error creating reservation") -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error, body
    assert body["description"].startswith(message), body


def test_create_list_update_and_delete_ones_own_reservation(alice_token, bob_token, reservations):
    form = reservations()
    name = form["reservation"]
    response = call("POST", "reservations", alice_token, data=form)
    assert response.status_code == 201, response.text
    assert response.json() == {"success": f"Reservation created: {name}"}

    held = scontrol_show(name)
    assert held is not None
    assert (held["Users"], held["Accounts"], held["PartitionName"], held["NodeCnt"]) == ("alice", "demo", "debug", "1")
    assert (held["StartTime"], held["EndTime"]) == (form["starttime"], form["endtime"])

    response = call("GET", "reservations", alice_token)
    assert response.status_code == 200
    [mine] = [reservation for reservation in response.json()["success"] if reservation["reservationname"] == name]
    assert (mine["users"], mine["accounts"], mine["nodes"], mine["state"]) == ("alice", "demo", "localhost", "INACTIVE")
    assert (mine["starttime"], mine["endtime"], mine["partitionname"]) == (form["starttime"], form["endtime"], "debug")
    assert name not in listed(bob_token)

    start = form["starttime"]
    end = (datetime.strptime(start, TIME) + timedelta(minutes=90)).strftime(TIME)
    change = {"numberOfNodes": "1", "nodeType": "xfer", "starttime": start, "endtime": end}
    response = call("PUT", f"reservations/{name}", alice_token, data=change)
    assert (response.status_code, response.json()) == (200, {"success": f"Reservation {name} updated"})
    held = scontrol_show(name)
    assert (held["EndTime"], held["PartitionName"], held["Users"]) == (end, "xfer", "alice")

    refused(call("PUT", f"reservations/{name}", bob_token, data=change),
            f"You are not an owner of the {name} reservation", "Error updating reservation")
    refused(call("DELETE", f"reservations/{name}", bob_token),
            f"You are not an owner of the {name} reservation", "Error deleting reservation")
    assert scontrol_show(name)["EndTime"] == end

    response = call("DELETE", f"reservations/{name}", alice_token)
    assert response.status_code == 204, response.text
    assert scontrol_show(name) is None
    assert name not in listed(alice_token)
    refused(call("DELETE", f"reservations/{name}", alice_token),
            f"You are not an owner of the {name} reservation", "Error deleting reservation")


def bad_forms(limits: Reservations) -> list[tuple[dict, str]]:
    """(changes to a good form, the start of v1's message); times relative to the form's window."""
    cases = [({name: None}, f"'{name}' form data input missing")
             for name in ("reservation", "account", "numberOfNodes", "nodeType", "starttime", "endtime")]
    cases += [({"numberOfNodes": value}, "'numberOfNodes' parameter is not valid")
              for value in ("0", "abc", "²", "-3", "", str(limits.max_nodes + 1))]
    cases += [({name: value}, f"'{name}' parameter format is not valid (value entered:")
              for name in ("reservation", "account", "nodeType") for value in HOSTILE]
    cases += [({"starttime": "2day"}, "'starttime' parameter format is not valid. It should be YYYY-MM-DDTHH:MM:SS"),
              ({"endtime": "2027-06-01T08:00"}, "'endtime' parameter format is not valid")]
    return cases


@pytest.mark.parametrize("case", range(len(bad_forms(Reservations(None)))))
def test_each_bad_parameter_has_v1s_message_and_creates_nothing(alice_token, reservations, limits, case):
    changes, message = bad_forms(limits)[case]
    form = {key: value for key, value in {**reservations(), **changes}.items() if value is not None}
    refused(call("POST", "reservations", alice_token, data=form), message)
    if "reservation" in form and "'reservation'" not in message:
        assert scontrol_show(form["reservation"]) is None


def test_times_and_limits_have_v1s_messages(alice_token, reservations, limits):
    form = reservations()
    start = datetime.strptime(form["starttime"], TIME)
    refused(call("POST", "reservations", alice_token, data={**form, "endtime": form["starttime"]}),
            f"'endtime' occurs before 'starttime' (values entered: endtime='{form['starttime']}' <= "
            f"starttime='{form['starttime']}')")
    past = (datetime.now() - timedelta(hours=1)).replace(microsecond=0)
    later = (past + timedelta(hours=2)).strftime(TIME)
    refused(call("POST", "reservations", alice_token,
                 data={**form, "starttime": past.strftime(TIME), "endtime": later}), "'starttime' is in the past")
    ahead = datetime.now().replace(microsecond=0) + timedelta(seconds=limits.max_start_ahead, days=1)
    later = (ahead + timedelta(hours=1)).strftime(TIME)
    refused(call("POST", "reservations", alice_token,
                 data={**form, "starttime": ahead.strftime(TIME), "endtime": later}), "'starttime' is too far ahead")
    too_long = start + timedelta(seconds=limits.max_duration + 60)
    refused(call("POST", "reservations", alice_token, data={**form, "endtime": too_long.strftime(TIME)}),
            "'endtime' is too late: a reservation may last at most")
    assert scontrol_show(form["reservation"]) is None


def test_the_node_type_and_the_account_must_exist_for_the_caller(alice_token, reservations):
    form = reservations(nodeType="nosuchfeature")
    refused(call("POST", "reservations", alice_token, data=form),
            "'nodeType' parameter is not valid: 'nosuchfeature' is neither a partition nor a node feature")
    # root is a Slurm account of the cluster, alice is not in it
    form = reservations(account="root")
    refused(call("POST", "reservations", alice_token, data=form), "You are not a member of the root project")
    assert scontrol_show(form["reservation"]) is None


def test_hostile_names_are_refused_before_anything_runs(alice_token, reservations):
    marker = Path(f"/tmp/fc-reservation-marker-{uuid.uuid4().hex}")
    for name in [*HOSTILE, f"$(touch {marker})", f"`touch {marker}`"]:
        refused(call("POST", "reservations", alice_token, data=reservations(reservation=name)),
                "'reservation' parameter format is not valid")
        path = f"reservations/{urllib.parse.quote(name, safe='')}"
        refused(call("PUT", path, alice_token, data={k: v for k, v in reservations().items() if k not in (
            "reservation", "account")}), "'reservation' parameter format is not valid", "Error updating reservation")
        refused(call("DELETE", path, alice_token), "'reservation' parameter format is not valid",
                "Error deleting reservation")
    assert not marker.exists()


def test_a_user_holds_at_most_max_per_user_reservations(alice_token, bob_token, reservations, limits):
    for _ in range(limits.max_per_user):
        response = call("POST", "reservations", alice_token, data=reservations())
        assert response.status_code == 201, response.text
    refused(call("POST", "reservations", alice_token, data=reservations()),
            f"Only {limits.max_per_user} reservations are allowed at one time.")
    # the count is alice's alone: bob may still make one
    response = call("POST", "reservations", bob_token, data=reservations())
    assert response.status_code == 201, response.text


def test_a_reservation_is_only_its_owners_to_change_and_slurm_refuses_overlaps(alice_token, bob_token, reservations):
    form = reservations()
    assert call("POST", "reservations", alice_token, data=form).status_code == 201
    # the same window again: the node is taken
    other = reservations(starttime=form["starttime"], endtime=form["endtime"])
    refused(call("POST", "reservations", bob_token, data=other),
            "Error creating the reservation: Requested nodes are busy")
    assert scontrol_show(other["reservation"]) is None


def test_status_lists_the_reservations_service(alice_token):
    def service():
        response = call("GET", "status/services/reservations", alice_token, machine=None)
        assert response.status_code == 200, response.text
        body = response.json()
        return body if "not checked yet" not in body["description"] else None

    body = wait_for(service, 30, interval=0.5, what="the first health check of the reservations service")
    assert (body["service"], body["status"], body["status_code"]) == ("reservations", "available", 200)


def test_pyfirecrest_v1_creates_lists_updates_and_deletes(client, reservations):
    form = reservations()
    name = form["reservation"]
    client.create_reservation(MACHINE, name, "demo", "1", "debug", form["starttime"], form["endtime"])
    assert name in [reservation["reservationname"] for reservation in client.all_reservations(MACHINE)]
    client.update_reservation(MACHINE, name, "demo", "1", "xfer", form["starttime"], form["endtime"])
    assert scontrol_show(name)["PartitionName"] == "xfer"
    client.delete_reservation(MACHINE, name)
    assert scontrol_show(name) is None
