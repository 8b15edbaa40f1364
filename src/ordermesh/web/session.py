"""The dashboard session: a signed cookie (Starlette's SessionMiddleware, itsdangerous), its CSRF
token and one-shot flash messages.

The cookie holds the user id, the tenant id and the CSRF token, signed but not encrypted, so it
carries nothing secret. It is HttpOnly and SameSite=Lax, and Secure when
``ORDERMESH_SESSION_COOKIE_SECURE`` is set. The API authenticates by key and never sees it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ordermesh.config import Settings
from ordermesh.web.secret import session_secret

SESSION_COOKIE = "ordermesh_session"
SESSION_MAX_AGE = 12 * 60 * 60  # one working shift; signing in again after it is expected
CSRF_FIELD = "csrf_token"


class CsrfFailed(Exception):
    """A form came without the session's CSRF token: forged, or from a page older than the session."""


class WebSessionMiddleware:
    """SessionMiddleware for the dashboard's own paths only (``/`` and everything under the given
    prefixes). It is built on the first dashboard request, so an API-only process never reads or
    creates the secret file, and API, static and health responses never carry the cookie."""

    def __init__(self, app: ASGIApp, *, settings: Settings, prefixes: Iterable[str]) -> None:
        self.app = app
        self.settings = settings
        self.prefixes = tuple(sorted({p.rstrip("/") for p in prefixes if p.rstrip("/")}))
        self._sessions: SessionMiddleware | None = None

    def covers(self, path: str) -> bool:
        return path == "/" or any(path == p or path.startswith(p + "/") for p in self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.covers(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self._sessions is None:
            self._sessions = SessionMiddleware(
                self.app,
                secret_key=session_secret(self.settings),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                same_site="lax",
                https_only=self.settings.session_cookie_secure,
            )
        await self._sessions(scope, receive, send)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Every form POSTs ``csrf_token``; it must equal the one in the signed session cookie."""
    expected = request.session.get("csrf")
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise CsrfFailed


def start_session(request: Request, *, user_id: int, tenant_id: int) -> None:
    """A fresh session after sign-in: nothing from before it survives, the CSRF token included."""
    request.session.clear()
    request.session.update({"uid": user_id, "tid": tenant_id, "csrf": secrets.token_urlsafe(32)})


def end_session(request: Request) -> None:
    request.session.clear()


def flash(request: Request, text: str, kind: str = "success") -> None:
    request.session["flash"] = [*request.session.get("flash", []), {"kind": kind, "text": text}]


def take_flashes(request: Request) -> list[dict[str, Any]]:
    if "flash" not in request.session:
        return []
    messages: list[dict[str, Any]] = request.session.pop("flash")
    return messages
