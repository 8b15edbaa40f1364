"""The key that signs dashboard session cookies.

``ORDERMESH_SECRET_KEY`` wins. Without it, a key is generated once and kept in ``secret_key``
next to the SQLite database (``var/secret_key`` with the default ``var/ordermesh.db``), or in
``./var/secret_key`` for PostgreSQL, so sessions survive restarts and every process on the machine
signs with the same key. Several machines must share ``ORDERMESH_SECRET_KEY`` instead.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from ordermesh.adapters.db.engine import is_sqlite, normalise_url
from ordermesh.config import Settings

log = logging.getLogger("ordermesh.web")

SECRET_FILE = "secret_key"
MIN_LENGTH = 32


def session_secret(settings: Settings) -> str:
    if settings.secret_key:
        if len(settings.secret_key) < MIN_LENGTH:
            log.warning("ORDERMESH_SECRET_KEY is shorter than %d characters; use a long random value", MIN_LENGTH)
        return settings.secret_key
    path = secret_path(settings.database_url)
    if path is None:
        # An in-memory database lives only as long as the process; so may its sessions.
        return secrets.token_urlsafe(48)
    return read_or_create(path)


def secret_path(database_url: str) -> Path | None:
    """Where the generated key is kept for this database, or None for an in-memory one."""
    if not is_sqlite(database_url):
        return Path("var") / SECRET_FILE
    database = make_url(normalise_url(database_url)).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).parent / SECRET_FILE


def read_or_create(path: Path) -> str:
    """Read the key, or create it so that of several processes starting at once exactly one wins:
    each writes a private temporary file and hard-links it into place, which fails if the key
    already exists. The file is readable by its owner only."""
    existing = _read(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(key + "\n")
    try:
        os.link(tmp, path)
        log.info("generated a session secret in %s", path)
    except FileExistsError:
        key = _read(path)
    except OSError:  # a filesystem without hard links: nearly as good
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if not key:
        raise RuntimeError(f"{path} is empty: delete it, or set ORDERMESH_SECRET_KEY")
    return key


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
