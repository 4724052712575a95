"""The corrections table: one row a correction, as the gateway received it, and its review status.
Its history is in feedback/migrations: change a column here, then add a revision there."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Dialect, LargeBinary, SmallInteger, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

STATUSES = ("new", "accepted", "rejected")  # a person's review: new until someone looks
MODEL_VERSION_CHARS = 64


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out: SQLite keeps no time zone and would hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Correction(Base):
    """What a person said they drew, with what the model answered and the drawing itself."""

    __tablename__ = "corrections"
    __table_args__ = (
        CheckConstraint("label BETWEEN 0 AND 9", name="ck_corrections_label"),
        CheckConstraint("predicted IS NULL OR predicted BETWEEN 0 AND 9", name="ck_corrections_predicted"),
        CheckConstraint(f"status IN {STATUSES!r}", name="ck_corrections_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    model_version: Mapped[str | None] = mapped_column(String(MODEL_VERSION_CHARS))
    predicted: Mapped[int | None] = mapped_column(SmallInteger)  # the digit the model answered, if any
    probabilities: Mapped[list[float] | None] = mapped_column(JSON)  # the model's ten, as the page got them
    label: Mapped[int] = mapped_column(SmallInteger)  # the digit the person says they drew
    image: Mapped[bytes] = mapped_column(LargeBinary)  # the image as sent (the page sends a PNG)
    strokes: Mapped[list[Any] | None] = mapped_column(JSON)  # [[[x, y, t], ...], ...] as the page kept them
    client: Mapped[str] = mapped_column(String(64))  # settings.client_hash of the address; never the address
    status: Mapped[str] = mapped_column(String(8), default="new", server_default="new")
