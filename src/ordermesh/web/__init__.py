"""The web dashboard: server-rendered pages on the same app as the API, with a signed-cookie session.

``install_web(app, settings)`` adds the session middleware, the pages, the static files and HTML
error pages for browsers; the API keeps answering problem+json.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ordermesh.config import Settings
from ordermesh.web.frame import NOT_FOUND_DETAIL, STATIC_DIR, error_page, wants_html
from ordermesh.web.pages import auth, catalog, channels, inventory, locations, orders, shipping
from ordermesh.web.session import WebSessionMiddleware

__all__ = ["install_web"]


def install_web(app: FastAPI, settings: Settings) -> None:
    """Call after the API's exception handlers are installed: unmatched browser requests get an
    HTML page, everything else keeps the API's problem+json answer."""
    routers = [module.router for module in (auth, inventory, catalog, locations, orders, channels, shipping)]
    for router in routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The session covers the pages' own paths: "/login", "/inventory/...", never "/api/...".
    prefixes = {"/" + route.path.strip("/").split("/")[0] for r in routers for route in r.routes}
    app.add_middleware(WebSessionMiddleware, settings=settings, prefixes=prefixes)

    api_handler = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not wants_html(request):
            response: Response = await api_handler(request, exc)
            return response
        if exc.status_code == 404:
            return error_page(request, 404, "Page not found", NOT_FOUND_DETAIL)
        return error_page(request, exc.status_code, "Error", str(exc.detail))

    app.add_exception_handler(StarletteHTTPException, http_error)
