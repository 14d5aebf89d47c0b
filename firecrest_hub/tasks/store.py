"""The task store: tasks in one SQL table (SQLite by default, PostgreSQL for several replicas).

It is the source of truth for every task: runners write each state change here before they announce it,
and readers (the REST API, event streams after a reconnect) read from here, so any replica can answer for
a task another replica runs.

Every call runs on a small pool of threads of its own with a synchronous SQLAlchemy engine, so the event
loop never waits for the database. Every read a user can cause filters by owner: a task of someone else
reads exactly like a task that does not exist.

A SQLite database is the service's alone: its directory is created 0700 and its file 0600 (SQLite gives
its -wal and -shm files the mode of the database), and the service refuses to start when either is owned
by someone else or open to others, as it does for the CA key. Even so the store holds no working
credential (no presigned URL, no job environment value): a copy of the whole database gives nobody one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import stat
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, delete, event, or_, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from traitlets import Float, Integer, TraitError, Unicode, validate
from traitlets.config import Configurable

from ..errors import DependencyUnavailable
from . import codes
from .model import Base, Task, TaskRow, utcnow

log = logging.getLogger(__name__)

_UNSET: Any = object()


class TaskStoreUnavailable(DependencyUnavailable):
    """The task database does not answer; the API reports it as 503."""


class TaskStoreNotPrivate(TraitError):
    """A SQLite task database (or its directory) that other accounts can reach: the service does not start."""


def new_task_id() -> str:
    """128 random bits: ids cannot be guessed or enumerated."""
    return secrets.token_hex(16)


class TaskStore(Configurable):
    """Reads and writes tasks; all methods are coroutines that run their SQL in the store's threads."""

    db_url = Unicode(
        "sqlite:///firecrest-state/tasks.sqlite",
        help="""SQLAlchemy URL of the task database. The default is a SQLite file in a directory of its own
        below the service's working directory, created private (0700); a SQLite file or directory that
        others can reach stops the service. Replicas of the service must share one PostgreSQL database
        instead (e.g. `postgresql://firecrest:secret@db.example.org/firecrest`). The table is created if
        missing.""",
    ).tag(config=True)

    threads = Integer(
        4, min=1, help="Threads (and at most as many database connections) that run the store's SQL.",
    ).tag(config=True)

    retention = Float(
        7 * 24 * 3600,
        min=0.01,
        help="""Seconds a finished task is kept after its last change; older ones are deleted (FirecREST v1
        kept compute tasks for a day and storage tasks for a week).""",
    ).tag(config=True)

    @validate("db_url")
    def _validate_db_url(self, proposal):
        try:
            make_url(proposal["value"])
        except ArgumentError as error:
            raise TraitError(f"TaskStore.db_url is not an SQLAlchemy URL: {error}") from None
        return proposal["value"]

    def __init__(self, url_prefix: str = "", **kwargs):
        """`url_prefix` is the API's path (e.g. /services/firecrest/api/v1); task URLs hang below it."""
        super().__init__(**kwargs)
        self.url_prefix = url_prefix.rstrip("/")
        # Checked at construction, like the CA key: a database others can read stops the service at its start.
        self._sqlite_file = _sqlite_file(self.db_url)
        if self._sqlite_file:
            prepare_private_database(self._sqlite_file, create=False)
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and create the table if it is missing."""
        if self._sqlite_file:
            prepare_private_database(self._sqlite_file, create=True)
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="task-store")
        self._engine = _engine(self.db_url, self.threads)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        await self._run(Base.metadata.create_all, self._engine)
        log.info("task store at %s", self._engine.url.render_as_string(hide_password=True))

    async def close(self) -> None:
        if self._engine is not None:
            await self._run(self._engine.dispose)
            self._engine = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # -- reads on behalf of a user -----------------------------------------------------------------

    async def get(self, user: str, task_id: str) -> Task | None:
        """The user's task with this id, or None (also when the task is someone else's)."""
        rows = await self._select(TaskRow.user == user, TaskRow.id == task_id)
        return rows[0] if rows else None

    async def tasks_of(self, user: str, task_ids: list[str] | None = None) -> list[Task]:
        """The user's tasks, oldest first; only those among `task_ids` when given (others are ignored)."""
        if task_ids is None:
            return await self._select(TaskRow.user == user)
        return await self._select(TaskRow.user == user, TaskRow.id.in_(task_ids))

    async def newest_of(self, user: str, limit: int, *, kinds: Collection[str] = (),
                        excluding: Collection[str] = ()) -> list[Task]:
        """The user's `limit` most recently changed tasks, newest first: only of `kinds` when given, never
        of `excluding`. The database picks them (on the owner's index by change), so a user's thousands of
        tasks are not all read to show a few."""
        conditions = [TaskRow.user == user]
        if kinds:
            conditions.append(TaskRow.kind.in_(kinds))
        if excluding:
            conditions.append(TaskRow.kind.not_in(excluding))
        return await self._select(*conditions, order=TaskRow.updated_at.desc(), limit=limit)

    async def with_data(self, user: str, kind: str, system: str, key: str, value: str | int) -> list[Task]:
        """The user's tasks of `kind` on `system` whose data holds `value` (compared as text) at `key`,
        newest first."""
        return await self._select(TaskRow.user == user, TaskRow.kind == kind, TaskRow.system == system,
                                  TaskRow.data[key].as_string() == str(value), order=TaskRow.created_at.desc())

    async def unfinished(self, user: str) -> list[Task]:
        return await self._select(TaskRow.user == user, TaskRow.finished.is_(False))

    async def changed_since(self, user: str, since: datetime) -> list[Task]:
        """The user's tasks written at or after `since`, oldest change first."""
        return await self._select(TaskRow.user == user, TaskRow.updated_at >= since, order=TaskRow.updated_at)

    # -- writes by runners -------------------------------------------------------------------------

    async def create(self, *, user: str, service: str, system: str | None, kind: str, params: dict,
                     deadline: datetime, runner: str, lease_until: datetime,
                     success_status: str = codes.FINISHED, failure_status: str = codes.FAILED) -> Task:
        """A new task in state 100 (queued), claimed by `runner` until `lease_until`."""
        now = utcnow()
        row = TaskRow(
            id=new_task_id(), user=user, service=service, system=system, kind=kind, status=codes.QUEUED,
            data={}, params=params, success_status=success_status,
            failure_status=failure_status, finished=False, revision=0, created_at=now, updated_at=now,
            deadline=deadline, runner=runner, lease_until=lease_until,
        )

        def insert(session: Session) -> Task:
            session.add(row)
            session.flush()
            return Task.from_row(row, self.url_prefix)

        return await self._transaction(insert)

    async def update(self, task_id: str, runner: str, *, status: str, data: Any = _UNSET,
                     params: dict | None = None) -> Task | None:
        """Record a new state of an unfinished task that `runner` holds; a final status finishes it.

        None when the task is finished or `runner` no longer holds it (another replica took it over):
        a late write never overwrites a newer truth.
        """
        values: dict[str, Any] = {"status": status, "finished": status in codes.FINAL}
        if data is not _UNSET:
            values["data"] = data
        if params is not None:
            values["params"] = params
        if status in codes.FINAL:
            values.update(runner=None, lease_until=None)
        return await self._update(values, TaskRow.id == task_id, TaskRow.runner == runner)

    async def claim(self, task_id: str, runner: str, lease_until: datetime) -> Task | None:
        """Take over an unfinished task whose claim lapsed; None when another runner was quicker."""
        lapsed = or_(TaskRow.lease_until.is_(None), TaskRow.lease_until < utcnow())
        return await self._update({"runner": runner, "lease_until": lease_until}, TaskRow.id == task_id, lapsed,
                                  touch=False)

    async def fail(self, task_id: str, reason: str) -> Task | None:
        """Finish an unfinished task with its failure status whoever holds it (for tasks past their deadline)."""
        values = {"status": TaskRow.failure_status, "data": reason, "finished": True, "runner": None,
                  "lease_until": None}
        return await self._update(values, TaskRow.id == task_id)

    async def renew(self, runner: str, task_ids: list[str], lease_until: datetime) -> int:
        """Extend the claim of `runner` on those of `task_ids` it still holds."""
        statement = (update(TaskRow)
                     .where(TaskRow.runner == runner, TaskRow.finished.is_(False), TaskRow.id.in_(task_ids))
                     .values(lease_until=lease_until))
        return await self._transaction(lambda session: session.execute(statement).rowcount)

    async def release(self, runner: str) -> int:
        """Give up the claims of `runner` (it stops), so the next runner resumes its tasks at once."""
        statement = (update(TaskRow).where(TaskRow.runner == runner, TaskRow.finished.is_(False))
                     .values(runner=None, lease_until=None))
        return await self._transaction(lambda session: session.execute(statement).rowcount)

    # -- maintenance -------------------------------------------------------------------------------

    async def orphans(self, limit: int = 100) -> list[Task]:
        """Unfinished tasks nobody holds (their runner stopped or stalled past its lease)."""
        lapsed = or_(TaskRow.lease_until.is_(None), TaskRow.lease_until < utcnow())
        return await self._select(TaskRow.finished.is_(False), lapsed, limit=limit)

    async def overdue(self, before: datetime, limit: int = 100) -> list[Task]:
        """Unfinished tasks whose deadline is earlier than `before`."""
        return await self._select(TaskRow.finished.is_(False), TaskRow.deadline < before, limit=limit)

    async def purge(self) -> int:
        """Delete finished tasks unchanged for longer than `retention`."""
        cutoff = utcnow() - timedelta(seconds=self.retention)
        statement = delete(TaskRow).where(TaskRow.finished.is_(True), TaskRow.updated_at < cutoff)
        return await self._transaction(lambda session: session.execute(statement).rowcount)

    # -- plumbing ----------------------------------------------------------------------------------

    async def _select(self, *conditions, order=None, limit: int | None = None) -> list[Task]:
        statement = select(TaskRow).where(*conditions).order_by(order if order is not None else TaskRow.created_at)
        if limit is not None:
            statement = statement.limit(limit)

        def read(session: Session) -> list[Task]:
            return [Task.from_row(row, self.url_prefix) for row in session.scalars(statement)]

        return await self._transaction(read)

    async def _update(self, values: dict, *conditions, touch: bool = True) -> Task | None:
        if touch:
            values = {**values, "updated_at": utcnow(), "revision": TaskRow.revision + 1}
        statement = (update(TaskRow).where(TaskRow.finished.is_(False), *conditions).values(**values)
                     .returning(TaskRow).execution_options(synchronize_session=False))

        def write(session: Session) -> Task | None:
            row = session.scalars(statement).first()
            return Task.from_row(row, self.url_prefix) if row is not None else None

        return await self._transaction(write)

    async def _transaction(self, work):
        def run():
            with self._sessions.begin() as session:
                return work(session)

        return await self._run(run)

    async def _run(self, function, *args):
        if self._executor is None:
            raise RuntimeError("the task store is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(function, *args))
        except (OperationalError, InterfaceError) as error:
            log.error("task database error: %s", error)
            raise TaskStoreUnavailable("the task database does not answer right now; try again shortly") from None


def prepare_private_database(database: str, *, create: bool) -> None:
    """Refuse a SQLite file or directory that is not private to the service; with `create`, make the
    missing ones private (0700, 0600) first."""
    path = os.path.abspath(database)
    directory = os.path.dirname(path)
    if create and not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700)
    if os.path.isdir(directory):
        _require_private(directory)
    if create:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for existing in (path, path + "-wal", path + "-shm", path + "-journal"):
        if os.path.exists(existing):
            _require_private(existing)


def _require_private(path: str) -> None:
    info = os.stat(path)
    if info.st_uid != os.geteuid():
        raise TaskStoreNotPrivate(f"{path} belongs to uid {info.st_uid}, not to the service (uid {os.geteuid()})")
    if stat.S_IMODE(info.st_mode) & 0o077:
        kind, fix = ("directory", "0700") if stat.S_ISDIR(info.st_mode) else ("file", "0600")
        raise TaskStoreNotPrivate(f"the task database {kind} {path} has mode {stat.S_IMODE(info.st_mode):04o}: "
                                  f"other accounts could read its tasks; make it {fix}")


def _sqlite_file(url: str) -> str | None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return parsed.database
    return None


def _engine(url: str, connections: int) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=connections, max_overflow=0, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(connection, _record):
        # WAL lets readers (other processes, tests) work while the service writes.
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine
