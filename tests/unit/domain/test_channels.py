"""Channel records and their settings as people type them."""

from __future__ import annotations

import pytest

from ordermesh.domain.channels import parse_setting_value


def test_a_typed_setting_value_is_json_where_it_looks_like_json() -> None:
    assert parse_setting_value(" 2 ") == 2 and parse_setting_value("2.5") == 2.5
    assert parse_setting_value("true") is True and parse_setting_value("null") is None
    assert parse_setting_value('"123"') == "123" and parse_setting_value('{"a": 1}') == {"a": 1}
    assert parse_setting_value("2024-10") == "2024-10" and parse_setting_value("007") == "007"
    assert parse_setting_value(" gid://shopify/Location/1 ") == "gid://shopify/Location/1"
    with pytest.raises(ValueError, match="is not valid JSON"):
        parse_setting_value("{broken")
