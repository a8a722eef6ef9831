"""staff sign-in back-off: which address each checked failure came from (the per-account-and-address
limit), and how many wrong current passwords a session has given on the change-password page

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 12:00:00

`staff_login_failures.address` holds the same keyed hash as the address rows (never an address in
clear); it is set on the 'account' rows only, which are now written only when a password was checked.
"""
from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_login_failures") as batch:
        batch.add_column(sa.Column("address", sa.String(length=64), nullable=True))
    with op.batch_alter_table("staff_sessions") as batch:
        batch.add_column(sa.Column("password_failures", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions") as batch:
        batch.drop_column("password_failures")
    with op.batch_alter_table("staff_login_failures") as batch:
        batch.drop_column("address")
