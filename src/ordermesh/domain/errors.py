"""Domain errors. Each has a stable ``code`` that becomes the problem+json ``type``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with one input field; ``field`` is a dotted path such as ``lines.0.quantity``."""

    field: str
    message: str


class DomainError(Exception):
    code = "domain-error"
    title = "Request cannot be processed"
    status = 400

    def __init__(self, detail: str, *, field: str | None = None, errors: list[FieldError] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.errors = list(errors or ([FieldError(field, detail)] if field else []))


class ValidationFailed(DomainError):
    code = "validation-error"
    title = "Invalid input"
    status = 422


class NotFound(DomainError):
    code = "not-found"
    title = "Not found"
    status = 404


class AlreadyExists(DomainError):
    code = "already-exists"
    title = "Already exists"
    status = 409


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict with the current state"
    status = 409


class InsufficientStock(DomainError):
    code = "insufficient-stock"
    title = "Insufficient stock"
    status = 409

    def __init__(self, detail: str, *, shortages: list[Shortage] | None = None, field: str | None = None):
        super().__init__(detail, field=field)
        self.shortages = list(shortages or [])


@dataclass(frozen=True)
class Shortage:
    sku: str
    location: str
    requested: int
    available: int


class Unauthorized(DomainError):
    code = "unauthorized"
    title = "Authentication required"
    status = 401


class Forbidden(DomainError):
    code = "forbidden"
    title = "Not allowed"
    status = 403


class SchemaBehind(DomainError):
    code = "schema-behind"
    title = "Database migrations are behind"
    status = 503


@dataclass(frozen=True)
class RowError:
    """A problem with one row of an imported file."""

    line: int
    column: str
    message: str


class ImportRejected(DomainError):
    code = "import-rejected"
    title = "Import rejected"
    status = 422

    def __init__(self, detail: str, rows: list[RowError]):
        super().__init__(detail)
        self.rows = rows


@dataclass
class Collector:
    """Collects field errors so a request can report all of them at once."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_path: str, message: str) -> None:
        self.errors.append(FieldError(field_path, message))

    def raise_if_any(self, detail: str = "The request has invalid fields") -> None:
        if self.errors:
            if len(self.errors) == 1:
                detail = f"{self.errors[0].field}: {self.errors[0].message}"
            raise ValidationFailed(detail, errors=self.errors)
