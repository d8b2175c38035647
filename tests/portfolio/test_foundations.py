"""The shared pieces of every export and chart: typed cells, the formula guard, SVG without script,
and the portfolio filter's SQL agreeing with the cities' own facts."""
from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import openpyxl
import sqlalchemy as sa

from facility.cities import countries
from facility.cities.models import City, size_class_for
from facility.core.exports import Column, csv_lines, guard_formula, write_xlsx
from facility.extensions import db
from facility.portfolio.charts import bar_chart, line_chart
from facility.portfolio.filters import SIZE_BOUNDS, PortfolioFilter
from tests import factories

COLUMNS = [Column("name"), Column("amount_usd", "money"), Column("count", "int"),
           Column("due", "date"), Column("at", "datetime")]
ROWS = [("=HYPERLINK(\"x\")", 12345, 3, date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
        ("-0.5", -50, None, None, None)]


def test_formula_guard_only_touches_text_that_a_spreadsheet_would_run():
    assert guard_formula("=1+1") == "'=1+1"
    assert guard_formula("@SUM") == "'@SUM"
    assert guard_formula("Kampala") == "Kampala"


def test_csv_writes_numbers_plainly_and_guards_text():
    lines = "".join(csv_lines(COLUMNS, ROWS)).splitlines()
    assert lines[0] == "name,amount_usd,count,due,at"
    assert lines[1] == '"\'=HYPERLINK(""x"")",123.45,3,2026-01-02,2026-01-02T03:04:00+00:00'
    assert lines[2] == "'-0.5,-0.50,,,"


def test_xlsx_cells_are_numbers_and_dates():
    buffer = io.BytesIO()
    write_xlsx(buffer, COLUMNS, ROWS)
    buffer.seek(0)
    sheet = openpyxl.load_workbook(buffer).active
    first = [cell.value for cell in sheet[2]]
    assert first[0] == "'=HYPERLINK(\"x\")"
    assert first[1] == 123.45 and isinstance(first[1], float)
    assert first[2] == 3
    assert first[3] == datetime(2026, 1, 2) and sheet.cell(2, 4).is_date
    assert [cell.value for cell in sheet[3]][:2] == ["'-0.5", -0.5]


def test_charts_have_no_script_or_style_and_keep_their_data():
    chart = bar_chart("by-area", "Money by area", "Most went to A.", label_header="Area", labels=["A", "B"],
                      series=[("Awarded", [10000, 2500]), ("Paid", [5000, 0])])
    assert "<script" not in chart.svg and "<style" not in chart.svg and 'role="img"' in chart.svg
    assert chart.rows == [("A", 10000, 5000), ("B", 2500, 0)]
    assert [c.kind for c in chart.columns] == ["text", "money", "money"]
    line = line_chart("raised", "Raised", "Up.", label_header="Quarter", labels=["Q1", "Q2"],
                      series=[("Raised", [100, None])], rtl=True)
    ltr = line_chart("raised", "Raised", "Up.", label_header="Quarter", labels=["Q1", "Q2"],
                     series=[("Raised", [100, None])])
    # right to left, time runs from the right: Q2 is drawn first
    assert line.svg.index(">Q2<") < line.svg.index(">Q1<") and ltr.svg.index(">Q1<") < ltr.svg.index(">Q2<")
    assert line.rows == ltr.rows == [("Q1", 100), ("Q2", None)]  # the data keeps its order
    assert bar_chart("e", "Empty", "", label_header="x", labels=[], series=[("a", [])]).is_empty


def test_region_and_group_codes_come_from_the_country_copy():
    assert "UGA" in countries.codes_where(region="Africa") and "FRA" not in countries.codes_where(region="Africa")
    assert "UGA" in countries.codes_where(group="LDC") and "KEN" not in countries.codes_where(group="LDC")
    assert countries.alpha2_of("KEN") == "KE" and countries.region_of("FJI") == "Oceania"


def test_size_bounds_agree_with_the_size_class_rule():
    for size, (low, high) in SIZE_BOUNDS.items():
        assert size_class_for(max(low, 1)) == size
        if high:
            assert size_class_for(high - 1) == size and size_class_for(high) != size


def test_filter_reads_good_values_and_reports_bad_ones(app):
    with app.test_request_context():
        good, form = PortfolioFilter.from_args({"country": "uga", "country_group": "LDC", "sdg_target": "11.2",
                                                "size_class": "small", "focus_area": "inclusive_innovation"})
        assert good.args() == {"country": "UGA", "country_group": "LDC", "sdg_target": "11.2",
                               "size_class": "small", "focus_area": "inclusive_innovation"}
        assert not form.errors
        bad, form = PortfolioFilter.from_args({"country": "XXX", "size_class": "huge", "sdg_target": "99.9"})
        assert not bad.is_active
        assert form.country.errors and form.size_class.errors and form.sdg_target.errors


def test_filter_sql_matches_the_city_facts(app):
    for i, (country, population) in enumerate([("UGA", 400_000), ("FJI", 90_000), ("KEN", 4_500_000),
                                               ("FRA", 2_100_000), ("BGD", 23_000_000), ("BOL", 800_000)]):
        factories.cities.make_city(name=f"City {i}", country=country, population=population)
    with app.app_context():
        cities = db.session.scalars(sa.select(City)).all()
        assert len(cities) == 6
        for group in ("LDC", "SIDS", "global_south"):
            query = PortfolioFilter(country_group=group).apply(sa.select(City.id))
            found = set(db.session.scalars(query))
            expected = {c.id for c in cities if (c.global_south if group == "global_south" else group in c.country_groups)}
            assert found == expected
        for size in SIZE_BOUNDS:
            found = set(db.session.scalars(PortfolioFilter(size_class=size.value).apply(sa.select(City.id))))
            assert found == {c.id for c in cities if c.size_class == size}


def test_count_charts_get_whole_number_ticks():
    """Counts are drawn on whole-number ticks (never 0, 0.5, 1 ... printed as 0, 0, 1 ...) and bars print
    their count."""
    line = line_chart("n", "Grants", "Three.", label_header="Month", labels=["Jan", "Feb"],
                      series=[("Grants", [3, 1])], kind="int")
    ticks = re.findall(r"<text[^>]*>([^<]+)</text>", line.svg.split('<g class="end">', 1)[1].split("</g>", 1)[0])
    assert len(ticks) >= 3
    assert len(ticks) == len(set(ticks)), ticks
    assert all(t.replace(",", "").isdigit() for t in ticks)
    bars = bar_chart("n", "Grants", "Three.", label_header="Area", labels=["A", "B"],
                     series=[("Grants", [3, 1])], kind="int")
    assert re.findall(r">(\d+)</text>", bars.svg) == ["3", "1"]


def assert_time_runs_from_the_right(english: str, arabic: str, key: str) -> None:
    """Chart `key` draws its first and last categories in opposite order in the two pages (its table
    keeps the data's order), and the Arabic page reads right to left."""
    assert 'dir="rtl"' in arabic and 'dir="rtl"' not in english
    for html, forward in ((english, True), (arabic, False)):
        figure = html[html.index(f'id="chart-{key}-title"'):]
        svg, table = figure[:figure.index("</svg>")], figure[figure.index("<tbody>"):figure.index("</tbody>")]
        rows = re.findall(r'<th scope="row">([^<]+)</th>', table)
        assert len(rows) >= 2
        first, last = svg.index(f">{rows[0]}<"), svg.index(f">{rows[-1]}<")
        assert (first < last) == forward, (key, forward)
