"""callback bookings: bookings, safe windows, contact attempts, purge counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 11:30:00

Personal columns hold Fernet tokens (text); see bot/storage/crypto.py. Staff users and the audit log
come in 0003.
"""
from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("phone_blind_index", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("first_attempt_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("voicemail_wording", sa.Text(), nullable=True),
        sa.Column("cover_story", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('callback', 'third_party_report')", name=op.f("ck_bookings_kind")),
        sa.CheckConstraint(
            "status IN ('new', 'claimed', 'attempted', 'completed', 'closed')", name=op.f("ck_bookings_status")
        ),
        sa.CheckConstraint("channel IN ('web', 'sms')", name=op.f("ck_bookings_channel")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("reference", name=op.f("uq_bookings_reference")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_bookings_idempotency_key")),
    )
    op.create_index(op.f("ix_bookings_status"), "bookings", ["status"], unique=False)
    op.create_index(op.f("ix_bookings_phone_blind_index"), "bookings", ["phone_blind_index"], unique=False)

    op.create_table(
        "booking_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("start_utc", TS, nullable=False),
        sa.Column("end_utc", TS, nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], ondelete="CASCADE",
                                name=op.f("fk_booking_windows_booking_id_bookings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_windows")),
    )
    op.create_index(op.f("ix_booking_windows_booking_id"), "booking_windows", ["booking_id"], unique=False)

    op.create_table(
        "contact_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], ondelete="CASCADE",
                                name=op.f("fk_contact_attempts_booking_id_bookings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_attempts")),
    )
    op.create_index(op.f("ix_contact_attempts_booking_id"), "contact_attempts", ["booking_id"], unique=False)

    op.create_table(
        "purge_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purge_counts")),
        sa.UniqueConstraint("day", "kind", "reason", name="uq_purge_counts_day_kind_reason"),
    )


def downgrade() -> None:
    op.drop_table("purge_counts")
    op.drop_index(op.f("ix_contact_attempts_booking_id"), table_name="contact_attempts")
    op.drop_table("contact_attempts")
    op.drop_index(op.f("ix_booking_windows_booking_id"), table_name="booking_windows")
    op.drop_table("booking_windows")
    op.drop_index(op.f("ix_bookings_phone_blind_index"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_status"), table_name="bookings")
    op.drop_table("bookings")
