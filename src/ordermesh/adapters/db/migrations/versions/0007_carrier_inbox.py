"""carrier inbox: tracking pushes stored raw before they are parsed

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 17:30:00

A carrier's tracking push is kept as it came (headers without credentials, body) before it is
parsed, as channel webhooks are: applied in the request that received it, or queued and applied by
the workers in batches. A push that cannot be applied stays, failed, with its error, retryable.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carrier_inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("carrier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["carrier_id"], ["carriers.id"], name=op.f("fk_carrier_inbox_carrier_id_carriers")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_carrier_inbox_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_inbox")),
    )
    with op.batch_alter_table("carrier_inbox", schema=None) as batch_op:
        batch_op.create_index("ix_carrier_inbox_tenant_state", ["tenant_id", "state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("carrier_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_carrier_inbox_tenant_state")
    op.drop_table("carrier_inbox")
