"""The same reservation through ordermesh's service layer, as the API and the order pipeline call it:
one unit of work per order, ``inventory.reserve_stock`` with three lines (it commits itself)."""

from __future__ import annotations

from common import ACTOR, Fixture, Place
from ordermesh.bootstrap import bootstrap
from ordermesh.config import Settings
from ordermesh.domain.errors import InsufficientStock
from ordermesh.services import inventory


def factory(fx: Fixture) -> Place:
    container = bootstrap(Settings(database_url=fx.url, pool_size=1))
    uow_factory, tenant, location, codes = container.uow, fx.tenant_id, fx.location, fx.sku_codes

    def place(reference: str, picks: list[int]) -> bool:
        lines = [inventory.StockLine(codes[i], location, 1) for i in picks]
        try:
            with uow_factory(tenant_id=tenant, actor=ACTOR) as uow:
                inventory.reserve_stock(uow, lines, reference=reference)
        except InsufficientStock:
            return False
        return True

    if container.engine.dialect.name == "postgresql":
        # The pool holds one connection, so every unit of work of this client runs on this backend.
        with container.engine.connect() as conn:
            place.backend_pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[attr-defined, union-attr]
    return place
