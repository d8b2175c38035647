"""Domain errors raised by services; pages and the API turn them into answers.

A service never renders anything: it raises one of these and the caller decides
how the person or program sees it (a form error and flash on a page, RFC 9457
problem JSON in the API).
"""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class ValidationFailed(DomainError):
    """Input that is well-formed but breaks a rule (422); `errors` maps field -> messages."""

    status = 422
    title = "Invalid fields"


class Conflict(DomainError):
    """The request conflicts with the current state: deadline passed, wrong status, short funds (409)."""

    status = 409
    title = "Conflict"


class PermissionDenied(DomainError):
    status = 403
    title = "Forbidden"


class StepUpRequired(PermissionDenied):
    """The right person, but this action needs a second factor proved in the last few minutes
    (`accounts.factors.require_fresh_factor`): pages send the person to confirm, the API answers 403."""

    title = "Fresh second factor required"


class NotFound(DomainError):
    """Also used for objects the caller may not know exist."""

    status = 404
    title = "Not found"
