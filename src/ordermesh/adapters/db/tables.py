"""Database rows (SQLAlchemy 2 typed declarative). ``tenant_id`` comes first in every business key."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# BIGINT ids on PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always read back timezone-aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("ordermesh stores timezone-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def sqlite_timestamp(value: datetime) -> str:
    """A timestamp as UtcDateTime stores it in SQLite (naive UTC text), for statements that go to
    the driver directly."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    # Bumped by triggers on every change to the tenant's channels or locations (migration 0003).
    config_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    locations: Mapped[list[Any] | None]
    channels: Mapped[list[Any] | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    locations: Mapped[list[Any] | None]
    channels: Mapped[list[Any] | None]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Sku(Base):
    __tablename__ = "skus"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_skus_tenant_name", "tenant_id", "name"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    hsn: Mapped[str] = mapped_column(String(8))
    gst_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    mrp: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    weight_g: Mapped[int] = mapped_column(Integer)
    length_cm: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    breadth_cm: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    height_cm: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    barcodes: Mapped[list[Any]] = mapped_column(default=list)
    is_bundle: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SkuBarcode(Base):
    """Barcode -> SKU, unique per tenant, so a scan at the pack station finds exactly one SKU."""

    __tablename__ = "sku_barcodes"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    barcode: Mapped[str] = mapped_column(String(48), primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), index=True)


class BundleComponent(Base):
    __tablename__ = "bundle_components"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    bundle_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True, index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state_code: Mapped[str] = mapped_column(String(2))
    pincode: Mapped[str] = mapped_column(String(6))
    gstin: Mapped[str | None] = mapped_column(String(15))
    capabilities: Mapped[list[Any]] = mapped_column(default=list)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StockBalance(Base):
    """The balance a SKU's ledger implies at one location, kept in the movement's transaction."""

    __tablename__ = "stock_balances"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        CheckConstraint("quarantined >= 0", name="quarantined_non_negative"),
        CheckConstraint("safety_stock >= 0", name="safety_stock_non_negative"),
        Index("ix_stock_balances_tenant_location", "tenant_id", "location_id", "sku_id"),
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    safety_stock: Mapped[int] = mapped_column(Integer, default=0)
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class StockMovement(Base):
    """The append-only stock ledger. Never updated, never deleted."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_tenant_sku_location_id", "tenant_id", "sku_id", "location_id", "id"),
        Index("ix_stock_movements_tenant_reference", "tenant_id", "reference"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)
    d_on_hand: Mapped[int] = mapped_column(Integer, default=0)
    d_reserved: Mapped[int] = mapped_column(Integer, default=0)
    d_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(300))
    reference: Mapped[str | None] = mapped_column(String(120))
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_tenant_entity", "tenant_id", "entity_type", "entity_key", "id"),
        Index("ix_audit_log_tenant_id", "tenant_id", "id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    request_id: Mapped[str | None] = mapped_column(String(64))


class OutboxEvent(Base):
    """Transactional outbox: events written with the change, delivered by the worker after commit."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_available_at", "status", "available_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    topic: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    available_at: Mapped[datetime]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]


class Alert(Base):
    """Something a person should look at (low stock now; SLA breaches and sync errors later)."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_tenant_open", "tenant_id", "resolved_at", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class Channel(Base):
    """A sales channel as a record: where orders come from and how fast they must ship."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    locations: Mapped[list[Any] | None]  # location codes that serve it; None = every active location
    sla: Mapped[dict[str, Any]] = mapped_column(default=dict)
    routing: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The connection to the channel's API (migration 0004); credentials are ciphertext (Vault).
    base_url: Mapped[str | None] = mapped_column(String(500))
    credentials: Mapped[str | None] = mapped_column(Text)
    connector: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the connector's settings
    inventory: Mapped[dict[str, Any]] = mapped_column(default=dict)  # buffer and rule for sync
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ChannelListing(Base):
    """One thing a channel sells, by the channel's own ids, mapped to our SKU (or bundle)."""

    __tablename__ = "channel_listings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel_id", "listing_id"),
        Index("ix_channel_listings_tenant_sku", "tenant_id", "sku_id"),
        Index("ix_channel_listings_tenant_channel_dirty", "tenant_id", "channel_id", "dirty"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    listing_id: Mapped[str] = mapped_column(String(128))
    seller_sku: Mapped[str | None] = mapped_column(String(128))
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Sync: ``dirty`` counts stock changes not yet pushed; a push clears it only if it did not move.
    dirty: Mapped[int] = mapped_column(Integer, default=1)
    pushed_quantity: Mapped[int | None] = mapped_column(Integer)
    pushed_at: Mapped[datetime | None]
    push_error: Mapped[str | None] = mapped_column(Text)
    channel_quantity: Mapped[int | None] = mapped_column(Integer)  # as read back by reconciliation
    checked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ChannelInbox(Base):
    """Every webhook body and pulled page, stored raw before it is parsed."""

    __tablename__ = "channel_inbox"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel_id", "dedupe_key"),
        Index("ix_channel_inbox_tenant_state", "tenant_id", "state", "id"),
        Index("ix_channel_inbox_tenant_channel", "tenant_id", "channel_id", "id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    source: Mapped[str] = mapped_column(String(10))  # webhook | poll | import
    topic: Mapped[str | None] = mapped_column(String(100))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10))  # received | processing | processed | failed | rejected
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # orders created, updated, waiting
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]  # when its state last changed (claimed, processed)


class ChannelSync(Base):
    """Where each kind of sync with a channel stands: its cursor, last success, last failure."""

    __tablename__ = "channel_sync"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # orders | inventory | status | reconcile
    cursor: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row; back-off grows with it
    next_attempt_at: Mapped[datetime | None]


class ChannelPush(Base):
    """Each thing told to a channel (a listing's quantity, an order's status) and its answer."""

    __tablename__ = "channel_pushes"
    __table_args__ = (Index("ix_channel_pushes_tenant_channel", "tenant_id", "channel_id", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    kind: Mapped[str] = mapped_column(String(20))  # inventory | reconcile | status
    key: Mapped[str] = mapped_column(String(128))  # listing id or the channel's order id
    quantity: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(30))
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class Customer(Base):
    """One real person across channels, matched on E.164 phone, else lower-cased email."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("uq_customers_tenant_phone", "tenant_id", "phone", unique=True),
        Index("ix_customers_tenant_email", "tenant_id", "email"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]


# The statuses that are a delivery outcome, as SQL: queries name them with this same literal text,
# which is what lets SQLite and PostgreSQL use the partial index below.
PINCODE_OUTCOME_SQL = "status IN ('delivered', 'closed', 'rto', 'partially_returned', 'returned')"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel_id", "external_id"),
        Index("ix_orders_tenant_status_id", "tenant_id", "status", "id"),
        Index("ix_orders_tenant_channel_status_id", "tenant_id", "channel_id", "status", "id"),
        Index("ix_orders_tenant_customer", "tenant_id", "customer_id", "id"),
        Index("ix_orders_tenant_dispatch_by", "tenant_id", "dispatch_by"),
        # The risk step counts a pincode's delivery outcomes for every new order: a partial index
        # holds just the orders that have one, so the count reads only those (never every open
        # order to a busy pincode), and a new order's insert does not write this index at all.
        Index(
            "ix_orders_tenant_pincode_outcome",
            "tenant_id",
            "ship_pincode",
            "status",
            postgresql_where=text(PINCODE_OUTCOME_SQL),
            sqlite_where=text(PINCODE_OUTCOME_SQL),
        ),
        Index("ix_orders_tenant_customer_status", "tenant_id", "customer_id", "status"),
        Index("ix_orders_tenant_placed_at", "tenant_id", "placed_at", "id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    placed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    holds: Mapped[list[Any]] = mapped_column(default=list)  # [{"reason", "detail"}]
    cleared_holds: Mapped[list[Any]] = mapped_column(default=list)  # reasons a person waved through
    payment_method: Mapped[str] = mapped_column(String(10))
    payment_status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    items_total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    discount_total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    shipping_total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    tax_total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    grand_total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    customer: Mapped[dict[str, Any]]  # name, phone, email as given
    shipping_address: Mapped[dict[str, Any]]
    billing_address: Mapped[dict[str, Any] | None]
    tags: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    risk_score: Mapped[int | None] = mapped_column(Integer)
    risk: Mapped[dict[str, Any] | None]
    routing: Mapped[dict[str, Any] | None]
    dispatch_by: Mapped[datetime | None]
    sla_state: Mapped[str] = mapped_column(String(10), default="ok")
    ship_pincode: Mapped[str] = mapped_column(String(10))
    basket: Mapped[str] = mapped_column(String(32))  # buyer + SKUs + quantities, to spot duplicates
    payload_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # What the channel's connector needs to tell the channel about this order later (its line ids,
    # fulfilment ids …), from the channel's own payload (migration 0004).
    channel_data: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "allocated >= 0 AND shipped >= 0 AND cancelled >= 0 AND delivered >= 0 AND returned >= 0",
            name="counts_non_negative",
        ),
        CheckConstraint("allocated + shipped + cancelled <= quantity", name="units_add_up"),
        CheckConstraint("delivered <= shipped AND returned <= delivered", name="delivered_within_shipped"),
        Index("ix_order_lines_order", "order_id", "line_no"),
        Index("ix_order_lines_tenant_sku_open", "tenant_id", "sku_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku_code: Mapped[str] = mapped_column(String(64))  # as the channel sent it
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))  # None while unmapped
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    discount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    tax: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    shipped: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)


class OrderAllocation(Base):
    """Units of one line reserved at one location."""

    __tablename__ = "order_allocations"
    __table_args__ = (
        Index("ix_order_allocations_order", "order_id"),
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class OrderEvent(Base):
    """The order's timeline: every change, in words a person can read, with its data."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]
    actor: Mapped[str] = mapped_column(String(120))


class OrderChange(Base):
    """A versioned change to an order: what changed, who changed it and why."""

    __tablename__ = "order_changes"
    __table_args__ = (UniqueConstraint("order_id", "version"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(300))
    changes: Mapped[dict[str, Any]]


class JobRun(Base):
    """When each periodic job last ran, so only one of several workers runs it per interval."""

    __tablename__ = "job_runs"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_run_at: Mapped[datetime]


class Carrier(Base):
    """A carrier account of the tenant: an aggregator, a courier, or its own fleet's rate card."""

    __tablename__ = "carriers"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # shiprocket | delhivery | rate_card
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str | None] = mapped_column(String(500))
    credentials: Mapped[str | None] = mapped_column(Text)  # sealed (Vault)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Shipment(Base):
    """Units of one order leaving one location in one box, from packing to the buyer's door (or back)."""

    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "carrier_id", "awb"),
        UniqueConstraint("tenant_id", "tracking_token"),
        Index("ix_shipments_tenant_order", "tenant_id", "order_id"),
        Index("ix_shipments_tenant_status_id", "tenant_id", "status", "id"),
        Index("ix_shipments_tenant_location_status", "tenant_id", "location_id", "status"),
        Index("ix_shipments_tenant_manifest", "tenant_id", "manifest_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[str] = mapped_column(String(20))
    payment_method: Mapped[str] = mapped_column(String(10))
    cod_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    declared_value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    box: Mapped[str | None] = mapped_column(String(64))
    length_cm: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    breadth_cm: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    height_cm: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    dead_weight_g: Mapped[int | None] = mapped_column(Integer)
    volumetric_weight_g: Mapped[int | None] = mapped_column(Integer)
    chargeable_weight_g: Mapped[int | None] = mapped_column(Integer)
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("carriers.id"))
    service: Mapped[str | None] = mapped_column(String(100))  # the courier/service booked
    courier: Mapped[str | None] = mapped_column(String(100))  # who carries it (aggregators)
    awb: Mapped[str | None] = mapped_column(String(64))
    carrier_reference: Mapped[str | None] = mapped_column(String(100))
    selection: Mapped[dict[str, Any] | None]  # the quote chosen and those it beat, with reasons
    invoice_number: Mapped[str | None] = mapped_column(String(40))
    manifest_id: Mapped[int | None] = mapped_column(ForeignKey("manifests.id"))
    tracking_token: Mapped[str] = mapped_column(String(43))  # unguessable, for the public tracking page
    estimated_delivery: Mapped[date | None]
    estimate_basis: Mapped[str | None] = mapped_column(String(200))
    ndr_attempts: Mapped[int] = mapped_column(Integer, default=0)
    picked_up_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    status_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ShipmentLine(Base):
    __tablename__ = "shipment_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("packed >= 0 AND packed <= quantity", name="packed_within_quantity"),
        Index("ix_shipment_lines_shipment", "shipment_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    packed: Mapped[int] = mapped_column(Integer, default=0)


class ShipmentEvent(Base):
    """A shipment's tracking history: every scan, with time and place, as the carrier reported it."""

    __tablename__ = "shipment_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "shipment_id", "dedupe_key"),
        Index("ix_shipment_events_shipment", "shipment_id", "at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    carrier_status: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    ndr_reason: Mapped[str | None] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(10))  # webhook | poll | ordermesh | person
    dedupe_key: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]


class CarrierInbox(Base):
    """Every tracking push a carrier sends, stored raw before it is parsed: applied in the request
    (the default) or, queued, by the workers in batches."""

    __tablename__ = "carrier_inbox"
    __table_args__ = (Index("ix_carrier_inbox_tenant_state", "tenant_id", "state", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10))  # received | processed | failed
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class InvoiceCounter(Base):
    """The last invoice number issued per GSTIN and financial year: numbers are gap-free because
    the next one is taken in the transaction that issues the invoice."""

    __tablename__ = "invoice_counters"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    gstin: Mapped[str] = mapped_column(String(15), primary_key=True)
    financial_year: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-27
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "gstin", "financial_year", "sequence"),
        UniqueConstraint("tenant_id", "shipment_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    gstin: Mapped[str] = mapped_column(String(15))
    financial_year: Mapped[str] = mapped_column(String(7))
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime]
    place_of_supply: Mapped[str] = mapped_column(String(2))
    taxable_value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    tax_total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    data: Mapped[dict[str, Any]]  # lines, split, HSN summary, words: what the PDF shows
    ewaybill: Mapped[dict[str, Any] | None]  # the e-way bill JSON, above the threshold


class Manifest(Base):
    """A carrier's batch of handed-over shipments from one location for one pickup date."""

    __tablename__ = "manifests"
    __table_args__ = (Index("ix_manifests_tenant_carrier_date", "tenant_id", "carrier_id", "pickup_date"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    pickup_date: Mapped[date]
    closed_at: Mapped[datetime]
    pickup_reference: Mapped[str | None] = mapped_column(String(100))
    pickup_error: Mapped[str | None] = mapped_column(Text)
    cutoff_at: Mapped[datetime | None]  # a shipment without a pickup scan by then raises an alert


class Document(Base):
    """A rendered PDF (label, invoice, manifest), kept so a reprint is the same document."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "owner_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(20))  # label | invoice | manifest
    owner_id: Mapped[int] = mapped_column(BigInteger)  # shipment or manifest id
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
