"""GST tax invoices issued at packing, on both databases: the tax split of mixed rates intra-state
(CGST + SGST) and inter-state (IGST) to the paisa; gap-free numbers when eight threads pack at once;
the series restarting at 1 on 1 April while packers on either side of midnight race; and a packing
that fails after taking its number giving that number back.

Each thread works in a unit of work of its own; a thread's clock is a FrozenClock handed to its
UnitOfWork, so packers "before" and "after" midnight IST run side by side."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from ordermesh.adapters.clock import Clock, FrozenClock
from ordermesh.adapters.db.shipping import ShippingRepository
from ordermesh.adapters.db.tables import Invoice
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain import gst_invoice as gst
from ordermesh.services import orders, shipping
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, receive

IST = ZoneInfo("Asia/Kolkata")
GSTIN = "27AAACE0000E1ZM"  # Maharashtra
PAISA = Decimal("0.01")
BOX = (Decimal(30), Decimal(20), Decimal(10))
SERIES = gst.InvoiceSeries(short_year=True)  # the tenant default: INV/26-27/000001
MARCH_31 = datetime(2026, 3, 31, 23, 59, tzinfo=IST)  # FY 2025-26
APRIL_1 = datetime(2026, 4, 1, 0, 1, tzinfo=IST)  # FY 2026-27
NOV_26 = datetime(2026, 11, 26, 11, 0, tzinfo=IST)  # FY 2026-27
INVOICES = Invoice.__table__


@pytest.fixture
def shop(tenant: TenantCtx) -> TenantCtx:
    make_location(
        tenant,
        "PUN",
        "MH",
        address={"line1": "Plot 7, MIDC", "city": "Pune", "state": "MH", "pincode": "411028"},
        gstin=GSTIN,
    )
    make_sku(tenant, "KURTA", mrp="999.00", gst_rate="5", hsn="6109")
    make_sku(tenant, "SHIRT", mrp="1499.00", gst_rate="12", hsn="6205")
    make_sku(tenant, "MUG", mrp="499.00", gst_rate="18", hsn="6912")
    for sku in ("KURTA", "SHIRT", "MUG"):
        receive(tenant, sku, "PUN", 200)
    return tenant


def uow_at(t: TenantCtx, clock: Clock) -> UnitOfWork:
    """A unit of work for the tenant whose ``now`` is the given clock's."""
    return UnitOfWork(t.container.engine, tenant_id=t.id, clock=clock)


def ready_shipment(
    t: TenantCtx,
    n: int,
    lines: Sequence[tuple[str, int, str]] = (("MUG", 1, "399"),),
    *,
    state: str = "MH",
    city: str = "Pune",
    pincode: str = "411001",
) -> int:
    """An order placed, its shipment created and every unit counted as scanned (scanning has its own
    tests in test_shipping_flow): a shipment waiting to be packed."""
    with t.uow() as uow:
        order_id = orders.ingest_order(
            uow,
            {
                "channel": "manual",
                "external_id": f"INV-{n}",
                "placed_at": "2026-03-30T10:00:00+05:30",
                "customer": {"name": "Priya", "phone": f"98{n:08d}"},
                "shipping_address": {
                    "name": "Priya",
                    "line1": "Flat 12B, Example Residency",
                    "city": city,
                    "state": state,
                    "pincode": pincode,
                    "phone": f"98{n:08d}",
                },
                "payment": {"method": "prepaid"},
                "lines": [{"sku": sku, "quantity": q, "unit_price": price} for sku, q, price in lines],
            },
        ).order_id
    with t.uow() as uow:
        [shipment_id] = shipping.create_shipments(uow, order_id)
    with t.uow() as uow:
        repo = ShippingRepository(uow.conn, t.id)
        for line in repo.lines(shipment_id):
            repo.set_packed(line.id, line.quantity)
        uow.commit()
    return shipment_id


def pack(t: TenantCtx, shipment_id: int, clock: Clock) -> str:
    with uow_at(t, clock) as uow:
        view = shipping.pack(uow, shipment_id, weight_g=900, dimensions_cm=BOX)
    assert view.row.invoice_number
    return str(view.row.invoice_number)


def sequences(t: TenantCtx, fy: str) -> list[int]:
    with t.uow(write=False) as uow:
        return ShippingRepository(uow.conn, t.id).invoice_numbers(GSTIN, fy)


def counter(t: TenantCtx, fy: str) -> int | None:
    with t.uow(write=False) as uow:
        return uow.conn.execute(
            text(
                "SELECT last_number FROM invoice_counters WHERE tenant_id = :t AND gstin = :g AND financial_year = :fy"
            ),
            {"t": t.id, "g": GSTIN, "fy": fy},
        ).scalar()


def race(jobs: Sequence[Callable[[], list[tuple[int, str]]]]) -> list[tuple[int, str]]:
    """Run each job in a thread of its own, released together; every outcome, or the first error."""
    start = threading.Barrier(len(jobs))
    done: list[tuple[int, str]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(job: Callable[[], list[tuple[int, str]]]) -> None:
        start.wait(timeout=60)
        try:
            got = job()
        except Exception as exc:  # reported below, with the others
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            done.extend(got)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=300)
    assert not any(th.is_alive() for th in threads), "a packing thread did not finish within 300 s"
    assert not errors, errors[:3]
    return done


def packer(t: TenantCtx, shipment_ids: Sequence[int], clock: Clock) -> Callable[[], list[tuple[int, str]]]:
    return lambda: [(sid, pack(t, sid, clock)) for sid in shipment_ids]


# -- (a) the tax -------------------------------------------------------------------------------

MIXED = (("KURTA", 2, "899"), ("SHIRT", 1, "1299"), ("MUG", 3, "399"))  # 5 %, 12 %, 18 %, tax-inclusive
# gross, taxable = gross × 100 / (100 + rate) to the paisa (half up), tax = gross − taxable
EXPECTED = {
    "KURTA": (Decimal("1798.00"), Decimal("1712.38"), Decimal("85.62")),
    "SHIRT": (Decimal("1299.00"), Decimal("1159.82"), Decimal("139.18")),
    "MUG": (Decimal("1197.00"), Decimal("1014.41"), Decimal("182.59")),
}


def test_the_split_adds_up_to_the_paisa_for_every_price_and_rate() -> None:
    for rate in (Decimal(5), Decimal(12), Decimal(18)):
        for paise in range(1, 500_001, 997):  # ₹0.01 to ₹5,000, odd steps: every last digit
            gross = Decimal(paise) / 100
            line = gst.InvoiceLine("x", "6109", Decimal(1), gross, rate)
            intra = gst.split_line(line, True)
            inter = gst.split_line(line, False)
            tax = gross - intra.taxable
            assert intra.taxable == (gross * 100 / (100 + rate)).quantize(PAISA, rounding=ROUND_HALF_UP)
            assert intra.cgst + intra.sgst == tax and intra.igst == 0
            assert intra.cgst == (tax / 2).quantize(PAISA, rounding=ROUND_HALF_UP)
            assert 0 <= intra.cgst - intra.sgst <= PAISA
            assert (inter.taxable, inter.igst, inter.cgst, inter.sgst) == (intra.taxable, tax, 0, 0)
            assert intra.total == inter.total == gross
            for amount in (intra.taxable, intra.cgst, intra.sgst, inter.igst):
                assert amount == amount.quantize(PAISA)


def test_an_intra_state_invoice_of_mixed_rates_halves_each_tax_into_cgst_and_sgst(shop: TenantCtx) -> None:
    shipment_id = ready_shipment(shop, 1, MIXED)  # Pune to Pune: Maharashtra to Maharashtra
    number = pack(shop, shipment_id, FrozenClock(NOV_26))
    with shop.uow(write=False) as uow:
        invoice = ShippingRepository(uow.conn, shop.id).invoice_for(shipment_id)
    assert number == invoice.number == "INV/26-27/000001"
    assert (invoice.place_of_supply, invoice.data["supplier_state"]) == ("27", "27")
    assert len(invoice.data["lines"]) == 3
    by_rate = {Decimal(x["rate"]): x for x in invoice.data["lines"]}
    assert set(by_rate) == {Decimal(5), Decimal(12), Decimal(18)}
    for sku, rate in (("KURTA", 5), ("SHIRT", 12), ("MUG", 18)):
        gross, taxable, tax = EXPECTED[sku]
        x = by_rate[Decimal(rate)]
        cgst, sgst, igst = Decimal(x["cgst"]), Decimal(x["sgst"]), Decimal(x["igst"])
        assert Decimal(x["taxable"]) == taxable
        assert cgst + sgst == tax and igst == 0
        assert cgst == (tax / 2).quantize(PAISA, rounding=ROUND_HALF_UP) and sgst == tax - cgst
        assert taxable + cgst + sgst == gross
    # 182.59 does not halve: CGST takes the rounded half, SGST the rest
    assert (Decimal(by_rate[Decimal(18)]["cgst"]), Decimal(by_rate[Decimal(18)]["sgst"])) == (
        Decimal("91.30"),
        Decimal("91.29"),
    )
    _totals_are_the_sums_of_the_lines(invoice)


def test_an_inter_state_invoice_of_mixed_rates_is_all_igst(shop: TenantCtx) -> None:
    shipment_id = ready_shipment(shop, 2, MIXED, state="KA", city="Bengaluru", pincode="560038")
    pack(shop, shipment_id, FrozenClock(NOV_26))
    with shop.uow(write=False) as uow:
        invoice = ShippingRepository(uow.conn, shop.id).invoice_for(shipment_id)
    assert (invoice.place_of_supply, invoice.data["supplier_state"]) == ("29", "27")
    by_rate = {Decimal(x["rate"]): x for x in invoice.data["lines"]}
    for sku, rate in (("KURTA", 5), ("SHIRT", 12), ("MUG", 18)):
        gross, taxable, tax = EXPECTED[sku]
        x = by_rate[Decimal(rate)]
        assert (Decimal(x["taxable"]), Decimal(x["igst"])) == (taxable, tax)
        assert taxable + tax == gross
        assert Decimal(x["cgst"]) == Decimal(x["sgst"]) == 0
    _totals_are_the_sums_of_the_lines(invoice)


def _totals_are_the_sums_of_the_lines(invoice: Any) -> None:
    lines = invoice.data["lines"]
    taxable = sum((Decimal(x["taxable"]) for x in lines), Decimal(0))
    tax = sum((Decimal(x[k]) for x in lines for k in ("cgst", "sgst", "igst")), Decimal(0))
    assert Decimal(invoice.taxable_value) == taxable == Decimal("3886.61")
    assert Decimal(invoice.tax_total) == tax == Decimal("407.39")
    # what the buyer pays: 2 × 899 + 1299 + 3 × 399, not a paisa more or less
    assert Decimal(invoice.total) == taxable + tax == sum(g for g, _, _ in EXPECTED.values()) == Decimal("4294.00")
    assert invoice.data["words"] == "Rupees Four Thousand Two Hundred Ninety-Four Only"
    assert invoice.ewaybill is None  # ₹4,294 is under the ₹50,000 threshold


# -- (b) concurrency ---------------------------------------------------------------------------


def test_eight_threads_packing_forty_shipments_number_them_one_to_forty(shop: TenantCtx) -> None:
    ids = [ready_shipment(shop, 100 + n) for n in range(40)]
    clock = FrozenClock(NOV_26)
    got = race([packer(shop, ids[k::8], clock) for k in range(8)])
    assert sorted(sid for sid, _ in got) == sorted(ids)
    numbers = [number for _, number in got]
    assert len(set(numbers)) == 40
    assert sorted(SERIES.parse(number) for number in numbers) == [("2026-27", n) for n in range(1, 41)]
    assert sequences(shop, "2026-27") == list(range(1, 41))
    assert counter(shop, "2026-27") == 40
    with shop.uow(write=False) as uow:  # each shipment carries the number of its own invoice
        repo = ShippingRepository(uow.conn, shop.id)
        for sid, number in got:
            assert repo.shipment(sid).invoice_number == repo.invoice_for(sid).number == number


# -- (c) the financial year rolls over ---------------------------------------------------------


def test_numbers_restart_on_1_april_even_while_packers_race_across_midnight(
    shop: TenantCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    march, april = FrozenClock(MARCH_31), FrozenClock(APRIL_1)
    assert (gst.financial_year(MARCH_31.date()), gst.financial_year(APRIL_1.date())) == ("2025-26", "2026-27")
    ids = [ready_shipment(shop, 200 + n) for n in range(22)]

    # before and after midnight, one at a time
    assert [pack(shop, sid, march) for sid in ids[0:2]] == ["INV/25-26/000001", "INV/25-26/000002"]
    assert [pack(shop, sid, april) for sid in ids[2:4]] == ["INV/26-27/000001", "INV/26-27/000002"]

    # eight packers at once, four still on 31 March and four already on 1 April: 2 shipments each
    jobs, year_of = [], {}
    for k in range(8):
        batch = ids[4 + 2 * k : 6 + 2 * k]
        clock = march if k % 2 == 0 else april
        jobs.append(packer(shop, batch, clock))
        year_of |= {sid: "2025-26" if clock is march else "2026-27" for sid in batch}
    got = race(jobs)
    assert len(got) == 16 and len({number for _, number in got}) == 16
    for sid, number in got:
        assert SERIES.parse(number)[0] == year_of[sid]  # the year of the packer's own clock
    assert sequences(shop, "2025-26") == list(range(1, 11))
    assert sequences(shop, "2026-27") == list(range(1, 11))
    with shop.uow(write=False) as uow:
        issued = uow.conn.execute(
            select(INVOICES.c.financial_year, INVOICES.c.issued_at).where(INVOICES.c.tenant_id == shop.id)
        ).all()
    assert {(fy, _aware(at)) for fy, at in issued} == {("2025-26", MARCH_31), ("2026-27", APRIL_1)}

    # a packing that fails after its number is taken gives the number back
    taken: list[str] = []

    def broken_render(data: Any) -> bytes:
        taken.append(data.invoice_number)
        raise RuntimeError("the PDF renderer fell over")

    monkeypatch.setattr(shipping.inv_doc, "render_invoice", broken_render)
    with pytest.raises(RuntimeError, match="fell over"):
        pack(shop, ids[20], april)
    monkeypatch.undo()
    assert taken == ["INV/26-27/000011"]  # the number was taken inside the transaction ...
    assert counter(shop, "2026-27") == 10  # ... and went back with it
    with shop.uow(write=False) as uow:
        repo = ShippingRepository(uow.conn, shop.id)
        failed = repo.shipment(ids[20])
        assert (failed.status, failed.invoice_number, repo.invoice_for(ids[20])) == ("created", None, None)
    assert pack(shop, ids[21], april) == "INV/26-27/000011"  # no gap
    assert pack(shop, ids[20], april) == "INV/26-27/000012"  # the failed one, packed again
    assert sequences(shop, "2026-27") == list(range(1, 13))
    assert sequences(shop, "2025-26") == list(range(1, 11))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
