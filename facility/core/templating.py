"""Jinja filters and globals: money in cents, dates in the viewer's time zone, enum labels, policy answers."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask
from flask_babel import format_datetime, format_decimal, get_locale
from flask_login import current_user
from markupsafe import Markup

from facility.core import search
from facility.core.countries import country_name
from facility.core.forms import register_template_helpers
from facility.core.labels import label, tone
from facility.core.policy import Answer
from facility.core.policy import may as ask_policy
from facility.core.providers import stripe_configured


def money(cents: int | None, currency: str = "USD") -> str:
    """12345 -> 'USD 123.45' in the viewer's locale; money is always integer cents."""
    if cents is None:
        return "—"
    # Exact: cents as a Decimal with two places, grouped and separated by the viewer's locale (1 234,50).
    return f"{currency} {format_decimal(Decimal(int(cents)).scaleb(-2), format='#,##0.00')}"


def is_right_to_left() -> bool:
    """The current language is written right to left (Arabic): Babel's locale data decides, so pages
    (`text_direction`) and charts (`rtl=`) agree for every language the catalogues add."""
    locale = get_locale()
    return bool(locale and locale.character_order == "right-to-left")


def codes(values: Any) -> Markup:
    """A list of codes (SDG targets, ISO codes) as text that reads the same in every direction: each code
    isolated in `<bdi>`, so "11.5, 11.b, 13.1" is not reordered by an Arabic page; '—' for none."""
    items = [str(value) for value in (values or []) if value not in (None, "")]
    if not items:
        return Markup("—")
    isolated = [Markup("<bdi>{}</bdi>").format(item) for item in items]  # format() escapes each code
    return (Markup("، ") if is_right_to_left() else Markup(", ")).join(isolated)


def may(name: str, *args: Any) -> Answer:
    """The one Jinja helper for permissions: `{% set answer = may("grants.accept", grant) %}`.

    Asks the package's policy (`facility.<package>.policy.can_<action>`) for the signed-in
    viewer; the answer is truthy when allowed, else it carries the reason to show.
    """
    return ask_policy(current_user, name, *args)


def register(app: Flask) -> None:
    app.jinja_env.globals["may"] = may
    app.jinja_env.globals["stripe_configured"] = stripe_configured
    app.jinja_env.globals["search_is_cut"] = search.is_cut  # a searched list cut at search.MATCH_LIMIT
    app.jinja_env.globals["search_match_limit"] = lambda: format_decimal(search.MATCH_LIMIT)
    register_template_helpers(app)  # "Error:" titles, the focused error summary
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["tone"] = tone
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["country_name"] = country_name
    app.jinja_env.filters["codes"] = codes
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": format_datetime(value, fmt) if value else "—"
    app.jinja_env.add_extension("jinja2.ext.i18n")
