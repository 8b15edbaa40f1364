"""``ordermesh carriers`` and ``ordermesh shipping`` end to end, through Typer's CliRunner, on
SQLite, with rate-card carriers (no remote): add them with a tariff file, create shipments, the
wave pick list, scan (a refused barcode too), pack, book with the quotes it beat, label and
invoice PDFs, and the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ordermesh.adapters.db.shipping import ShippingRepository
from tests.conftest import TenantCtx
from tests.e2e.test_cli import om
from tests.factories import make_location, make_sku, receive
from tests.integration.shipping.test_shipping_flow import TARIFF, place

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def dearer(tariff: dict[str, Any]) -> dict[str, Any]:
    zones = {z: {**v, "first": "90", "additional": "60"} for z, v in tariff["zones"].items()}
    return {**tariff, "name": "Vans for hire", "zones": zones}


@pytest.fixture
def warehouse(tenant: TenantCtx) -> TenantCtx:
    make_location(
        tenant,
        "PUN",
        "MH",
        address={"line1": "Plot 7, MIDC", "city": "Pune", "state": "MH", "pincode": "411028"},
        gstin="27AAACE0000E1ZM",
    )
    make_sku(tenant, "KURTA", mrp="999.00", gst_rate="5", barcodes=["8901234567890"])
    make_sku(tenant, "MUG", mrp="499.00", gst_rate="18")
    receive(tenant, "KURTA", "PUN", 10)
    receive(tenant, "MUG", "PUN", 10)
    return tenant


def shipment_of(t: TenantCtx, order_id: int) -> int:
    with t.uow(write=False) as uow:
        [row] = ShippingRepository(uow.conn, t.id).for_order(order_id)
    return int(row.id)


def test_a_rate_card_carrier_from_the_command_line(db_url: str, warehouse: TenantCtx, tmp_path: Path) -> None:
    t = warehouse.code
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps(TARIFF))
    (tmp_path / "vans.json").write_text(json.dumps(dearer(TARIFF)))
    (tmp_path / "broken.json").write_text("{not json")
    # when: two rate-card carriers with their tariffs, one not-JSON tariff
    added = om(db_url, "carriers", "add", "fleet", "--kind", "rate_card", "--name", "Pune City Fleet",
               "--setting", "awb_prefix=PF", "--setting", "awb_width=8", "--tariff", str(tariff), "-t", t)  # fmt: skip
    vans = om(db_url, "carriers", "add", "vans", "--kind", "rate_card", "--name", "Vans",
              "--setting", "awb_prefix=VN", "--tariff", str(tmp_path / "vans.json"), "-t", t)  # fmt: skip
    broken = om(db_url, "carriers", "add", "x", "--kind", "rate_card", "--name", "X",
                "--tariff", str(tmp_path / "broken.json"), "-t", t)  # fmt: skip
    again = om(db_url, "carriers", "add", "fleet", "--kind", "rate_card", "--name", "Again",
               "--tariff", str(tariff), "-t", t)  # fmt: skip
    sealed = om(db_url, "carriers", "credentials", "fleet", "api_key", "-t", t, input="typed_secret_789\n")
    keyless = om(db_url, "carriers", "credentials", "fleet", "=typed_secret_789", "-t", t)
    listed = om(db_url, "carriers", "list", "-t", t)
    # then
    assert added.exit_code == 0, added.output
    assert "fleet: added (rate_card, Pune City Fleet)" in added.stdout and "tariff" in added.stdout
    assert vans.exit_code == 0, vans.output
    assert broken.exit_code == 1 and "is not JSON" in broken.stderr
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert sealed.exit_code == 0 and "typed_secret_789" not in sealed.output and "(api_key)" in sealed.stdout
    assert keyless.exit_code == 2 and "needs a key" in keyless.output and "typed_secret_789" not in keyless.output
    assert listed.exit_code == 0 and "Pune City Fleet" in listed.stdout and "set" in listed.stdout

    # given: two orders allocated at Pune
    first, second = place(warehouse, "C1", method="cod"), place(warehouse, "C2")
    # when
    created = [om(db_url, "shipping", "create", str(o), "-t", t) for o in (first, second)]
    # then
    assert all(r.exit_code == 0 for r in created), created[0].output
    assert "1 shipment(s) created" in created[0].stdout and "KURTA × 2, MUG × 1" in created[0].stdout
    one, two = shipment_of(warehouse, first), shipment_of(warehouse, second)
    assert om(db_url, "shipping", "create", str(first), "-t", t).exit_code == 1  # nothing left to ship

    # when: the wave pick list of Pune
    picked = om(db_url, "shipping", "pick", "--location", "PUN", "-t", t)
    # then: one row per SKU, with the total and the orders it serves
    assert picked.exit_code == 0, picked.output
    assert "PUN: pick list for 2 shipment(s), 6 unit(s)" in picked.stdout
    kurta = next(line for line in picked.stdout.splitlines() if "KURTA" in line)
    assert " 4 " in kurta and f"OM{first:07d} × 2" in kurta and f"OM{second:07d} × 2" in kurta
    assert om(db_url, "shipping", "pick", "--location", "NOWHERE", "-t", t).exit_code == 1

    # when: scanning, one barcode not in the box
    scanned = om(db_url, "shipping", "scan", str(one), "8901234567890", "4006381333931", "KURTA", "-t", t)
    # then: the refusal is printed, the others counted, and the exit code says so
    assert scanned.exit_code == 1
    assert "4006381333931: refused, barcode 4006381333931 is not in this shipment" in scanned.stdout
    assert "KURTA: 2 of 2" in scanned.stdout and "still to scan: MUG: 1 more" in scanned.stdout
    assert "1 of 3 scan(s) refused" in scanned.stderr
    early = om(db_url, "shipping", "pack", str(one), "--weight", "900", "--dims", "30x20x10", "-t", t)
    assert early.exit_code == 1 and "MUG: 1 more" in early.stderr
    done = om(db_url, "shipping", "scan", str(one), "MUG", "-t", t)
    assert done.exit_code == 0 and "every unit scanned" in done.stdout

    # when: packing
    neither = om(db_url, "shipping", "pack", str(one), "--weight", "900", "-t", t)
    bad = om(db_url, "shipping", "pack", str(one), "--weight", "900", "--dims", "30 by 20", "-t", t)
    packed = om(db_url, "shipping", "pack", str(one), "--weight", "900", "--dims", "30x20x10", "-t", t)
    # then
    assert neither.exit_code == 1 and "--dims" in neither.stderr
    assert bad.exit_code == 2
    assert packed.exit_code == 0, packed.output
    assert "dead 900 g, volumetric 1200 g, chargeable 1200 g" in packed.stdout and "invoice INV/" in packed.stdout

    # when: booking — both fleets quote; the cheaper one wins
    booked = om(db_url, "shipping", "book", str(one), "-t", t)
    # then: the carrier, the AWB, and the quote it beat with its sentence
    assert booked.exit_code == 0, booked.output
    assert f"SH{one:07d}: booked with fleet" in booked.stdout and "AWB PF00000001" in booked.stdout
    assert "City fleet (fleet) chosen as the cheapest" in booked.stdout
    beaten = next(line for line in booked.stdout.splitlines() if "│ vans" in line)
    assert "lost" in beaten and "Vans for hire (vans) lost: ₹274.94, ₹121.00 more than City fleet" in beaten
    assert om(db_url, "shipping", "book", str(two), "-t", t).exit_code == 1  # not packed

    # when: the documents
    label = om(db_url, "shipping", "label", str(one), "-o", str(tmp_path / "label.pdf"), "-t", t)
    invoice = om(db_url, "shipping", "invoice", str(one), "-o", str(tmp_path / "invoice.pdf"), "-t", t)
    none = om(db_url, "shipping", "label", str(two), "-o", str(tmp_path / "none.pdf"), "-t", t)
    # then
    assert label.exit_code == 0 and (tmp_path / "label.pdf").read_bytes().startswith(b"%PDF")
    assert invoice.exit_code == 0 and (tmp_path / "invoice.pdf").read_bytes().startswith(b"%PDF")
    assert none.exit_code == 1 and not (tmp_path / "none.pdf").exists()

    # when: the day's manifest
    manifest = om(db_url, "shipping", "manifest", "--carrier", "fleet", "--location", "PUN", "--date", "2026-11-27",
                  "--cutoff", "18:00", "-o", str(tmp_path / "manifest.pdf"), "-t", t)  # fmt: skip
    late = om(db_url, "shipping", "manifest", "--carrier", "fleet", "--location", "PUN", "--cutoff", "25:00", "-t", t)
    empty = om(db_url, "shipping", "manifest", "--carrier", "fleet", "--location", "PUN", "-t", t)
    # then
    assert manifest.exit_code == 0, manifest.output
    assert "1 shipment(s) for fleet at PUN, pickup 2026-11-27" in manifest.stdout
    assert "pickup requested" in manifest.stdout
    assert (tmp_path / "manifest.pdf").read_bytes().startswith(b"%PDF")
    assert late.exit_code == 2
    assert empty.exit_code == 1 and "nothing ready" in empty.stderr
    with warehouse.uow(write=False) as uow:
        assert ShippingRepository(uow.conn, warehouse.id).shipment(one).status == "manifested"

    # and: the rest of the queue reads cleanly with nothing in it
    assert "no failed deliveries waiting" in om(db_url, "shipping", "ndr", "-t", t).stdout
    assert "no delivered shipments" in om(db_url, "shipping", "estimates", "-t", t).stdout
    assert "no carrier with a tracking API" in om(db_url, "shipping", "track", "-t", t).stdout
    fleet_track = om(db_url, "shipping", "track", "--carrier", "fleet", "-t", t)
    assert fleet_track.exit_code == 1 and "no tracking API" in fleet_track.stderr
    wrong = om(db_url, "shipping", "ndr-action", str(one), "rto", "-t", t)
    assert wrong.exit_code == 1 and "not waiting on an NDR" in wrong.stderr


def test_shipping_and_invoice_settings_from_the_command_line(db_url: str, tenant: TenantCtx, tmp_path: Path) -> None:
    t = tenant.code
    good = tmp_path / "invoices.json"
    good.write_text(json.dumps({"prefix": "KRT", "width": 5, "short_year": True, "eway_bill_threshold": "75000"}))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"volumetric_divisor": 12, "ndr": {"max_attempts": 0}, "colour": "red"}))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{not json")
    # when
    empty = om(db_url, "shipping", "settings", "invoices", "-t", t)
    stored = om(db_url, "shipping", "settings", "invoices", "--set", str(good), "-t", t)
    shown = om(db_url, "shipping", "settings", "invoices", "-t", t)
    refused = om(db_url, "shipping", "settings", "shipping", "--set", str(wrong), "-t", t)
    listed = om(db_url, "shipping", "settings", "shipping", "--set", str(tmp_path / "list.json"), "-t", t)
    broken = om(db_url, "shipping", "settings", "shipping", "--set", str(tmp_path / "broken.json"), "-t", t)
    unknown = om(db_url, "shipping", "settings", "labels", "-t", t)
    after = om(db_url, "shipping", "settings", "shipping", "-t", t)
    # then: shown as JSON, stored whole, and a wrong file refused with every field named
    assert empty.exit_code == 0 and json.loads(empty.stdout) == {}
    assert stored.exit_code == 0, stored.output
    assert json.loads(shown.stdout) == {"prefix": "KRT", "width": 5, "short_year": True, "eway_bill_threshold": "75000"}
    assert refused.exit_code == 1
    for name in ("shipping.volumetric_divisor", "shipping.ndr.max_attempts", "shipping.colour"):
        assert name in refused.stderr, refused.stderr
    assert listed.exit_code == 1 and "one JSON object" in listed.stderr
    assert broken.exit_code == 1 and "is not JSON" in broken.stderr
    assert unknown.exit_code == 1 and "use shipping or invoices" in unknown.stderr
    assert json.loads(after.stdout) == {}  # nothing of the refused file was stored
    with tenant.uow(write=False) as uow:
        actions = [a.action for a in uow.audit_log.page(entity_type="settings")]
    assert actions == ["settings.invoices_changed"]  # the refused file left no trace but its error
