"""Users' own Slurm reservations, within the limits the admin sets.

Users cannot make reservations in Slurm; the service makes them for a user as the system's
`reservation_account` (AdminLevel=Operator), after checking every value and the limits, and always with
`Users=<the caller's account>`, so that only the caller's jobs run in it. A reservation is the caller's
when its `Users=` is exactly their account: they see, change and delete only those; for any other name
(someone else's or none at all) the answer is v1's "You are not an owner of the NAME reservation".

    request = reservations.creation(form)        # the checks that need nothing but the values, at once
    message = await reservations.create(session, request)   # the caller's session, as their account

Times are the system's local time (Slurm reads and prints them so); "now" is the service's clock.
Changes to one system's reservations are made one at a time in each service process, so that a count
or an ownership check still holds when its command runs.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from traitlets import Integer
from traitlets.config import Configurable

from ..compute.scheduler import Reservation
from ..errors import InvalidInput, ReservationRefused
from ..remote import RemoteSession
from .commands import CreateReservation, DeleteReservation, ListAccounts, ShowReservation, UpdateReservation
from .request import Form, ReservationRequest, iso, read_request, reservation_name

# The hub user named in the key id of the reservation account's certificates.
OPERATOR_PURPOSE = "reservations"
HOUR, DAY = 3600, 86400


class Reservations(Configurable):
    """Create, list, change and delete the caller's reservations; the limits are per reservation and user."""

    max_nodes = Integer(
        1000,
        min=1,
        max=1_000_000,
        help="""Most nodes one reservation may hold (v1's rsvmgmt allowed 1000). Slurm refuses more than the
        partition or feature has anyway; this bounds what one user may take.""",
    ).tag(config=True)

    max_duration = Integer(
        72 * HOUR,
        min=60,
        max=366 * DAY,
        help="""Longest a reservation may last, in seconds, from its starttime to its endtime (default 72
        hours, v1's rsvmgmt limit).""",
    ).tag(config=True)

    max_start_ahead = Integer(
        365 * DAY,
        min=60,
        max=10 * 366 * DAY,
        help="""How far ahead of now a reservation may start, in seconds (default a year, as in v1).""",
    ).tag(config=True)

    max_per_user = Integer(
        5,
        min=1,
        max=1000,
        help="""Most reservations one account may hold on a system at a time (default 5, as in v1).""",
    ).tag(config=True)

    def __init__(self, access, **kwargs):
        """`access` is the process's `Access` (firecrest_hub/access.py)."""
        super().__init__(**kwargs)
        self.access = access
        self._locks: dict[str, asyncio.Lock] = {}

    # -- the checks of the values alone: they run before anything runs on a system ---------------------

    def creation(self, form: Form, now: datetime | None = None) -> ReservationRequest:
        """A new reservation from v1's POST form (reservation, account, numberOfNodes, nodeType, starttime,
        endtime); InvalidInput with v1's message for the first value that is missing, wrong or too much."""
        return self._within_limits(read_request(form, self.max_nodes), now)

    def change(self, name: str, form: Form, now: datetime | None = None) -> ReservationRequest:
        """The new shape of reservation `name` from v1's PUT form (numberOfNodes, nodeType, starttime,
        endtime), under the same limits."""
        return self._within_limits(read_request(form, self.max_nodes, name=name), now)

    def name(self, name: str) -> str:
        return reservation_name(name)

    def _within_limits(self, request: ReservationRequest, now: datetime | None) -> ReservationRequest:
        now = now or datetime.now()
        start, end = iso(request.start), iso(request.end)
        if request.end <= request.start:
            raise InvalidInput(f"'endtime' occurs before 'starttime' (values entered: endtime='{end}' <= "
                               f"starttime='{start}')")
        if request.start < now:
            raise InvalidInput(f"'starttime' is in the past (values entered: starttime='{start}')")
        if request.start - now > timedelta(seconds=self.max_start_ahead):
            raise InvalidInput(f"'starttime' is too far ahead: reservations may start at most "
                               f"{_span(self.max_start_ahead)} from now (values entered: starttime='{start}')")
        if request.end - request.start > timedelta(seconds=self.max_duration):
            raise InvalidInput(f"'endtime' is too late: a reservation may last at most {_span(self.max_duration)} "
                               f"(values entered: starttime='{start}', endtime='{end}')")
        return request

    # -- the operations --------------------------------------------------------------------------------

    async def list(self, session: RemoteSession) -> list[Reservation]:
        """The caller's reservations on the session's system."""
        self._operator(session)  # a system that offers none says so, for reads too
        return [reservation for reservation in await self.access.scheduler.reservations(session)
                if _owned_by(reservation, session.account)]

    async def create(self, session: RemoteSession, request: ReservationRequest) -> str:
        """Create `request` for the caller: its account must be one of theirs, its nodeType a partition or
        node feature of the system, and they may hold at most `max_per_user`. Slurm's answer on success."""
        operator = self._operator(session)
        async with self._lock(session):
            accounts, target, reservations = await asyncio.gather(
                session.execute(ListAccounts(session.account, timeout=self._timeout)),
                self._target(session, request.node_type),
                self.access.scheduler.reservations(session))
            if request.account not in accounts:
                raise ReservationRefused(f"You are not a member of the {request.account} project")
            if sum(_owned_by(reservation, session.account) for reservation in reservations) >= self.max_per_user:
                raise ReservationRefused(f"Only {self.max_per_user} reservations are allowed at one time.")
            return await operator.execute(
                CreateReservation(request, session.account, target, timeout=self._timeout))

    async def update(self, session: RemoteSession, request: ReservationRequest) -> str:
        """Give the caller's reservation `request.name` the request's size, place and times."""
        operator = self._operator(session)
        async with self._lock(session):
            _, target = await asyncio.gather(self._owned(session, request.name),
                                             self._target(session, request.node_type))
            await operator.execute(UpdateReservation(request, target, timeout=self._timeout))
        return f"Reservation {request.name} updated"

    async def delete(self, session: RemoteSession, name: str) -> None:
        """Delete the caller's reservation `name`."""
        operator = self._operator(session)
        async with self._lock(session):
            await self._owned(session, name)
            await operator.execute(DeleteReservation(name, timeout=self._timeout))

    # -- helpers ---------------------------------------------------------------------------------------

    @property
    def _timeout(self) -> float:
        return self.access.scheduler.command_timeout

    def _operator(self, session: RemoteSession) -> RemoteSession:
        return self.access.operator_session(session.system, OPERATOR_PURPOSE)

    def _lock(self, session: RemoteSession) -> asyncio.Lock:
        return self._locks.setdefault(session.system.name, asyncio.Lock())

    async def _owned(self, session: RemoteSession, name: str) -> Reservation:
        """The reservation `name` if it is the caller's; refused alike when it is someone else's or missing."""
        reservation = await session.execute(ShowReservation(name, timeout=self._timeout))
        if reservation is None or not _owned_by(reservation, session.account):
            raise ReservationRefused(f"You are not an owner of the {name} reservation")
        return reservation

    async def _target(self, session: RemoteSession, node_type: str) -> tuple[str, str]:
        """Where a nodeType places a reservation: a partition of that name, else nodes with that feature."""
        scheduler = self.access.scheduler
        partitions, nodes = await asyncio.gather(scheduler.partitions(session), scheduler.nodes(session))
        if any(partition.name == node_type for partition in partitions):
            return ("PartitionName", node_type)
        features = {feature for node in nodes
                    for feature in (node.fields.get("AvailableFeatures") or "").split(",")}
        if node_type in features:
            return ("Features", node_type)
        raise InvalidInput(f"'nodeType' parameter is not valid: {node_type!a} is neither a partition nor a node "
                           f"feature of system {session.system.name!r}")


def _owned_by(reservation: Reservation, account: str) -> bool:
    return reservation.users == account


def _span(seconds: int) -> str:
    for unit, size in (("days", DAY), ("hours", HOUR), ("minutes", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"
