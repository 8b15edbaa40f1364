"""Chargeable weight, box presets, packing by scan and pick lists."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.errors import Collector, ValidationFailed
from ordermesh.domain.shipping import (
    BoxPreset,
    Packing,
    PackLine,
    PickLine,
    box_presets_from_list,
    chargeable_weight,
    order_pick_list,
    pick_list,
    round_up,
    volumetric_weight_g,
    wave_pick_lists,
)

D = Decimal


def test_volumetric_weight_is_lbh_over_divisor_in_grams() -> None:
    # 30 × 20 × 10 = 6000 cm³ / 5000 = 1.2 kg
    assert volumetric_weight_g(D(30), D(20), D(10)) == D(1200)
    assert volumetric_weight_g(D(30), D(20), D(10), divisor=4000) == D(1500)
    # exact, no rounding: 10.5 × 10 × 10 / 5000 kg = 210 g; 11 × 11 × 11 / 5000 kg = 266.2 g
    assert volumetric_weight_g(D("10.5"), D(10), D(10)) == D(210)
    assert volumetric_weight_g(D(11), D(11), D(11)) == D("266.2")
    with pytest.raises(ValueError):
        volumetric_weight_g(D(1), D(1), D(1), divisor=0)


def test_chargeable_is_the_larger_rounded_up_to_the_gram_only() -> None:
    light = chargeable_weight(400, D(11), D(11), D(11))
    assert (light.chargeable_g, light.basis) == (400, "dead")
    bulky = chargeable_weight(200, D(11), D(11), D(11))
    assert (bulky.chargeable_g, bulky.basis) == (267, "volumetric")  # 266.2 g up to 267, not 270 or 500
    assert "volumetric weight, 267 g" in bulky.explain()
    equal = chargeable_weight(1200, D(30), D(20), D(10))
    assert (equal.chargeable_g, equal.basis) == (1200, "dead")


def test_round_up_to_a_step() -> None:
    assert round_up(267, 10) == 270
    assert round_up(270, 10) == 270
    assert round_up(501, 500) == 1000
    assert round_up(0, 500) == 0


@given(
    st.integers(0, 50_000),
    st.decimals(D("0.1"), D(200), places=1),
    st.decimals(D("0.1"), D(200), places=1),
    st.decimals(D("0.1"), D(200), places=1),
    st.sampled_from([4000, 4750, 5000, 6000]),
)
def test_chargeable_never_below_either_weight_and_less_than_a_gram_above(
    dead: int, length: Decimal, breadth: Decimal, height: Decimal, divisor: int
) -> None:
    w = chargeable_weight(dead, length, breadth, height, divisor)
    assert w.chargeable_g >= dead and w.chargeable_g >= w.volumetric_g
    assert w.chargeable_g - max(D(dead), w.volumetric_g) < 1


def test_box_preset_outer_dimensions_and_weight() -> None:
    box = BoxPreset("M", D(30), D(20), D(10), tare_g=150, wall_mm=5)
    assert box.outer_cm == (D(31), D(21), D(11))
    w = box.chargeable(contents_g=1000)
    assert w.dead_g == 1150
    assert w.volumetric_g == D(31) * 21 * 11 * 1000 / 5000  # 1432.2 g
    assert w.chargeable_g == 1433
    assert box.fits(D(9), D(29), D(19)) and not box.fits(D(31), D(1), D(1))


def test_box_presets_from_settings_name_every_problem() -> None:
    presets = box_presets_from_list(
        [
            {"name": "Small", "length_cm": "20", "breadth_cm": 15, "height_cm": "5.5", "tare_g": 60},
            {"name": "Medium", "length_cm": 30, "breadth_cm": 20, "height_cm": 10, "tare_g": 150, "wall_mm": 3},
        ]
    )
    assert [p.name for p in presets] == ["Small", "Medium"] and presets[0].height_cm == D("5.5")
    with pytest.raises(ValidationFailed) as info:
        box_presets_from_list(
            [
                {"name": "Small", "length_cm": "20", "breadth_cm": 15, "height_cm": 5, "tare_g": 60},
                {"name": "small", "length_cm": 0, "breadth_cm": 1.5, "height_cm": "x", "tare_g": -1, "colour": "b"},
                {"name": "", "length_cm": 1, "breadth_cm": 1, "height_cm": 1, "tare_g": 0},
                "not a box",
            ]
        )
    fields = {e.field for e in info.value.errors}
    assert fields == {
        "boxes.1.length_cm",
        "boxes.1.breadth_cm",
        "boxes.1.height_cm",
        "boxes.1.tare_g",
        "boxes.1.colour",
        "boxes.2.name",
        "boxes.3",
    }
    with pytest.raises(ValidationFailed) as again:
        box_presets_from_list(
            [
                {"name": "Small", "length_cm": 1, "breadth_cm": 1, "height_cm": 1, "tare_g": 0},
                {"name": "SMALL", "length_cm": 1, "breadth_cm": 1, "height_cm": 1, "tare_g": 0},
            ]
        )
    assert again.value.errors[0].field == "boxes.1.name" and "already" in again.value.errors[0].message
    errors = Collector()
    assert BoxPreset.from_dict({"name": "X"}, errors) is None
    assert {e.field for e in errors.errors} == {"box.length_cm", "box.breadth_cm", "box.height_cm", "box.tare_g"}


def kurta_and_mug() -> Packing:
    return Packing(
        [
            PackLine("l1", "KRT-M", 2, ("890123000001",)),
            PackLine("l2", "MUG-01", 1, ("890123000002", "MUG01-ALT")),
        ]
    )


def test_each_scan_counts_for_its_line_until_complete() -> None:
    packing = kurta_and_mug()
    assert not packing.complete
    first = packing.scan(" 890123000001\n")
    assert first.accepted and first.line_id == "l1" and first.message == "KRT-M: 1 of 2"
    assert packing.scan("MUG01-ALT").line_id == "l2"
    assert not packing.complete and packing.missing_text() == "KRT-M: 1 more"
    assert packing.scan("krt-m").accepted  # the SKU label itself
    assert packing.complete and packing.remaining() == {}


def test_refusals_say_why() -> None:
    packing = kurta_and_mug()
    assert packing.scan("890123").message == "barcode 890123 is not in this shipment"
    packing.scan("890123000001")
    packing.scan("890123000001")
    over = packing.scan("890123000001")
    assert not over.accepted and over.message == "KRT-M: all 2 units already packed"
    assert packing.packed["l1"] == 2
    assert not packing.scan("   ").accepted


def test_unscan_takes_a_unit_back_and_a_split_sku_fills_line_by_line() -> None:
    packing = Packing([PackLine("a", "TEE", 1, ("111",)), PackLine("b", "TEE", 2, ("111",))])
    assert [packing.scan("111").line_id for _ in range(3)] == ["a", "b", "b"]
    assert packing.scan("111").message == "TEE: all 3 units already packed"
    assert packing.unscan("111").accepted and packing.packed == {"a": 1, "b": 1}
    assert not packing.complete
    assert not Packing([PackLine("a", "TEE", 1)]).unscan("TEE").accepted


def test_packing_refuses_bad_lines_and_resumes() -> None:
    with pytest.raises(ValueError):
        Packing([PackLine("a", "X", 1), PackLine("a", "Y", 1)])
    with pytest.raises(ValueError):
        Packing([PackLine("a", "X", 0)])
    resumed = Packing([PackLine("a", "X", 2)], {"a": 1})
    resumed.scan("X")
    assert resumed.complete
    assert not Packing([]).complete


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.lists(st.integers(0, 4), max_size=30))
def test_never_more_packed_than_ordered_and_complete_exactly_when_all_scanned(
    quantities: list[int], scans: list[int]
) -> None:
    lines = [PackLine(f"l{i}", f"SKU{i}", q, (f"B{i}",)) for i, q in enumerate(quantities)]
    packing = Packing(lines)
    for s in scans:
        packing.scan(f"B{s}")
    for line in lines:
        assert 0 <= packing.packed[line.line_id] <= line.quantity
        expected = min(line.quantity, scans.count(int(line.line_id[1:])))
        assert packing.packed[line.line_id] == expected
    assert packing.complete == all(packing.packed[ln.line_id] == ln.quantity for ln in lines)


def test_pick_list_groups_by_sku_and_bin_with_orders() -> None:
    lines = [
        PickLine("SO-2", "MUG", 1, "BLR", "A-02"),
        PickLine("SO-1", "TEE", 2, "BLR", "B-01"),
        PickLine("SO-1", "MUG", 2, "BLR", "A-02"),
        PickLine("SO-3", "MUG", 1, "BLR", "A-01"),
        PickLine("SO-1", "MUG", 1, "BLR", "A-02"),
        PickLine("SO-4", "AAA", 1, "DEL", "Z-09"),
    ]
    rows = pick_list(lines[:5])
    assert [(r.sku, r.bin, r.quantity) for r in rows] == [("MUG", "A-01", 1), ("MUG", "A-02", 4), ("TEE", "B-01", 2)]
    assert rows[1].orders == (("SO-1", 3), ("SO-2", 1))
    assert rows[1].as_dict()["orders"][0] == {"order": "SO-1", "quantity": 3}
    walk = pick_list([PickLine("o", "ZED", 1, "L", "A-01"), PickLine("o", "ABC", 1, "L", "C-01")], walk=True)
    assert [r.sku for r in walk] == ["ZED", "ABC"]
    assert [(r.sku, r.quantity) for r in order_pick_list("SO-1", lines)] == [("MUG", 3), ("TEE", 2)]
    wave = wave_pick_lists(lines)
    assert list(wave) == ["BLR", "DEL"] and wave["DEL"][0].orders == (("SO-4", 1),)
    with pytest.raises(ValueError):
        pick_list([PickLine("o", "X", 0, "L")])


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from("XY"), st.sampled_from("12"), st.integers(1, 5))))
def test_pick_list_totals_equal_the_lines(raw: list[tuple[str, str, str, int]]) -> None:
    lines = [PickLine(f"SO-{o}", sku, q, "L", bin_) for o, sku, bin_, q in raw]
    rows = pick_list(lines)
    assert sum(r.quantity for r in rows) == sum(ln.quantity for ln in lines)
    assert all(r.quantity == sum(q for _, q in r.orders) for r in rows)
    assert [(r.sku, r.bin) for r in rows] == sorted({(ln.sku, ln.bin) for ln in lines})
