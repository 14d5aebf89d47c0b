"""The one table of the task store, and the immutable `Task` that the rest of the service reads.

Times are naive UTC datetimes (SQLite keeps no time zone; PostgreSQL columns are `timestamp`), written by
the service's clock: replicas sharing a database are expected to run NTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..numbers import parse_whole_number
from . import codes

# v1's timestamp format (`created_at`, `updated_at`, `last_modify`).
V1_TIME = "%Y-%m-%dT%H:%M:%S"
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def event_id_at(moment: datetime) -> str:
    """A Server-Sent Events id for a moment: microseconds since the epoch (see `moment_of_event_id`)."""
    return str((moment - _EPOCH) // _MICROSECOND)


def moment_of_event_id(value: str) -> datetime:
    """The moment of an event id; ValueError when it is not one of ours."""
    microseconds = parse_whole_number(value) if len(value) <= 17 else None
    if microseconds is None:
        raise ValueError(f"not an event id: {value!r}")
    return _EPOCH + microseconds * _MICROSECOND


class Base(DeclarativeBase):
    pass


class TaskRow(Base):
    __tablename__ = "firecrest_tasks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(255))
    service: Mapped[str] = mapped_column(String(32))
    system: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(3))
    # What clients see as `data`: progress details, the result, or the error description.
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    # What a resume handler needs to continue the task after a restart; never shown to clients.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    success_status: Mapped[str] = mapped_column(String(3), default=codes.FINISHED)
    failure_status: Mapped[str] = mapped_column(String(3), default=codes.FAILED)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    # Counts the task's writes, so readers can order two states of a task whatever the clocks say.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    deadline: Mapped[datetime] = mapped_column(DateTime)
    # The runner (one per service process) working on the task, and until when its claim holds unless
    # renewed; a task whose claim lapsed is an orphan that any replica may take over.
    runner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_firecrest_tasks_user_updated", "user", "updated_at"),
        Index("ix_firecrest_tasks_unfinished", "finished", "lease_until"),
    )


@dataclass(frozen=True)
class Task:
    """One task as read from the store."""

    id: str
    user: str
    service: str
    system: str | None
    kind: str
    status: str
    data: Any
    params: dict
    success_status: str
    failure_status: str
    finished: bool
    revision: int
    created_at: datetime
    updated_at: datetime
    deadline: datetime
    runner: str | None
    lease_until: datetime | None
    url: str

    @classmethod
    def from_row(cls, row: TaskRow, url_prefix: str) -> "Task":
        return cls(
            id=row.id, user=row.user, service=row.service, system=row.system, kind=row.kind,
            status=row.status, data=row.data, params=dict(row.params or {}),
            success_status=row.success_status, failure_status=row.failure_status,
            finished=row.finished, revision=row.revision, created_at=row.created_at, updated_at=row.updated_at,
            deadline=row.deadline, runner=row.runner, lease_until=row.lease_until,
            url=f"{url_prefix}/tasks/{row.id}",
        )

    @property
    def description(self) -> str:
        return codes.DESCRIPTIONS.get(self.status, "Unknown status")

    @property
    def event_id(self) -> str:
        return event_id_at(self.updated_at)

    def to_json(self) -> dict:
        """v1's task object (GET /tasks, GET /tasks/{id}); `hash_id` and `task_id` are the same id."""
        updated = self.updated_at.strftime(V1_TIME)
        return {
            "hash_id": self.id,
            "task_id": self.id,
            "user": self.user,
            "service": self.service,
            "system": self.system,
            "status": self.status,
            "description": self.description,
            "data": self._v1_data(),
            "created_at": self.created_at.strftime(V1_TIME),
            "updated_at": updated,
            "last_modify": updated,
            "task_url": self.url,
        }

    def _v1_data(self) -> Any:
        """`data` as v1 shows it: a failed external transfer gives an object holding the reason (in `msg`
        for an upload, in `error` for a download); every other task its data as stored."""
        if not isinstance(self.data, str):
            return self.data
        if self.status == codes.UPLOAD_TRANSFER_FAILED:
            return {"user": self.user, "system_name": self.system, "source": self.params.get("source"),
                    "target": self.params.get("target"), "status": self.status, "hash_id": self.id,
                    "msg": self.data}
        if self.status == codes.DOWNLOAD_FAILED:
            return {"system_name": self.system, "source": self.params.get("source"), "error": self.data}
        return self.data

    def creation_json(self) -> dict:
        """v1's answer to a request that started this task (sent with status 201)."""
        return {"success": "Task created", "task_id": self.id, "task_url": self.url}
