"""The operator docs stay true: every setting is documented, and the README's quick start is the
two commands."""

from __future__ import annotations

from pathlib import Path

from ordermesh.config import Settings


def test_every_setting_is_documented(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"ORDERMESH_{name.upper()}" not in doc]
    assert missing == []


def test_readme_quick_start_is_make_run_and_make_test(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
