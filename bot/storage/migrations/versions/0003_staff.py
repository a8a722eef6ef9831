"""staff dashboard: users, sessions, used TOTP steps, sign-in failures, audit log, booking notes,
booking outcome, anonymous booking statistics

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:00:00

The TOTP secret and note text hold Fernet tokens (text); see bot/storage/crypto.py.
"""
from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("password_changed_at", TS, nullable=False),
        sa.Column("last_login_at", TS, nullable=True),
        sa.CheckConstraint("role IN ('caseworker', 'lead')", name=op.f("ck_staff_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_users_username")),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"], ondelete="CASCADE",
                                name=op.f("fk_staff_sessions_user_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    op.create_index(op.f("ix_staff_sessions_user_id"), "staff_sessions", ["user_id"], unique=False)
    op.create_table(
        "staff_totp_used",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("used_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"], ondelete="CASCADE",
                                name=op.f("fk_staff_totp_used_user_id_staff_users")),
        sa.PrimaryKeyConstraint("user_id", "step", name="pk_staff_totp_used"),
    )
    op.create_table(
        "staff_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_login_failures")),
    )
    op.create_index(op.f("ix_staff_login_failures_key"), "staff_login_failures", ["key"], unique=False)
    op.create_index(op.f("ix_staff_login_failures_at"), "staff_login_failures", ["at"], unique=False)
    op.create_table(
        "staff_audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("target_user_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"],
                                name=op.f("fk_staff_audit_log_user_id_staff_users")),
        sa.ForeignKeyConstraint(["target_user_id"], ["staff_users.id"],
                                name=op.f("fk_staff_audit_log_target_user_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_audit_log")),
    )
    op.create_index(op.f("ix_staff_audit_log_at"), "staff_audit_log", ["at"], unique=False)
    op.create_index(op.f("ix_staff_audit_log_user_id"), "staff_audit_log", ["user_id"], unique=False)
    op.create_index(op.f("ix_staff_audit_log_booking_id"), "staff_audit_log", ["booking_id"], unique=False)
    op.create_table(
        "booking_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], ondelete="CASCADE",
                                name=op.f("fk_booking_notes_booking_id_bookings")),
        sa.ForeignKeyConstraint(["author_id"], ["staff_users.id"],
                                name=op.f("fk_booking_notes_author_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_notes")),
    )
    op.create_index(op.f("ix_booking_notes_booking_id"), "booking_notes", ["booking_id"], unique=False)
    op.create_table(
        "booking_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("high_priority", sa.Boolean(), nullable=False),
        sa.Column("first_attempt_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("purged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_stats")),
        sa.UniqueConstraint("booking_id", "created_at", name="uq_booking_stats_booking_id"),
    )
    op.create_index(op.f("ix_booking_stats_created_at"), "booking_stats", ["created_at"], unique=False)
    # SQLite can add a plain nullable column without rebuilding the table.
    op.add_column("bookings", sa.Column("outcome", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("outcome")
    op.drop_index(op.f("ix_booking_stats_created_at"), table_name="booking_stats")
    op.drop_table("booking_stats")
    op.drop_index(op.f("ix_booking_notes_booking_id"), table_name="booking_notes")
    op.drop_table("booking_notes")
    op.drop_index(op.f("ix_staff_audit_log_booking_id"), table_name="staff_audit_log")
    op.drop_index(op.f("ix_staff_audit_log_user_id"), table_name="staff_audit_log")
    op.drop_index(op.f("ix_staff_audit_log_at"), table_name="staff_audit_log")
    op.drop_table("staff_audit_log")
    op.drop_index(op.f("ix_staff_login_failures_at"), table_name="staff_login_failures")
    op.drop_index(op.f("ix_staff_login_failures_key"), table_name="staff_login_failures")
    op.drop_table("staff_login_failures")
    op.drop_table("staff_totp_used")
    op.drop_index(op.f("ix_staff_sessions_user_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")
