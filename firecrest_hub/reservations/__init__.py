"""Users' own Slurm reservations (FirecREST v1's reservations service), within the admin's limits.

- request.py: v1's form parameters, checked before anything runs, with v1's messages;
- commands.py: scontrol create/update/delete (as the system's reservation account, a Slurm operator) and
  the reads as the caller (scontrol show reservation NAME, sacctmgr show assoc);
- policy.py: `Reservations`, the limits (traitlets) and the operations: ownership, account membership,
  the per-user count;
- views.py: v1's shape of a reservation.
"""

from .policy import Reservations
from .request import ReservationRequest
from .views import reservation_json

__all__ = ["ReservationRequest", "Reservations", "reservation_json"]
