"""Server-rendered charts: a light SVG (`portfolio.svg`), with everything a person needs who cannot see it.

Every chart is a `Chart`: a title, a one-sentence summary in words, its data as rows (shown as a
table beside the picture and downloadable as CSV through `core.exports`) and the SVG. The SVG has
no script and no style of its own (pages run without JavaScript and the Content-Security-Policy allows
only the site's stylesheet, where `static/css/site.css` colours its classes under `.chart svg`). Labels
are the caller's translated strings; on a right-to-left page bars grow from the right and an axis of
time runs from the right.

Templates show one with `{% from "portfolio/_chart.html" import chart %}{{ chart(c, csv_url) }}`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from babel.numbers import format_compact_decimal, format_decimal, format_percent
from flask import Response, has_request_context
from flask_babel import get_locale
from markupsafe import Markup

from facility.core.exports import Column, csv_response, dollars
from facility.portfolio import svg


@dataclass
class Chart:
    """A chart and its data. `rows` are (label, value per series...) with values as `columns` say."""

    key: str
    title: str
    summary: str
    columns: list[Column]
    rows: list[tuple[Any, ...]]
    svg: Markup = field(default_factory=lambda: Markup(""))

    @property
    def is_empty(self) -> bool:
        return not self.rows

    def csv(self, filename: str | None = None) -> Response:
        """The chart's data as a CSV download."""
        return csv_response(self.columns, self.rows, filename or f"{self.key}.csv")


def _locale() -> str:
    return str((get_locale() if has_request_context() else None) or "en")


def _tick(value: float) -> str:
    """An axis label short enough not to collide with its neighbours: 2.4M, 350K (in the viewer's language)."""
    return format_compact_decimal(value, format_type="short", fraction_digits=1, locale=_locale())


def _number(kind: str, value: Any) -> float:
    if value is None:
        return 0.0
    return float(dollars(int(value))) if kind == "money" else float(value)


def _mirrored(rtl: bool, labels: Sequence[str], series: Sequence[tuple[str, Sequence[Any]]]
              ) -> tuple[list[str], list[tuple[str, list[Any]]]]:
    """Right to left, an axis of categories or time runs from the right: the first one is drawn last."""
    if not rtl:
        return list(labels), [(name, list(values)) for name, values in series]
    return list(labels)[::-1], [(name, list(values)[::-1]) for name, values in series]


def _shown(kind: str) -> Callable[[float], str]:
    """How a value is printed on the picture: short money (2.4M), whole counts, percentages."""
    if kind == "int":
        return lambda value: format_decimal(round(value), locale=_locale())
    if kind == "percent":
        return lambda value: format_percent(value / 100, "#,##0.#%", locale=_locale())
    return _tick


def bar_chart(key: str, title: str, summary: str, *, label_header: str, labels: Sequence[str],
              series: Sequence[tuple[str, Sequence[Any]]], kind: str = "money", stacked: bool = False,
              rtl: bool = False) -> Chart:
    """A row of bars per label, one colour per series (`stacked`: one bar of segments). `kind` is the values'
    `Column` kind (money takes cents). `rtl`: the bars grow from the right."""
    columns = [Column(label_header), *(Column(name, kind) for name, _ in series)]  # type: ignore[arg-type]
    rows = [(label, *(values[i] for _, values in series)) for i, label in enumerate(labels)]
    chart = Chart(key, title, summary, columns, rows)
    if rows:
        chart.svg = svg.horizontal_bars(title, summary, labels=[str(label) for label in labels],
                                        names=[name for name, _ in series], stacked=stacked, rtl=rtl,
                                        values=[[_number(kind, v) for v in values] for _, values in series],
                                        shown=_shown(kind))
    return chart


def line_chart(key: str, title: str, summary: str, *, label_header: str, labels: Sequence[str],
               series: Sequence[tuple[str, Sequence[Any]]], kind: str = "money", rtl: bool = False) -> Chart:
    """Lines over an ordered axis (quarters, months); a None value leaves a gap. `rtl`: time runs from
    the right."""
    columns = [Column(label_header), *(Column(name, kind) for name, _ in series)]  # type: ignore[arg-type]
    rows = [(label, *(values[i] for _, values in series)) for i, label in enumerate(labels)]
    chart = Chart(key, title, summary, columns, rows)
    if rows:
        drawn_labels, drawn = _mirrored(rtl, [str(label) for label in labels], series)
        chart.svg = svg.lines(title, summary, labels=drawn_labels, names=[name for name, _ in drawn], rtl=rtl,
                              values=[[None if v is None else _number(kind, v) for v in values] for _, values in drawn],
                              shown=_shown(kind), whole=kind == "int")
    return chart
