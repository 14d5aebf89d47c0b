"""Reservations in FirecREST v1's shape: scontrol's fields under their names in lower case, values as
Slurm prints them ("(null)" included), the fields of v1's published `Reservation` schema."""

from __future__ import annotations

from ..compute.scheduler import Reservation

V1_FIELDS = ("ReservationName", "StartTime", "EndTime", "Duration", "Nodes", "NodeCnt", "CoreCnt", "Features",
             "PartitionName", "Flags", "Users", "Accounts", "Licenses", "State", "BurstBuffer", "Watts")


def reservation_json(reservation: Reservation) -> dict[str, str]:
    return {field.lower(): reservation.fields.get(field, "") for field in V1_FIELDS}
