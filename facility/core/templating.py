"""Jinja filters: money in cents, dates in the viewer's time zone."""
from __future__ import annotations

from flask import Flask
from flask_babel import format_datetime, format_decimal


def money(cents: int | None, currency: str = "USD") -> str:
    """12345 -> 'USD 123.45' in the viewer's locale; money is always integer cents."""
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{currency} {sign}{format_decimal(whole, format='#,##0')}.{frac:02d}"


def register(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": format_datetime(value, fmt) if value else "—"
    app.jinja_env.add_extension("jinja2.ext.i18n")
