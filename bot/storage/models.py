"""Table definitions. Change them only together with a new Alembic migration (`make migration`)."""
from __future__ import annotations

from sqlalchemy import Column, Date, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import declarative_base

# Stable constraint names, so migrations behave the same on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Base = declarative_base(metadata=metadata)


class EscalationCount(Base):
    """Emergency escalations per day and channel: a number only, never any text."""

    __tablename__ = "escalation_counts"
    __table_args__ = (UniqueConstraint("day", "channel", name="uq_escalation_counts_day_channel"),)

    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    channel = Column(String(16), nullable=False)
    count = Column(Integer, nullable=False, default=0)
