"""a partial index for the pincode outcome count every new order's risk step runs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 16:40:00

The risk step counts a ship pincode's orders with a delivery outcome (delivered, closed, rto,
returned). The (tenant, pincode, status) index held every order, so the count walked all the open
orders to a busy pincode and filtered them one by one; this index holds only the orders that have
an outcome, and a new order's insert no longer writes it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OUTCOME = "status IN ('delivered', 'closed', 'rto', 'partially_returned', 'returned')"


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_tenant_ship_pincode")
        batch_op.create_index(
            "ix_orders_tenant_pincode_outcome",
            ["tenant_id", "ship_pincode", "status"],
            unique=False,
            postgresql_where=sa.text(OUTCOME),
            sqlite_where=sa.text(OUTCOME),
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_tenant_pincode_outcome")
        batch_op.create_index("ix_orders_tenant_ship_pincode", ["tenant_id", "ship_pincode", "status"], unique=False)
