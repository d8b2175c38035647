"""The charts' SVG is light (issue 14: a first visit fits in 14 KB, charts included) and still says what it shows."""
import re

from facility.portfolio.charts import bar_chart, line_chart

LONG = "Least developed, landlocked developing and small island developing countries"


def _numbers(svg: str) -> list[str]:
    return re.findall(r'(?:x|y|width|height|cx|cy)="([^"]+)"', svg) + re.findall(r'd="([^"]+)"', svg)


def test_a_chart_is_a_titled_image_of_whole_numbers_without_inline_style():
    chart = bar_chart("area", "Money by area", "Most went to A.", label_header="Area", labels=["A", LONG],
                      series=[("Awarded", [1_234_567, 2500]), ("Paid", [5000, 0])])
    svg = str(chart.svg)
    assert svg.startswith('<svg role="img"') and "<title>Money by area</title><desc>Most went to A.</desc>" in svg
    assert "style=" not in svg and "<script" not in svg and "<style" not in svg
    assert all(re.fullmatch(r"[-\d MLH]+", value) for value in _numbers(svg)), _numbers(svg)
    # one rect per bar and one per legend swatch, the bars of a series in one coloured group
    assert svg.count("<rect") == 4 + 2 and svg.count('<g class="color-0">') == svg.count('<g class="color-1">') == 1
    # a long label is wrapped, not cut: every word of it is on the picture
    assert all(word in svg for word in LONG.split())
    assert ">12.3K<" in svg  # the value at the end of its bar, short


def test_labels_and_values_are_escaped():
    chart = bar_chart("x", "<b>T</b>", "S & s", label_header="L", labels=["<i>a</i>"], series=[("<s>", [1])])
    svg = str(chart.svg)
    assert "<i>" not in svg and "&lt;i&gt;a&lt;/i&gt;" in svg and "&lt;b&gt;T&lt;/b&gt;" in svg and "S &amp; s" in svg


def test_right_to_left_bars_grow_from_the_right():
    def first_bar(rtl: bool) -> tuple[int, int]:
        svg = str(bar_chart("x", "T", "S", label_header="L", labels=["Short"], series=[("A", [100])], rtl=rtl).svg)
        x, width = re.search(r'<g class="color-0"><rect x="(\d+)" y="\d+" width="(\d+)"', svg).groups()
        return int(x), int(width)

    ltr_x, ltr_width = first_bar(False)
    rtl_x, rtl_width = first_bar(True)
    assert ltr_width == rtl_width > 100
    assert 0 < ltr_x < 100 and rtl_x + rtl_width == 360 - ltr_x  # the label column on the other side


def test_a_long_time_axis_shows_the_labels_that_fit_the_first_and_last_always():
    labels = [f"Q{q} {year}" for year in range(2025, 2031) for q in range(1, 5)]
    chart = line_chart("c", "Raised", "Up.", label_header="Quarter", labels=labels,
                       series=[("Raised", list(range(len(labels))))])
    shown = re.findall(r">(Q\d \d{4})<", str(chart.svg))
    assert shown[0] == labels[0] and shown[-1] == labels[-1] and 3 <= len(shown) < len(labels)
    # one path per line and one for all the guides, however many points
    assert str(chart.svg).count("<path") == 3


def test_a_gap_in_a_line_starts_a_new_stroke_and_a_lone_point_is_a_dot():
    chart = line_chart("c", "Raised", "Up.", label_header="Quarter", labels=["a", "b", "c", "d", "e"],
                       series=[("Raised", [100, 200, None, 300, None])])
    path = re.search(r'<path class="line color-0" d="([^"]+)"', str(chart.svg)).group(1)
    assert path.count("M") == 1 and path.count("L") == 1
    assert str(chart.svg).count("<circle") == 1
