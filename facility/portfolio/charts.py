"""Server-rendered charts: an SVG drawn by pygal, with everything a person needs who cannot see it.

Every chart is a `Chart`: a title, a one-sentence summary in words, its data as rows (shown as a
table beside the picture and downloadable as CSV through `core.exports`) and the SVG. The SVG has
no script and no style of its own: pygal's inline `<script>` and `<style>` are removed, since pages
run without JavaScript and the Content-Security-Policy allows only the site's stylesheet, where
`static/css/site.css` colours the classes pygal uses (`.chart svg ...`). Labels are the caller's
translated strings; on a right-to-left page the axis of time or categories runs from the right.

Templates show one with `{% from "portfolio/_chart.html" import chart %}{{ chart(c, csv_url) }}`.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pygal
import pygal.style
from babel.numbers import format_compact_decimal
from flask import Response, has_request_context
from flask_babel import get_locale
from markupsafe import Markup

from facility.core.exports import Column, csv_response, dollars

_STRIP = re.compile(r"<(style|script)\b.*?</\1>", re.S)


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


def _tick(value: float) -> str:
    """An axis label short enough not to collide with its neighbours: 2.4M, 350K (in the viewer's language)."""
    locale = (get_locale() if has_request_context() else None) or "en"
    return format_compact_decimal(value, format_type="short", fraction_digits=1, locale=locale)


def _number(kind: str, value: Any) -> float:
    if value is None:
        return 0.0
    return float(dollars(int(value))) if kind == "money" else float(value)


def _style() -> Any:
    return pygal.style.Style(font_family="sans-serif", **_FONTS)


def _axis(kind: str, series: Sequence[tuple[str, Sequence[Any]]]) -> dict[str, Any]:
    """Axis settings: counts get whole-number ticks (pygal would draw 0, 0.5, 1 ... as 0, 0, 1)."""
    if kind != "int":
        return {}
    top = max((int(v or 0) for _, values in series for v in values), default=0)
    step = max(1, -(-top // 5))
    return {"y_labels": list(range(0, top + step + 1, step)) if top else [0, 1]}


# Font sizes pygal lays the chart out for; site.css must not change them, or labels overlap the bars.
_FONTS = {"label_font_size": 12, "major_label_font_size": 12, "legend_font_size": 12,
          "value_font_size": 12, "title_font_size": 14}


def _mirrored(rtl: bool, labels: Sequence[str], series: Sequence[tuple[str, Sequence[Any]]]
              ) -> tuple[list[str], list[tuple[str, list[Any]]]]:
    """Right to left, an axis of categories or time runs from the right: the first one is drawn last."""
    if not rtl:
        return list(labels), [(name, list(values)) for name, values in series]
    return list(labels)[::-1], [(name, list(values)[::-1]) for name, values in series]


def _render(chart: Any) -> Markup:
    svg = _STRIP.sub("", chart.render(is_unicode=True))
    # The picture keeps pygal's left-to-right geometry (its labels are anchored for it) even on a
    # right-to-left page; Arabic labels still read right to left inside each text (Unicode bidi).
    # role makes it one image to a screen reader; the table beside it has the data.
    svg = svg.replace("<svg ", '<svg role="img" focusable="false" direction="ltr" ', 1)
    # Reviewed (bandit B704): pygal escapes every label and value it writes; its scripts and styles are stripped.
    return Markup(svg)  # noqa: S704  # nosec B704


def bar_chart(key: str, title: str, summary: str, *, label_header: str, labels: Sequence[str],
              series: Sequence[tuple[str, Sequence[Any]]], kind: str = "money", horizontal: bool = True,
              stacked: bool = False, rtl: bool = False) -> Chart:
    """Bars per label, one colour per series. `kind` is the values' `Column` kind (money takes cents).
    `rtl`: vertical bars are drawn from the right (horizontal bars read top to bottom either way)."""
    columns = [Column(label_header), *(Column(name, kind) for name, _ in series)]  # type: ignore[arg-type]
    rows = [(label, *(values[i] for _, values in series)) for i, label in enumerate(labels)]
    chart = Chart(key, title, summary, columns, rows)
    if not rows:
        return chart
    cls = {(False, True): pygal.HorizontalBar, (True, True): pygal.HorizontalStackedBar,
           (False, False): pygal.Bar, (True, False): pygal.StackedBar}[(stacked, horizontal)]
    # pygal measures labels with narrower glyphs than browsers draw; give long ones room on the left.
    room = {"margin_left": 12 + 2 * max(len(str(label)) for label in labels)} if horizontal else {}
    graph = cls(js=[], disable_xml_declaration=True, no_prefix=True, show_legend=len(series) > 1,
                legend_at_bottom=True, print_values=False, height=max(220, 44 * len(labels) + 120),
                width=720, margin=12, truncate_label=40, title=None,
                value_formatter=_tick, max_scale=6, style=_style(), **room, **_axis(kind, series))
    drawn_labels, drawn = _mirrored(rtl and not horizontal, labels, series)
    graph.x_labels = drawn_labels
    for name, values in drawn:
        graph.add(name, [_number(kind, v) for v in values])
    chart.svg = _render(graph)
    return chart


def line_chart(key: str, title: str, summary: str, *, label_header: str, labels: Sequence[str],
               series: Sequence[tuple[str, Sequence[Any]]], kind: str = "money", rtl: bool = False) -> Chart:
    """Lines over an ordered axis (quarters, months); a None value leaves a gap. `rtl`: time runs from
    the right."""
    columns = [Column(label_header), *(Column(name, kind) for name, _ in series)]  # type: ignore[arg-type]
    rows = [(label, *(values[i] for _, values in series)) for i, label in enumerate(labels)]
    chart = Chart(key, title, summary, columns, rows)
    if not rows:
        return chart
    graph = pygal.Line(js=[], disable_xml_declaration=True, no_prefix=True, show_legend=len(series) > 1,
                       legend_at_bottom=True, height=320, width=720, margin=12, x_label_rotation=30,
                       allow_interruptions=True, value_formatter=_tick, max_scale=6, style=_style(),
                       **_axis(kind, series))
    drawn_labels, drawn = _mirrored(rtl, labels, series)
    graph.x_labels = drawn_labels
    for name, values in drawn:
        graph.add(name, [None if v is None else _number(kind, v) for v in values])
    chart.svg = _render(graph)
    return chart
