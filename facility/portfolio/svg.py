"""Light SVG for the charts (`portfolio.charts`): a few whole-number shapes, CSS classes, no inline style.

A first visit must fit in 14 KB with its charts (tests/reach/test_weight.py), so a chart is drawn with as
few nodes as it takes: bars are one `<rect>` each, grouped per series in a `<g class="color-N">` that
colours them (static/css/site.css, under `.chart svg`); a line is one `<path>`; the guides of an axis are
one `<path>`. Horizontal bars print their value at the end, so they need no axis. Coordinates are whole
units of a 360-wide view box; text is 12 units high (the stylesheet sets it), and its width is estimated
from above (0.6 em a small letter, 0.7 a digit or a capital, 1 em an East Asian wide character) to wrap
long labels and keep labels apart.

The picture is one image to assistive technology (`role="img"`, a `<title>` and a `<desc>`); the data is in
the table beside it. Right to left, bars grow from the right and value axes stand on the right; the caller
reverses an axis of time (`charts._mirrored`), so the labels are written in the order they are drawn.
"""
from __future__ import annotations

import math
import textwrap
import unicodedata
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH = 360
FONT = 12
LINE = 16  # one line of text
BAR = 12
SWATCH = 10


def _em(ch: str) -> float:
    if unicodedata.east_asian_width(ch) in "WF":
        return 1.0
    if ch.isdigit() or ch.isupper():
        return 0.7
    return 0.35 if ch in " .,:;'()|" else 0.6


def text_width(text: str) -> float:
    """An upper estimate of the text's width in view box units (the fonts people have differ)."""
    return sum(_em(ch) for ch in text) * FONT


def wrap(text: str, width: float) -> list[str]:
    """Lines of at most `width` units (a word longer than that keeps a line of its own)."""
    chars = max(4, int(width / (FONT * 0.6)))
    if any(unicodedata.east_asian_width(ch) in "WF" for ch in text):
        chars = max(2, int(width / FONT))
        return [text[i:i + chars] for i in range(0, len(text), chars)] or [""]
    return textwrap.wrap(text, chars) or [""]


def _text(x: float, y: float, content: str) -> str:
    return f'<text x="{round(x)}" y="{round(y)}">{escape(content)}</text>'


def _legend(names: Sequence[str], rtl: bool, top: int) -> tuple[list[str], int]:
    """One line per series, its colour first; answers the parts and the height they take."""
    if len(names) < 2:
        return [], top
    parts = []
    for i in range(len(names)):
        y = top + i * LINE
        x = WIDTH - SWATCH if rtl else 0
        parts.append(f'<rect class="color-{i}" x="{x}" y="{y + 2}" width="{SWATCH}" height="{SWATCH}"/>')
    anchor = ' class="end"' if rtl else ""
    texts = "".join(_text(WIDTH - SWATCH - 4 if rtl else SWATCH + 4, top + i * LINE + 11, name)
                    for i, name in enumerate(names))
    parts.append(f"<g{anchor}>{texts}</g>")
    return parts, top + len(names) * LINE + 6


def _svg(title: str, summary: str, height: int, parts: Sequence[str]) -> Markup:
    head = (f'<svg role="img" focusable="false" direction="ltr" viewBox="0 0 {WIDTH} {round(height)}">'
            f"<title>{escape(title)}</title><desc>{escape(summary)}</desc>")
    # Reviewed (bandit B704): every label, value and name above is escaped; the rest is this module's markup.
    return Markup(head + "".join(parts) + "</svg>")  # noqa: S704  # nosec B704


def horizontal_bars(title: str, summary: str, *, labels: Sequence[str], names: Sequence[str],
                    values: Sequence[Sequence[float]], shown: Callable[[float], str], stacked: bool,
                    rtl: bool) -> Markup:
    """One row per label: the label (beside the bars when labels are short, above them when long), a bar per
    series (or one bar of stacked segments) and the value at its end."""
    parts, top = _legend(names, rtl, 0)
    rows = list(zip(*values, strict=True)) if values else []
    totals = [sum(max(0.0, v) for v in row) if stacked else max([0.0, *row]) for row in rows]
    top_value = max(totals, default=0.0) or 1.0
    texts = [shown(sum(row)) if stacked else "" for row in rows]
    room = max([text_width(shown(v)) for row in rows for v in row] + [text_width(t) for t in texts]) + 6
    widest = max(text_width(label) for label in labels)
    beside = widest <= WIDTH * 0.3
    start = round(widest + 6) if beside else 0
    scale = (WIDTH - start - room) / top_value
    bars: list[list[str]] = [[] for _ in names]
    words: list[str] = []
    label_x = (WIDTH - widest if rtl else widest) if beside else (WIDTH if rtl else 0)
    label_words: list[str] = []
    y = top
    for row_index, (label, row) in enumerate(zip(labels, rows, strict=True)):
        if not beside:
            for line in wrap(label, WIDTH):
                label_words.append(_text(label_x, y + 12, line))
                y += LINE
        else:
            height = BAR if stacked else len(row) * (BAR + 2) - 2
            label_words.append(_text(label_x, y + height / 2 + 4, label))
        offset = start
        for series, value in enumerate(row):
            length = round(max(0.0, value) * scale)
            x = WIDTH - offset - length if rtl else offset
            bars[series].append(f'<rect x="{round(x)}" y="{y}" width="{round(length)}" height="{BAR}"/>')
            if stacked:
                offset += length
            else:
                end = offset + length + 4
                words.append(_text(WIDTH - end if rtl else end, y + 10, shown(value)))
                y += BAR + 2
        if stacked:
            end = offset + 4
            words.append(_text(WIDTH - end if rtl else end, y + 10, texts[row_index]))
            y += BAR + 2
        y += 8
    end_class = ' class="end"'
    label_class = end_class if rtl != beside else ""
    value_class = end_class if rtl else ""
    parts += [f'<g class="color-{i}">{"".join(rects)}</g>' for i, rects in enumerate(bars)]
    parts += [f"<g{label_class}>{''.join(label_words)}</g>", f"<g{value_class}>{''.join(words)}</g>"]
    return _svg(title, summary, y, parts)


def _ticks(low: float, high: float, whole: bool) -> list[float]:
    """About five round steps from below `low` (or 0) to above `high`."""
    low, high = min(0.0, low), max(0.0, high)
    if high == low:
        high = low + 1
    raw = (high - low) / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1, math.ceil(step))
    first, last = math.floor(low / step), math.ceil(high / step)
    return [i * step for i in range(first, last + 1)]


def lines(title: str, summary: str, *, labels: Sequence[str], names: Sequence[str],
          values: Sequence[Sequence[float | None]], shown: Callable[[float], str], whole: bool, rtl: bool) -> Markup:
    """A line per series over the labels (in drawn order, left to right); a None leaves a gap."""
    parts, top = _legend(names, rtl, 0)
    known = [v for series in values for v in series if v is not None]
    ticks = _ticks(min(known, default=0.0), max(known, default=0.0), whole)
    tick_texts = [shown(t) for t in ticks]
    column = max(text_width(t) for t in tick_texts) + 6
    half = max(text_width(label) for label in labels) / 2
    left, right = (half, WIDTH - max(column, half)) if rtl else (max(column, half), WIDTH - half)
    plot_top, plot_height = top + 6, 160
    bottom = plot_top + plot_height
    span = ticks[-1] - ticks[0]

    def y_of(value: float) -> int:
        return round(bottom - (value - ticks[0]) / span * plot_height)

    count = len(labels)
    step = (right - left) / (count - 1) if count > 1 else 0.0

    def x_of(i: int) -> int:
        return round(left + i * step) if count > 1 else round((left + right) / 2)

    guides = "".join(f"M{round(left)} {y_of(t)}H{round(right)}" for t in ticks[1:])
    parts.append(f'<g class="axis"><path class="guide line" d="{guides}"/>'
                 f'<path class="line" d="M{round(left)} {bottom}H{round(right)}"/></g>')
    tick_x = right + 6 if rtl else left - 6
    parts.append(("<g>" if rtl else '<g class="end">')
                 + "".join(_text(tick_x, y_of(t) + 4, text) for t, text in zip(ticks, tick_texts, strict=True))
                 + "</g>")
    for i, series in enumerate(values):
        runs: list[list[tuple[int, float]]] = [[]]
        for j, value in enumerate(series):
            if value is None:
                runs.append([])
            else:
                runs[-1].append((j, value))
        path = "".join("M" + "L".join(f"{x_of(j)} {y_of(v)}" for j, v in run) for run in runs if len(run) > 1)
        dots = "".join(f'<circle cx="{x_of(j)}" cy="{y_of(v)}" r="3"/>' for run in runs if len(run) == 1
                       for j, v in run)
        parts.append(f'<path class="line color-{i}" d="{path}"/>' if path else "")
        parts.append(f'<g class="color-{i}">{dots}</g>' if dots else "")
    parts.append(f'<g class="mid">{_x_labels(labels, x_of, step, bottom + 16)}</g>')
    return _svg(title, summary, bottom + 22, parts)


def _x_labels(labels: Sequence[str], x_of: Callable[[int], int], step: float, y: int) -> str:
    """Every k-th label, as many as fit side by side; the first and the last always."""
    need = max(text_width(label) for label in labels) + 8
    every = max(1, math.ceil(need / step)) if step else 1
    last = len(labels) - 1
    picked = [i for i in range(0, last + 1, every) if i == 0 or last - i >= every]
    if last not in picked:
        picked.append(last)
    return "".join(_text(x_of(i), y, labels[i]) for i in picked)
