"""tenant configuration version: a counter every change to a tenant's channels or locations bumps

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:00:00

Order intake reads a tenant's channels and locations for every order. Each process keeps them
cached, keyed by this counter, which it reads with the tenant's settings: a change made by any
process is seen by the next order everywhere, with no look-up of the unchanged ones. Triggers
bump the counter, so no code path that writes a channel or location can forget to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("channels", "locations")


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("config_version", sa.BigInteger(), server_default="0", nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ordermesh_bump_tenant_config() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE tenants SET config_version = config_version + 1 WHERE id = NEW.tenant_id;
                RETURN NULL;
            END $$
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_bump_tenant_config AFTER INSERT OR UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ordermesh_bump_tenant_config()"
            )
        return
    for table in TABLES:
        for event in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER {table}_bump_tenant_config_{event.lower()} AFTER {event} ON {table} "
                "FOR EACH ROW BEGIN "
                "UPDATE tenants SET config_version = config_version + 1 WHERE id = NEW.tenant_id; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_bump_tenant_config ON {table}")
        op.execute("DROP FUNCTION ordermesh_bump_tenant_config()")
    else:
        for table in TABLES:
            for event in ("insert", "update"):
                op.execute(f"DROP TRIGGER {table}_bump_tenant_config_{event}")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("config_version")
