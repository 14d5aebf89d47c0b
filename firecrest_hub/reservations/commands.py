"""The commands behind reservations, one class each: argv in, typed result (or typed error) out.

`scontrol create/update/delete reservation` need Slurm operator rights and run as the system's
reservation account; the reads (`scontrol show reservation NAME`, `sacctmgr show assoc`) run as the
caller. Every user value is its own `Key=Value` word after `--` (scontrol's getopt stops there, so not
even a word starting with '-' could act as an option), and is checked again here, so that no command
object exists with a value that could be misread.
"""

from __future__ import annotations

from ..compute.scheduler import Reservation
from ..compute.slurm_commands import ShowReservations, SlurmCommand
from ..compute.slurm_output import raise_for_slurm, raise_if_controller_down
from ..compute.validation import check_slurm_name
from ..errors import DependencyUnavailable, InvalidInput, ReservationRefused
from ..identity import is_posix_account
from ..remote import CommandResult
from .request import ReservationRequest, iso

# What scontrol says when the account running it lacks operator rights (22.05 says "Invalid user id").
_NOT_OPERATOR = ("invalid user id", "access/permission denied", "permission denied")


def _check_account(account: str) -> None:
    if not is_posix_account(account):
        raise InvalidInput(f"{account!r} is not a cluster account name")


class ShowReservation(ShowReservations):
    """`scontrol --oneliner show reservation NAME`: that reservation, or None when there is none."""

    def __init__(self, name: str, **kwargs):
        super().__init__(**kwargs)
        check_slurm_name("reservation", name)
        self.name = name

    def argv(self) -> list[str]:
        return ["scontrol", "--oneliner", "--", "show", "reservation", self.name]

    def parse(self, result: CommandResult) -> Reservation | None:
        # "Reservation NAME not found" on stdout, exit status 1.
        if not result.ok and result.stdout.strip().endswith(" not found"):
            return None
        return next((reservation for reservation in super().parse(result) if reservation.name == self.name), None)


class ListAccounts(SlurmCommand):
    """`sacctmgr show assoc user=ACCOUNT`: the Slurm accounts the user may charge (as the user)."""

    def __init__(self, user: str, **kwargs):
        super().__init__(**kwargs)
        _check_account(user)
        self.user = user

    def argv(self) -> list[str]:
        return ["sacctmgr", "--noheader", "--parsable2", "show", "assoc", f"user={self.user}", "format=account"]

    def parse(self, result: CommandResult) -> set[str]:
        raise_for_slurm(result)
        return {line.strip() for line in result.stdout.splitlines() if line.strip()}


class ReservationCommand(SlurmCommand):
    """A change made with operator rights; its failures are Slurm's refusals (or missing rights)."""

    def parse(self, result: CommandResult) -> str:
        if result.ok:
            return result.stdout.strip()
        raise_if_controller_down(result)
        # scontrol prints its verdict on stderr ("Error creating the reservation: Requested nodes are busy"),
        # and a note about partitions on stdout that says nothing about this request.
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        message = lines[0] if lines else f"scontrol exited with status {result.exit_status}"
        if any(symptom in message.lower() for symptom in _NOT_OPERATOR):
            raise DependencyUnavailable(
                "the service's reservation account lacks Slurm operator rights on this system "
                f"(sacctmgr ... adminlevel=Operator): {message}")
        raise ReservationRefused(message)


def _shape(request: ReservationRequest, target: tuple[str, str]) -> list[str]:
    """The words for the size, place and time of a reservation; `target` is ("PartitionName", name) or
    ("Features", name), what the request's nodeType turned out to be."""
    key, value = target
    if key not in ("PartitionName", "Features"):
        raise ValueError(f"a reservation is placed by partition or feature, not {key}")
    check_slurm_name("nodeType", value)
    check_slurm_name("reservation", request.name)
    if isinstance(request.nodes, bool) or not isinstance(request.nodes, int) or request.nodes < 1:
        raise InvalidInput(f"node count {request.nodes!r} is not a positive integer")
    return [f"StartTime={iso(request.start)}", f"EndTime={iso(request.end)}", f"NodeCnt={request.nodes}",
            f"{key}={value}"]


class CreateReservation(ReservationCommand):
    """`scontrol create reservation`, usable by `user`'s jobs only (Users=) charged to the request's account."""

    def __init__(self, request: ReservationRequest, user: str, target: tuple[str, str], **kwargs):
        super().__init__(**kwargs)
        _check_account(user)
        if request.account is None:
            raise ValueError("a new reservation needs an account")
        check_slurm_name("account", request.account)
        self.words = [f"ReservationName={request.name}", *_shape(request, target), f"Users={user}",
                      f"Accounts={request.account}"]

    def argv(self) -> list[str]:
        return ["scontrol", "--", "create", "reservation", *self.words]


class UpdateReservation(ReservationCommand):
    """`scontrol update ReservationName=...`: new size, place and times; users and accounts stay."""

    def __init__(self, request: ReservationRequest, target: tuple[str, str], **kwargs):
        super().__init__(**kwargs)
        self.words = [f"ReservationName={request.name}", *_shape(request, target)]

    def argv(self) -> list[str]:
        return ["scontrol", "--", "update", *self.words]


class DeleteReservation(ReservationCommand):
    def __init__(self, name: str, **kwargs):
        super().__init__(**kwargs)
        check_slurm_name("reservation", name)
        self.name = name

    def argv(self) -> list[str]:
        return ["scontrol", "--", "delete", f"ReservationName={self.name}"]
