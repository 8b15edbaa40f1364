"""The domain is pure: it imports only the standard library and itself, reads no environment and
asks no clock. Checked by parsing the source, so a violation fails here before anything runs."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "src" / "ordermesh" / "domain"
CLOCK_CALLS = {"now", "utcnow", "today"}
CLOCK_OWNERS = {"datetime", "date"}
ENVIRONMENT = {"environ", "getenv", "putenv", "environb"}


def _allowed(module: str) -> bool:
    top = module.split(".")[0]
    if module == "ordermesh.domain" or module.startswith("ordermesh.domain."):
        return True
    return top != "ordermesh" and top in sys.stdlib_module_names


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def violations(source: str, filename: str = "<src>") -> list[str]:
    """Every import, environment read or clock call that does not belong in the domain."""
    found: list[str] = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} imports {a.name}" for a in node.names if not _allowed(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the package it sits in
                continue
            module = node.module or ""
            if module != "__future__" and not _allowed(module):
                found.append(f"{where} imports from {module}")
            if module == "os" and any(a.name in ENVIRONMENT for a in node.names):
                found.append(f"{where} imports the environment from os")
            if module == "datetime" and any(a.name in CLOCK_CALLS for a in node.names):
                found.append(f"{where} imports a clock from datetime")
        elif isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT and _dotted(node.value) == "os":
            found.append(f"{where} reads os.{node.attr}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS:
            owner = _dotted(node.func.value).split(".")[-1]
            if owner in CLOCK_OWNERS:
                found.append(f"{where} calls {_dotted(node.func)}()")
        if isinstance(node, ast.Call) and _dotted(node.func) in {"time.time", "time.monotonic", "time.time_ns"}:
            found.append(f"{where} calls {_dotted(node.func)}()")
    return found


def domain_modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_the_domain_package_is_where_we_expect() -> None:
    names = {p.name for p in domain_modules()}
    assert {"inventory.py", "catalog.py", "india.py", "locations.py", "access.py", "errors.py"} <= names


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: p.name)
def test_a_domain_module_imports_only_the_standard_library_and_the_domain(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), str(path.relative_to(DOMAIN.parents[1]))) == []


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("import sqlalchemy", "imports sqlalchemy"),
        ("from sqlalchemy.orm import Session", "imports from sqlalchemy.orm"),
        ("import fastapi", "imports fastapi"),
        ("from httpx import Client", "imports from httpx"),
        ("from ordermesh.adapters.db import tables", "imports from ordermesh.adapters.db"),
        ("import ordermesh.services.inventory", "imports ordermesh.services.inventory"),
        ("import os\nx = os.environ['X']", "reads os.environ"),
        ("import os\nx = os.getenv('X')", "reads os.getenv"),
        ("from os import environ", "imports the environment"),
        ("from datetime import datetime\nx = datetime.now()", "calls datetime.now()"),
        ("import datetime\nx = datetime.datetime.now(datetime.UTC)", "calls datetime.datetime.now()"),
        ("from datetime import date\nx = date.today()", "calls date.today()"),
        ("import time\nx = time.time()", "calls time.time()"),
    ],
)
def test_the_checker_catches_what_it_forbids(source: str, words: str) -> None:
    # a negative control: if the checker caught nothing, the domain test above would prove nothing
    found = violations(source)
    assert any(words in v for v in found), found


def test_the_checker_allows_what_the_domain_uses() -> None:
    source = (
        "from __future__ import annotations\n"
        "import re\nfrom decimal import Decimal\nfrom datetime import datetime, timedelta\n"
        "from ordermesh.domain.errors import Collector\nfrom . import money\n"
        "def f(at: datetime) -> datetime:\n    return at + timedelta(days=1)\n"
    )
    assert violations(source) == []
