"""The public results page (`/results`) and its charts' data as CSV: no sign-in, nothing private.

The figures come from `portfolio.results`; this module only turns them into translated charts
(`portfolio.charts`) and the page. The filters (`PortfolioFilter`) narrow the engagement and money
figures; a bad filter value is shown as an error on the form and ignored, never a 500.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from facility.challenges.models import FocusArea
from facility.core.labels import label
from facility.core.templating import is_right_to_left, money
from facility.portfolio import results
from facility.portfolio.charts import Chart, bar_chart, line_chart
from facility.portfolio.filters import PortfolioFilter
from facility.portfolio.indicator_results import indicator_results
from facility.portfolio.results import Money, Quarter, Results
from facility.proposals.models import BeneficiaryGroup
from facility.review import appeals

bp = Blueprint("results", __name__)

TARGET_NAMES = {"capital_raised": _l("Capital raised"), "national_governments": _l("National governments"),
                "city_governments": _l("City governments"), "technology_companies": _l("Technology companies")}
SLICE_NAMES = {"small_and_medium_cities": _l("Small and medium-sized cities"),
               "ldc_lldc_sids": _l("Least developed, landlocked developing and small island developing countries"),
               "global_south": _l("The Global South"), "high_climate_risk": _l("Cities with high climate risk"),
               "large_informal_settlements": _l("Cities with large informal settlements")}
RATE_BASES = {"last_four_quarters": _l("the average of the last four complete quarters"),
              "since_start": _l("the average per quarter since the first contribution (this quarter included)"),
              "none": _l("nothing has been raised yet")}


def slice_definitions(figures: Results) -> dict[str, str]:
    """What each priority slice counts, as the page states it."""
    return {
        "small_and_medium_cities": _("Cities of fewer than 1,000,000 inhabitants (the small and medium size classes)."),
        "ldc_lldc_sids": _("Cities in a country on the UN list of least developed countries, landlocked developing "
                           "countries or small island developing States (counted once if on several)."),
        "global_south": _("Cities in a country of the Global South (UN M49: outside Europe, Northern America, "
                          "Australia and New Zealand, Japan, the Republic of Korea and Israel)."),
        "high_climate_risk": _("Cities whose profile states a high climate risk."),
        "large_informal_settlements": _("Cities where at least %(pct)s%% of the people live in informal settlements.",
                                        pct=figures.large_informal_settlements_min_pct),
    }


# --- charts -------------------------------------------------------------------------------------

def quarter_name(quarter: Quarter) -> str:
    """A quarter as people read it, in their language: "Q1 2027"."""
    return _("Q%(number)s %(year)s", number=quarter.number, year=quarter.year)


def _capital_charts(figures: Results, rtl: bool) -> list[Chart]:
    capital = figures.capital
    quarters = [quarter_name(q.quarter) for q in capital.quarters]
    raised = bar_chart(
        "raised", _("Capital raised per quarter"),
        _("%(raised)s raised in %(n)s quarters; %(needed)s is needed per quarter to reach the target by %(date)s.",
          raised=money(capital.raised_cents), n=len(quarters), needed=money(capital.needed_per_quarter_cents),
          date=format_date(capital.target.deadline, "long")),
        label_header=_("Quarter"), labels=quarters, series=[(_("Raised (USD)"), [q.raised_cents for q in capital.quarters])],
        rtl=rtl)
    current = Quarter.of(capital.today)
    past = [q.quarter for q in capital.quarters]
    # The axis runs on to the deadline's quarter; the needed path and the projection are where the
    # money stands at the end of each quarter from this one on (this quarter counted, as in results).
    start = max([current.index, *(q.index for q in past)]) + 1
    future = results.quarters_between(Quarter.from_index(start), Quarter.of(capital.target.deadline)) if past else []
    axis = [*past, *future]
    labels = [quarter_name(q) for q in axis]
    actual: list[int | None] = [*(q.cumulative_cents for q in capital.quarters), *([None] * len(future))]
    ahead = [max(0, q.index - current.index + 1) for q in axis]

    def path(step: int) -> list[int | None]:
        return [None if n == 0 else capital.raised_cents + step * n for n in ahead]

    cumulative = line_chart(
        "cumulative", _("Capital raised against the target"),
        _("%(raised)s raised of %(target)s (%(pct)s%%). At today's rate the facility reaches %(projected)s by "
          "%(date)s.", raised=money(capital.raised_cents), target=money(capital.target.value),
          pct=capital.progress_pct, projected=money(capital.projected_cents), date=format_date(capital.target.deadline, "long")),
        label_header=_("Quarter"), labels=labels,
        series=[(_("Raised, cumulative (USD)"), actual),
                (_("Needed to reach the target on time (USD)"), path(capital.needed_per_quarter_cents)),
                (_("At today's rate (USD)"), path(capital.rate_per_quarter_cents))], rtl=rtl)
    return [raised, cumulative]


def _engagement_chart(figures: Results, rtl: bool) -> Chart:
    names = [str(TARGET_NAMES[e.target.key]) for e in figures.engagement]
    summary = "; ".join(_("%(name)s: %(count)s of %(target)s", name=name, count=e.count, target=e.target.value)
                        for name, e in zip(names, figures.engagement, strict=True))
    return bar_chart("engagement", _("Who is engaged, against the targets"), summary + ".",
                     label_header=_("Engaged"), labels=names, kind="int", rtl=rtl,
                     series=[(_("Engaged"), [e.count for e in figures.engagement]),
                             (_("Target"), [e.target.value for e in figures.engagement])])


def _money_chart(key: str, title: str, rows: list[Money], names: list[str], header: str, rtl: bool) -> Chart:
    """Awarded and disbursed money per row; empty when no grant has been made."""
    shown = [(name, row) for name, row in zip(names, rows, strict=True) if row.grants]
    biggest = max(shown, key=lambda item: item[1].awarded_cents, default=None)
    summary = _("Most money was awarded to %(name)s: %(amount)s (%(pct)s%% of all awarded).",
                name=biggest[0], amount=money(biggest[1].awarded_cents), pct=biggest[1].awarded_pct) if biggest else ""
    return bar_chart(key, title, summary, label_header=header, labels=[name for name, _row in shown], rtl=rtl,
                     series=[(_("Awarded (USD)"), [row.awarded_cents for _name, row in shown]),
                             (_("Disbursed (USD)"), [row.disbursed_cents for _name, row in shown])])


def _policy_chart(figures: Results, rtl: bool) -> Chart:
    rows = figures.by_policy if figures.money.grants else []
    names = [str(SLICE_NAMES[m.key]) for m in rows]
    summary = "; ".join(_("%(name)s: %(awarded)s%% of awarded and %(disbursed)s%% of disbursed money", name=name,
                          awarded=m.awarded_pct, disbursed=m.disbursed_pct) for name, m in zip(names, rows, strict=True))
    return bar_chart("policy", _("Where the money goes: the facility's priorities"), summary + ".",
                     label_header=_("Priority"), labels=names, kind="percent", rtl=rtl,
                     series=[(_("Share of awarded money (%)"), [m.awarded_pct for m in rows]),
                             (_("Share of disbursed money (%)"), [m.disbursed_pct for m in rows])])


def sdg_name(code: str) -> str:
    return _("SDG target %(code)s", code=code)


def build_charts(figures: Results, *, rtl: bool = False) -> dict[str, Chart]:
    """Every chart of the page, by key (the CSV route serves each one's data)."""
    focus = [str(label(FocusArea(m.key))) for m in figures.by_focus_area]
    sdg = [sdg_name(m.key) for m in figures.by_sdg_target]
    groups = [str(label(BeneficiaryGroup(m.key))) for m in figures.by_beneficiary_group]
    charts = [
        *_capital_charts(figures, rtl), _engagement_chart(figures, rtl), _policy_chart(figures, rtl),
        _money_chart("focus_area", _("Money by focus area"), figures.by_focus_area, focus, _("Focus area"), rtl),
        _money_chart("sdg_target", _("Money per SDG 11 target"), figures.by_sdg_target, sdg, _("SDG target"), rtl),
        _money_chart("beneficiary_group", _("Money per beneficiary group"), figures.by_beneficiary_group, groups,
                     _("Beneficiary group"), rtl),
    ]
    return {chart.key: chart for chart in charts}


# --- routes -------------------------------------------------------------------------------------

def _figures() -> tuple[PortfolioFilter, Any, Results]:
    portfolio_filter, form = PortfolioFilter.from_args(request.args)
    return portfolio_filter, form, results.results(portfolio_filter)


@bp.route("/results")
def index() -> str:
    portfolio_filter, form, figures = _figures()
    charts = build_charts(figures, rtl=is_right_to_left())
    filters: dict[str, Any] = portfolio_filter.args()
    csv_urls = {key: url_for("results.chart_csv", key=key, **filters) for key in charts}
    # Appeals are counted facility-wide, like the capital raised (issue 16: "the counts appear in the results
    # framework"); they sit above the filters, which apply to the figures below them.
    return render_template("portfolio/results.html", figures=figures, charts=charts, csv_urls=csv_urls, form=form,
                           appeal_counts=appeals.appeal_counts(), portfolio_filter=portfolio_filter,
                           indicator_results=indicator_results(),
                           target_names=TARGET_NAMES, slice_names=SLICE_NAMES,
                           slice_definitions=slice_definitions(figures), rate_bases=RATE_BASES,
                           sdg_name=sdg_name, format_date=format_date,
                           focus_names={m.key: label(FocusArea(m.key)) for m in figures.by_focus_area},
                           group_names={m.key: label(BeneficiaryGroup(m.key)) for m in figures.by_beneficiary_group})


@bp.route("/results/<key>.csv")
def chart_csv(key: str) -> Any:
    """One chart's data as CSV, with the page's filters."""
    _filter, _form, figures = _figures()
    chart = build_charts(figures).get(key)
    if chart is None:
        abort(404)
    return chart.csv(f"results-{key}.csv")
