"""Errors as RFC 9457 problem+json: a stable ``type``, a human ``detail`` and, for invalid input,
the path of every offending field. Never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ordermesh.domain.errors import DomainError, ImportRejected, InsufficientStock

log = logging.getLogger("ordermesh.api")

PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
    503: "Service unavailable",
}
CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
    500: "internal-error",
}


def problem(
    request: Request | None,
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        rid = getattr(request.state, "request_id", None)
        if rid:
            body["request_id"] = rid
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _loc_to_path(loc: tuple[Any, ...] | list[Any]) -> tuple[str, str]:
    """('body', 'lines', 0, 'quantity') -> ('lines.0.quantity', '/lines/0/quantity')."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    dotted = ".".join(parts) or "body"
    return dotted, "/" + "/".join(parts)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette reports only the first route's)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(exc, InsufficientStock) and exc.shortages:
            extra["shortages"] = [s.__dict__ for s in exc.shortages]
        if isinstance(exc, ImportRejected):
            extra["rows"] = [r.__dict__ for r in exc.rows]
        errors = [
            {"field": e.field, "pointer": "/" + e.field.replace(".", "/"), "message": e.message} for e in exc.errors
        ]
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(
            request, exc.status, exc.code, exc.detail, title=exc.title, errors=errors, extra=extra, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                ctx = err.get("ctx") or {}
                return problem(
                    request,
                    400,
                    "malformed-json",
                    f"the body is not valid JSON: {ctx.get('error', 'parse error')}",
                    title="Malformed JSON",
                )
            dotted, pointer = _loc_to_path(err.get("loc", ()))
            message = str(err.get("msg", "is invalid"))
            if err.get("type") == "missing":
                message = "is required"
            errors.append(
                {"field": dotted, "pointer": pointer, "message": message, "in": str(err.get("loc", ["body"])[0])}
            )
        # one field reported once, even when a union type produced several messages for it
        seen: dict[str, dict[str, Any]] = {}
        for e in errors:
            seen.setdefault(e["field"], e)
        errors = list(seen.values())
        detail = (
            f"{errors[0]['field']}: {errors[0]['message']}" if len(errors) == 1 else f"{len(errors)} fields are invalid"
        )
        return problem(request, 422, "validation-error", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            headers = {"Allow": ", ".join(allowed)}
            detail = f"{request.method} is not allowed here; use {' or '.join(allowed)}"
        return problem(request, exc.status_code, code, detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = getattr(request.state, "request_id", "-")
        log.exception("unhandled error in %s %s (request %s)", request.method, request.url.path, rid)
        return problem(
            request, 500, "internal-error", f"an unexpected error occurred; quote request id {rid} when reporting it"
        )


DESCRIPTIONS = {
    "validation-error": "A field is missing or invalid. `errors` lists each field with its path and what is wrong.",
    "malformed-json": "The body is not valid JSON.",
    "not-found": "The resource does not exist, or it belongs to another tenant.",
    "already-exists": "Something with that code already exists.",
    "conflict": "The change is not possible in the current state.",
    "insufficient-stock": "Not enough stock; `shortages` lists each SKU and location with what is available.",
    "unauthorized": "No API key, or the key is wrong or revoked.",
    "forbidden": "The key's role may not do this.",
    "body-too-large": "The request body is over the configured limit.",
    "import-rejected": "The CSV has bad rows; `rows` lists each with line, column and reason. Nothing was saved.",
    "schema-behind": "The database needs `ordermesh db upgrade`.",
    "internal-error": "An unexpected error; the request id identifies it in the server log.",
}


def describe(code: str) -> str:
    import html

    text = DESCRIPTIONS.get(code, "An ordermesh error.")
    return f"<!doctype html><title>{html.escape(code)}</title><h1>{html.escape(code)}</h1><p>{html.escape(text)}</p>"


def openapi_with_problems(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, saying what the API really sends for errors: every 4xx/5xx is
    application/problem+json, and every operation may answer 401 (keys), 413 (body size) and 500."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    from ordermesh.api.schemas.common import ProblemOut

    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["ProblemOut"] = ProblemOut.model_json_schema(ref_template="#/components/schemas/{model}")
    ref = {"$ref": "#/components/schemas/ProblemOut"}
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            if path.startswith("/api/"):
                responses.setdefault("401", {"description": "Missing or invalid API key"})
                responses.setdefault("422", {"description": "Invalid input"})
            if method in ("post", "put", "patch"):
                responses.setdefault("400", {"description": "Malformed request"})
                responses.setdefault("413", {"description": "Body too large"})
            responses.setdefault("500", {"description": "Unexpected error"})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = {PROBLEM: {"schema": ref}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = spec
    return spec
