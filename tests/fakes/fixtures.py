"""The sample payloads fakes and tests are built on: the channels' and carriers' real public
formats, with made-up names, ids and secrets (tests/fixtures/FORMATS.md says where each comes from)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CHANNEL_FIXTURES = FIXTURES / "channels"
CARRIER_FIXTURES = FIXTURES / "carriers"
GST_FIXTURES = FIXTURES / "gst"
