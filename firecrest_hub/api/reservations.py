"""reservations: v1's reservations service, the caller's own Slurm reservations on the X-Machine-Name system.

    GET    /reservations                 200 {"success": [{reservationname, starttime, endtime, ...}, ...]}
    POST   /reservations                 201 {"success": "Reservation created: NAME"}
    PUT    /reservations/{reservation}   200 {"success": "Reservation NAME updated"}
    DELETE /reservations/{reservation}   204

Forms as v1 (reservation, account, numberOfNodes, nodeType, starttime, endtime; PUT without reservation
and account). Every failure is v1's 400 `{"error": "Error creating reservation", "description": ...}` with
the reason (a 503 when the system offers no reservations), values are checked before anything runs.
The work and the limits are in firecrest_hub/reservations.
"""

from __future__ import annotations

import contextlib

from .. import errors
from ..reservations import Reservations, reservation_json
from .base import APIError, APIHandler, status_for


class ReservationsBase(APIHandler):
    @property
    def reservations(self) -> Reservations:
        return self.service.reservations

    @contextlib.contextmanager
    def failing(self, error: str):
        """Failures inside answer with v1's `error` text for this action ("Error creating reservation")."""
        try:
            yield
        except errors.FirecrestError as failure:
            status, header = status_for(failure)
            raise APIError(status, failure.description, header=header, error=error) from failure
        except APIError as failure:
            failure.error = error
            raise


class ReservationsHandler(ReservationsBase):
    async def get(self):
        with self.failing("Error listing reservations"):
            session = await self.session(self.system())
            reservations = await self.reservations.list(session)
        self.write_json({"success": [reservation_json(reservation) for reservation in reservations]})

    async def post(self):
        with self.failing("Error creating reservation"):
            system = self.system()
            request = self.reservations.creation(self.argument)
            message = await self.reservations.create(await self.session(system), request)
        self.write_json({"success": message}, 201)


class ReservationHandler(ReservationsBase):
    async def put(self, name: str):
        with self.failing("Error updating reservation"):
            system = self.system()
            request = self.reservations.change(name, self.argument)
            message = await self.reservations.update(await self.session(system), request)
        self.write_json({"success": message})

    async def delete(self, name: str):
        with self.failing("Error deleting reservation"):
            system = self.system()
            name = self.reservations.name(name)
            await self.reservations.delete(await self.session(system), name)
        self.set_status(204)
        self.finish()


routes = [
    (r"/reservations/?", ReservationsHandler),
    (r"/reservations/([^/]+)", ReservationHandler),
]
