"""sms channel: processed MessageSids (dedupe, with expiry), opt-outs, privacy notices, numbered
choices, delivery failures by error code, outbound records

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 13:00:00

No phone number and no message text is stored anywhere here: numbers are HMAC-SHA256 hex digests
(SENDER_HASH_KEY), MessageSids too.
"""
from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_processed",
        sa.Column("sid_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sid_hash", name=op.f("pk_sms_processed")),
    )
    op.create_index(op.f("ix_sms_processed_expires_at"), "sms_processed", ["expires_at"])
    op.create_table(
        "sms_opt_outs",
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("number_hash", name=op.f("pk_sms_opt_outs")),
    )
    op.create_table(
        "sms_notices",
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("number_hash", name=op.f("pk_sms_notices")),
    )
    op.create_table(
        "sms_choices",
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("payloads", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("number_hash", name=op.f("pk_sms_choices")),
    )
    op.create_index(op.f("ix_sms_choices_expires_at"), "sms_choices", ["expires_at"])
    op.create_table(
        "sms_delivery_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("error_code", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_delivery_failures")),
        sa.UniqueConstraint("day", "error_code", name="uq_sms_delivery_failures_day_error_code"),
    )
    op.create_table(
        "sms_outbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("septets", sa.Integer(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbound")),
    )
    op.create_index(op.f("ix_sms_outbound_number_hash"), "sms_outbound", ["number_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_outbound_number_hash"), table_name="sms_outbound")
    op.drop_table("sms_outbound")
    op.drop_table("sms_delivery_failures")
    op.drop_index(op.f("ix_sms_choices_expires_at"), table_name="sms_choices")
    op.drop_table("sms_choices")
    op.drop_table("sms_notices")
    op.drop_table("sms_opt_outs")
    op.drop_index(op.f("ix_sms_processed_expires_at"), table_name="sms_processed")
    op.drop_table("sms_processed")
