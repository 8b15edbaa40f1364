"""What every dashboard page shares: the navigation, the signed-in principal, rendering, and turning
errors into pages.

Pages are routed through :class:`WebRoute`, which checks the CSRF token of every unsafe request,
sends anonymous visitors to the sign-in page and renders domain errors as HTML with their status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ordermesh import __version__
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain.access import Actor, Permission
from ordermesh.domain.errors import DomainError, Unauthorized
from ordermesh.services.platform import Principal, principal_for_user
from ordermesh.web.session import CsrfFailed, check_csrf, csrf_token, end_session, take_flashes

log = logging.getLogger("ordermesh.web")

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
IST = timezone(timedelta(hours=5, minutes=30), "IST")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    path: str
    permission: Permission


# The navigation, in order; each role sees the sections its permissions allow. A new area
# (Orders, Shipping, Returns, Finance, Channels, Settings) appends its Section once its pages exist.
SECTIONS: list[Section] = [
    Section("inventory", "Inventory", "/inventory", Permission.INVENTORY_READ),
    Section("catalog", "Catalog", "/catalog", Permission.CATALOG_READ),
    Section("locations", "Locations", "/locations", Permission.LOCATIONS_READ),
    Section("orders", "Orders", "/orders", Permission.ORDERS_READ),
    Section("channels", "Channels", "/channels", Permission.CHANNELS_READ),
    Section("shipping", "Shipping", "/shipping", Permission.SHIPPING_READ),
]


def sections_for(actor: Actor) -> list[Section]:
    return [s for s in SECTIONS if actor.can(s.permission)]


def home_path(actor: Actor) -> str:
    sections = sections_for(actor)
    return sections[0].path if sections else "/inventory"


# ---- formatting -------------------------------------------------------------------------------


def indian_digits(n: int) -> str:
    """1234567 -> '12,34,567': lakh and crore grouping, as Indian sellers read numbers."""
    sign, digits = ("-" if n < 0 else ""), str(abs(n))
    if len(digits) <= 3:
        return sign + digits
    head, groups = digits[:-3], [digits[-3:]]
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    return sign + ",".join([head, *groups])


def format_quantity(n: int | None) -> str:
    return "" if n is None else indian_digits(n).replace("-", "\u2212")


def format_change(n: int) -> str:
    """A ledger delta: '+5', a minus sign and '3', or '' for no change."""
    return "" if n == 0 else ("+" if n > 0 else "\u2212") + indian_digits(abs(n))


def format_rupees(amount: Decimal) -> str:
    whole, _, paise = f"{abs(amount):.2f}".partition(".")
    return f"{'-' if amount < 0 else ''}\u20b9{indian_digits(int(whole))}.{paise}"


def format_ist(at: datetime | None) -> str:
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(IST).strftime("%d %b %Y, %H:%M")


def static_url(name: str) -> str:
    return f"/static/{name}?v={__version__}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(qty=format_quantity, change=format_change, inr=format_rupees, ist=format_ist)
    env.globals.update(static=static_url, version=__version__)
    return env


templates = Jinja2Templates(env=_environment())


# ---- who is signed in ---------------------------------------------------------------------------


class LoginRequired(Exception):
    """No session, or its user is gone or deactivated: sign in (again)."""


def current_principal(request: Request) -> Principal:
    user_id, tenant_id = request.session.get("uid"), request.session.get("tid")
    if not isinstance(user_id, int) or not isinstance(tenant_id, int):
        raise LoginRequired
    container = request.app.state.container
    try:
        with container.uow(tenant_id=None, write=False) as uow:
            principal: Principal = principal_for_user(uow, user_id)
    except Unauthorized:
        end_session(request)
        raise LoginRequired from None
    if principal.tenant_id != tenant_id:
        end_session(request)
        raise LoginRequired
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def page_uow(request: Request, principal: Principal, *, write: bool = False) -> UnitOfWork:
    """A unit of work in the signed-in user's tenant, acting as that user."""
    uow: UnitOfWork = request.app.state.container.uow(
        tenant_id=principal.tenant_id,
        actor=principal.actor,
        request_id=getattr(request.state, "request_id", None),
        write=write,
    )
    return uow


def safe_next(value: str | None) -> str | None:
    """A path on this site to return to after signing in, or None; never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(ch) < 32 for ch in value):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


def login_url(request: Request) -> str:
    if request.method != "GET":
        return "/login"
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if target in ("/", "/login") else f"/login?next={quote(target, safe='/')}"


# ---- rendering ----------------------------------------------------------------------------------


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> Response:
    principal: Principal | None = getattr(request.state, "principal", None)
    has_session = "session" in request.scope
    base: dict[str, Any] = {
        "principal": principal,
        "sections": sections_for(principal.actor) if principal else [],
        "active": "",
        "csrf": csrf_token(request) if has_session else "",
        "flashes": take_flashes(request) if has_session else [],
    }
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    return secure(response)


def secure(response: Response) -> Response:
    for header, value in PAGE_HEADERS.items():
        response.headers.setdefault(header, value)
    return response


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    back = None
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        back = home_path(principal.actor)
    section = next((s.key for s in SECTIONS if request.url.path.startswith(s.path)), "")
    return render(
        request,
        "error.html",
        {
            "active": section,
            "title": title,
            "status": status,
            "detail": detail,
            "back": back,
            "request_id": getattr(request.state, "request_id", None),
        },
        status=status,
    )


NOT_FOUND_DETAIL = "There is no page at this address. It may have moved, or the link may be mistyped."


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


class WebRoute(APIRoute):
    """A dashboard route: CSRF-checked, sign-in enforced, every failure answered with a page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                if request.method not in SAFE_METHODS:
                    await check_csrf(request)
                response = await handler(request)
            except LoginRequired:
                response = RedirectResponse(login_url(request), status_code=303)
            except CsrfFailed:
                response = error_page(
                    request,
                    403,
                    "This form has expired",
                    "The form was older than your session, or did not come from ordermesh. "
                    "Reload the page and try again.",
                )
            except Unauthorized:
                response = RedirectResponse(login_url(request), status_code=303)
            except DomainError as exc:
                log.info("%s %s: %s (%s)", request.method, request.url.path, exc.code, exc.detail)
                response = error_page(request, exc.status, exc.title, exc.detail)
            except RequestValidationError:
                response = error_page(request, 400, "Bad request", "The address has an invalid parameter.")
            except StarletteHTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else "The request cannot be served."
                response = error_page(request, exc.status_code, "Error", detail)
            except Exception:
                rid = getattr(request.state, "request_id", "-")
                log.exception("unhandled error in %s %s (request %s)", request.method, request.url.path, rid)
                response = error_page(
                    request, 500, "Something went wrong", "An unexpected error occurred; it has been logged."
                )
            return secure(response)

        return route
