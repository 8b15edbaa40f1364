"""The code -> id cache only learns what committed transactions saw."""

from __future__ import annotations

from ordermesh.adapters.db.idcache import IdCache, StagedIds


def test_ids_are_shared_only_after_publish() -> None:
    shared = IdCache()
    staged = StagedIds(shared)
    staged.remember_locations(1, {"BHW": 7})
    staged.remember_skus(1, {"TEE": (9, False)})
    # the unit of work itself sees its location, others do not yet
    assert staged.locations(1, ["BHW"]) == ({"BHW": 7}, [])
    assert shared.locations(1, ["BHW"]) == ({}, ["BHW"])
    staged.publish()
    assert shared.locations(1, ["BHW"]) == ({"BHW": 7}, [])
    assert shared.skus(1, ["TEE"]) == ({"TEE": (9, False)}, [])


def test_a_rolled_back_unit_leaves_nothing_behind() -> None:
    shared = IdCache()
    staged = StagedIds(shared)
    staged.remember_locations(1, {"GONE": 3})
    staged.discard()
    staged.publish()
    assert shared.locations(1, ["GONE"]) == ({}, ["GONE"])


def test_tenants_never_share_entries_and_changed_skus_are_forgotten() -> None:
    shared = IdCache()
    shared.remember_locations(1, {"BHW": 7})
    shared.remember_skus(1, {"TEE": (9, False)})
    assert shared.locations(2, ["BHW"]) == ({}, ["BHW"])
    StagedIds(shared).forget_sku(1, "TEE")
    assert shared.skus(1, ["TEE"]) == ({}, ["TEE"])
