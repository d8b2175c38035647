"""Helpers shared by every package's forms and views."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm

from facility.core.errors import DomainError


def apply_errors(form: FlaskForm, error: DomainError, field_map: dict[str, str] | None = None) -> None:
    """Show a service's per-field errors next to the form's fields (or at the top)."""
    field_map = field_map or {}
    for name, messages in error.errors.items():
        field = getattr(form, field_map.get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
        else:
            form.form_errors.extend(messages)
    if not error.errors:
        form.form_errors.append(error.detail)


_FAILED = object()


def attempt(form: FlaskForm, service: Callable[..., Any], *, field_map: dict[str, str] | None = None,
            **kwargs: Any) -> Any:
    """Call a service for a page; on a refusal roll back and show its errors on the form.

    Returns the service's result, or `FAILED` when it refused (nothing was written).
    """
    from facility.extensions import db

    try:
        return service(**kwargs)
    except DomainError as error:
        db.session.rollback()
        apply_errors(form, error, field_map)
        return _FAILED


FAILED = _FAILED
