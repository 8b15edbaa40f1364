"""Shared request/response pieces. Loose numeric input is passed to the domain, which validates it
and reports problems with the field path; the schemas here give OpenAPI the right shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, WithJsonSchema


def _number_like(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError('must be a number or a numeric string such as "499.00"')
    return value


# Money and rates: accepted as JSON strings ("499.00") or numbers; written out as strings.
NumberLike = Annotated[
    Any,
    BeforeValidator(_number_like),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?$"}, {"type": "number"}]}),
]
Quantity = Annotated[StrictInt, Field(description="a whole number of units")]


def path_param(name: str, description: str) -> dict[str, Any]:
    """A path parameter as OpenAPI documents it, for an endpoint that reads its parameters from the
    request itself (the webhook endpoints: no parameters to solve or validate per request)."""
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


class Input(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid", strict=True)


class PageOut(BaseModel):
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null on the last")


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ProblemOut, "description": "Malformed request"},
    401: {"model": ProblemOut, "description": "Missing or invalid API key"},
    403: {"model": ProblemOut, "description": "The key's role may not do this"},
    404: {"model": ProblemOut, "description": "Not found (also for other tenants' resources)"},
    409: {"model": ProblemOut, "description": "Conflicts with the current state"},
    413: {"model": ProblemOut, "description": "Body too large"},
    422: {"model": ProblemOut, "description": "Invalid fields, each named"},
}
