"""What a user asks for, as FirecREST v1's form parameters, checked before anything runs.

The parameters and the messages are v1's (reservation, account, numberOfNodes, nodeType, starttime,
endtime; "'numberOfNodes' parameter is not valid..."), so that v1 clients and their users read what they
know. Every value that reaches a command is one of: a Slurm name (it cannot start with '-', and holds no
space, quote or shell character), a whole number in ASCII digits, or a time printed back from a
`datetime` in ISO form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..compute.validation import check_slurm_name
from ..errors import InvalidInput
from ..numbers import whole_number

# The one time format v1 takes (and Slurm reads): 2024-12-24T08:00:00, in the system's local time.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")

# A form parameter by its v1 name: the value exactly as sent, or None when it was not sent.
Form = Callable[[str], "str | None"]


@dataclass(frozen=True)
class ReservationRequest:
    """A reservation to create (with `account`) or the new shape of an existing one (without)."""

    name: str
    nodes: int
    node_type: str
    start: datetime
    end: datetime
    account: str | None = None


def read_request(form: Form, max_nodes: int, *, name: str | None = None) -> ReservationRequest:
    """The request a form spells: with `name`, a change of that reservation (v1's PUT, no account); without,
    a new one (v1's POST, whose form names the reservation and the account). InvalidInput with v1's message
    for the first parameter that is missing or not valid, in v1's order."""
    account = None
    if name is None:
        name = reservation_name(form("reservation"))
        account = slurm_name("account", form("account"))
    else:
        name = reservation_name(name)
    nodes = node_count(form("numberOfNodes"), max_nodes)
    node_type = slurm_name("nodeType", form("nodeType"))
    start = time_of("starttime", form("starttime"))
    end = time_of("endtime", form("endtime"))
    return ReservationRequest(name, nodes, node_type, start, end, account)


def reservation_name(value: str | None) -> str:
    return slurm_name("reservation", value)


def slurm_name(parameter: str, value: str | None) -> str:
    _require(parameter, value)
    try:
        check_slurm_name(parameter, value)
    except InvalidInput:
        raise InvalidInput(f"'{parameter}' parameter format is not valid (value entered:{value!a})") from None
    return value


def node_count(value: str | None, max_nodes: int) -> int:
    _require("numberOfNodes", value)
    try:
        return whole_number("It", value, 1, max_nodes)
    except InvalidInput as error:
        raise InvalidInput(f"'numberOfNodes' parameter is not valid. {error.description}") from None


def time_of(parameter: str, value: str | None) -> datetime:
    _require(parameter, value)
    try:
        # The pattern first: strptime alone takes "2024-1-5T1:2:3" and digits of other scripts.
        if _ISO_TIME.fullmatch(value):
            return datetime.strptime(value, TIME_FORMAT)
    except ValueError:  # a 13th month, a 25th hour
        pass
    raise InvalidInput(f"'{parameter}' parameter format is not valid. It should be YYYY-MM-DDTHH:MM:SS "
                       f"(value entered:{value!a})")


def iso(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def _require(parameter: str, value: str | None) -> None:
    if value is None:
        raise InvalidInput(f"'{parameter}' form data input missing")
