"""Helpers shared by every package's forms and views."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import pycountry
from flask import flash, g, has_request_context
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from jinja2 import pass_context
from jinja2.runtime import Context
from wtforms import Form
from wtforms.validators import StopValidation, ValidationError

from facility.core.countries import country_name
from facility.core.errors import DomainError, NotFound, PermissionDenied
from facility.core.inputs import MAX_CENTS, date_in_range, date_range_message
from facility.extensions import db

_AMOUNT = re.compile(r"(?P<whole>[0-9]{1,3}(?P<sep>[, ])[0-9]{3}(?:(?P=sep)[0-9]{3})*|[0-9]+)(?:\.(?P<cents>[0-9]{1,2}))?")
"""ASCII digits; optionally thousands separated by commas (or by spaces), in groups of three; at most two
decimals. Not `1e3`, `1_000`, `1,00`, full-width or other scripts' digits, `NaN` or `Infinity`."""


def country_choices(blank: Any, only: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """A country select's options: the names in the viewer's language, in their order; each option's value
    stays the ISO alpha-3 code that is stored. `blank` labels the empty first option ("Any", "Choose…").
    `only`: just these codes (a filter offers the countries the facility has data for, not all 249: on a
    phone and a slow line the whole list is a long scroll and about 2 KB of every filtered page)."""
    codes = {c.alpha_3 for c in pycountry.countries} if only is None else {code.upper() for code in only}
    named = sorted(((str(country_name(code)), code) for code in codes), key=lambda pair: pair[0].casefold())
    return [("", blank)] + [(code, name) for name, code in named]


def parse_usd(text: str | None, *, allow_zero: bool = False) -> int | None:
    """A US-dollar amount typed by a person ("1,250.50", "$1250", "USD 1 250") -> integer cents.

    Exact (integer arithmetic, never float). None when blank; ValueError with a message to show
    when it is not written as `_AMOUNT` allows, not above zero (or below zero with `allow_zero`),
    or beyond MAX_CENTS. The one parser of typed amounts: every form's money field goes through it.
    """
    raw = (text or "").strip()
    if raw.upper().startswith("USD"):
        raw = raw[3:].lstrip()
    raw = raw.removeprefix("$").lstrip()
    if not raw:
        return None
    if raw.startswith("-") and _AMOUNT.fullmatch(raw[1:]):
        raise ValueError(_("Give an amount of zero or more.") if allow_zero else _("Give an amount above zero."))
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        if re.fullmatch(r"[0-9,]*\.[0-9]{3,}", raw):
            raise ValueError(_("Give an amount in US dollars with at most two decimals."))
        raise ValueError(_("Give an amount in US dollars in digits 0-9, like 1,250.50: commas between groups of "
                           "three digits, at most two decimals."))
    whole = match.group("whole").replace(",", "").replace(" ", "")
    if len(whole) > len(str(MAX_CENTS)):
        raise ValueError(_("Give an amount of at most %(limit)s US dollars.", limit=f"{MAX_CENTS // 100:,}"))
    amount = int(whole) * 100 + int((match.group("cents") or "0").ljust(2, "0"))
    if amount == 0 and not allow_zero:
        raise ValueError(_("Give an amount above zero."))
    if amount > MAX_CENTS:
        raise ValueError(_("Give an amount of at most %(limit)s US dollars.", limit=f"{MAX_CENTS // 100:,}"))
    return amount


class ParsedFieldMixin:
    """For a form field whose `process_formdata` refuses unreadable input (a ValueError): that message
    is the one shown, not replaced by a `DataRequired` saying the field is empty (it is not)."""

    process_errors: list[Any]

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:
            raise StopValidation()


class SaneDate:
    """Form validator for a date or date-and-time field: within the years `inputs.date_in_range` allows."""

    def __call__(self, form: Any, field: Any) -> None:
        if not date_in_range(field.data):
            raise ValidationError(date_range_message())


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


def add_missing_errors(form: FlaskForm, errors: dict[str, list[str]], field_map: dict[str, str] | None = None) -> None:
    """A service's per-field problems (e.g. `accounts.services.signup_problems`) added to a form whose own
    checks failed, so every problem shows at once: only on fields without an error of their own (the
    same problem is not said twice); problems of no field of this form go at the top."""
    field_map = field_map or {}
    in_error = {field.name for field in form if field.errors}
    for name, messages in errors.items():
        field = getattr(form, field_map.get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            if field.name not in in_error:
                field.errors = list(field.errors) + list(messages)
        else:
            form.form_errors.extend(messages)


FAILED: Any = object()
"""What `attempt` and `attempt_or_flash` return when the service refused (nothing was written)."""

ErrorView = Callable[[FlaskForm, DomainError], None]


def _refusable(service: Callable[..., Any], kwargs: dict[str, Any], show: Callable[[DomainError], None]) -> Any:
    """Call `service`; on a refusal roll back, then re-raise 403/404 or hand the error to `show`."""
    try:
        return service(**kwargs)
    except DomainError as error:
        db.session.rollback()
        # Not something to correct on a form: the app's error handler renders the 403/404 page.
        if isinstance(error, PermissionDenied | NotFound):
            raise
        show(error)
        return FAILED


def attempt(form: FlaskForm, service: Callable[..., Any], *, field_map: dict[str, str] | None = None,
            show_errors: ErrorView | None = None, **kwargs: Any) -> Any:
    """Call a service for a page; on a refusal roll back and show its errors on the form.

    Returns the service's result, or `FAILED` when it refused (nothing was written); the caller
    commits on success. `PermissionDenied` and `NotFound` are re-raised after the rollback, since
    they are not form errors: the app's error handler renders them as 403/404 pages. The errors go
    on the form through `apply_errors(form, error, field_map)`, or `show_errors(form, error)` when
    the page places them itself (e.g. on rows of a field list).
    """
    show = show_errors or (lambda shown_on, error: apply_errors(shown_on, error, field_map))
    return _refusable(service, kwargs, lambda error: show(form, error))


def attempt_or_flash(service: Callable[..., Any], **kwargs: Any) -> Any:
    """Like `attempt`, for a button without a form to show errors on: the refusal is flashed.

    Returns the service's result or `FAILED`; `PermissionDenied` and `NotFound` are re-raised.
    """
    return _refusable(service, kwargs, lambda error: flash(error.detail, "error"))


# --- what a page with form errors shows: "Error:" in its title, the error summary focused -------------

def note_form_errors() -> None:
    """The page being answered shows errors that are on no form of its context (e.g. a checklist of
    why a proposal cannot be submitted): its title starts with "Error:" too."""
    g.form_has_errors = True


def _has_errors(value: Any) -> bool:
    return isinstance(value, Form) and bool(value.errors)


@pass_context
def page_has_form_errors(context: Context) -> bool:
    """Whether the page being rendered shows a form with errors: a form of its context (also in a
    list or dict of forms) whose checks or service refused, or `note_form_errors()`. base.html
    starts the page's title with "Error:" then, on every page, with nothing to do in the views."""
    if has_request_context() and g.get("form_has_errors"):
        return True
    for value in context.get_all().values():
        if _has_errors(value):
            return True
        if isinstance(value, list | tuple) and any(_has_errors(item) for item in value):
            return True
        if isinstance(value, dict) and any(_has_errors(item) for item in value.values()):
            return True
    return False


def claim_autofocus() -> bool:
    """True for the first error summary of the request only: the one element with `autofocus`, so a
    browser moves focus there (and a screen reader reads it) without JavaScript."""
    if g.get("error_summary_shown"):
        return False
    g.error_summary_shown = True
    return True


def error_summary_shown() -> bool:
    """An error summary already has the focus: fields then drop any `autofocus` of their own."""
    return bool(g.get("error_summary_shown"))


def register_template_helpers(app: Any) -> None:
    """The helpers `_forms.html` and base.html call (from `core.templating.register`)."""
    app.jinja_env.globals.update(page_has_form_errors=page_has_form_errors, claim_autofocus=claim_autofocus,
                                 error_summary_shown=error_summary_shown)
