"""Reading and writing corrections. The engine is made on first use, not at start: a gateway whose
database is down still starts and serves predictions, and its feedback route answers 503 until the
database is back. Every way the database can fail (down, unreachable, full, read-only, corrupt, no
schema yet) becomes `Unavailable`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, func, make_url, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from feedback.models import STATUSES, Correction
from feedback.submission import Submission

logger = logging.getLogger(__name__)

# Seconds to wait for the database: a PostgreSQL connect, or a SQLite file another process is writing.
CONNECT_TIMEOUT = 3


class Unavailable(Exception):
    """The database cannot take or give corrections now; the message says why, for the log."""


def connect_args(url: str) -> dict:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return {"timeout": CONNECT_TIMEOUT}
    if backend == "postgresql":
        return {"connect_timeout": CONNECT_TIMEOUT}
    return {}


class Store:
    """The corrections of one database, for any number of threads."""

    def __init__(self, url: str):
        self.url = url
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._lock = threading.Lock()

    def _sessionmaker(self) -> sessionmaker[Session]:
        with self._lock:
            if self._sessions is None:
                # pre-ping: a pooled connection to a database that restarted is replaced, not failed
                self._engine = create_engine(self.url, pool_pre_ping=True, connect_args=connect_args(self.url))
                self._sessions = sessionmaker(self._engine, expire_on_commit=False)
            return self._sessions

    @property
    def engine(self) -> Engine:
        """Made on first use; nothing connects until a query runs."""
        self._sessionmaker()
        assert self._engine is not None
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end; the database's failures raised as Unavailable. Integrity and
        data errors are not among them: they mean a bug (input the checks let through), so they raise."""
        try:
            with self._sessionmaker().begin() as session:
                yield session
        except (sa_exc.IntegrityError, sa_exc.DataError):
            raise
        except (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.ArgumentError, sa_exc.NoSuchModuleError) as err:
            reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            logger.warning("feedback database unavailable: %s", reason)
            raise Unavailable(reason) from None

    def add(self, submission: Submission, image: bytes, client: str) -> int:
        """Keep one correction; its id."""
        row = Correction(label=submission.label, predicted=submission.predicted,
                         probabilities=submission.probabilities, model_version=submission.model_version,
                         strokes=submission.strokes, image=image, client=client)
        with self.session() as session:
            session.add(row)
            session.flush()
            return row.id

    def get(self, id: int) -> Correction | None:
        with self.session() as session:
            return session.get(Correction, id)

    def listing(self, status: str | None = None, limit: int | None = None) -> list[Correction]:
        """The newest first, of one status or all."""
        query = select(Correction).order_by(Correction.id.desc()).limit(limit)
        if status is not None:
            query = query.where(Correction.status == status)
        with self.session() as session:
            return list(session.scalars(query))

    def review(self, id: int, status: str) -> bool:
        """Set a correction's status; False when there is no such correction."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        with self.session() as session:
            row = session.get(Correction, id)
            if row is not None:
                row.status = status
            return row is not None

    def count_kept(self, statuses: tuple[str, ...]) -> int:
        with self.session() as session:
            return session.scalar(select(func.count(Correction.id)).where(Correction.status.in_(statuses))) or 0

    def kept(self, statuses: tuple[str, ...]) -> Iterator[tuple[int, int, int | None, bytes]]:
        """(id, label, predicted, image) of every correction of these statuses, oldest first, a few
        hundred rows at a time rather than all images at once."""
        query = (select(Correction.id, Correction.label, Correction.predicted, Correction.image)
                 .where(Correction.status.in_(statuses)).order_by(Correction.id))
        with self.session() as session:
            for row in session.execute(query.execution_options(yield_per=256)):
                yield row.id, row.label, row.predicted, row.image

    def dispose(self) -> None:
        """Close the pooled connections (the CLIs and tests, when done)."""
        if self._engine is not None:
            self._engine.dispose()
