"""carrier accounts bump the tenant's configuration version too

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 17:40:00

Every tracking push is authenticated against its carrier account. Processes keep the accounts
cached by the tenant's config_version, as they keep channels and locations (migration 0003): a
trigger bumps the version on every insert or update of a carrier account, so a changed token or
address reaches the next push in every process, with no look-up of the unchanged ones.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER carriers_bump_tenant_config AFTER INSERT OR UPDATE ON carriers "
            "FOR EACH ROW EXECUTE FUNCTION ordermesh_bump_tenant_config()"
        )
        return
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER carriers_bump_tenant_config_{event.lower()} AFTER {event} ON carriers "
            "FOR EACH ROW BEGIN "
            "UPDATE tenants SET config_version = config_version + 1 WHERE id = NEW.tenant_id; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER carriers_bump_tenant_config ON carriers")
        return
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER carriers_bump_tenant_config_{event}")
