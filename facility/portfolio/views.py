"""The staff portfolio: `/portfolio` (pipeline, cash forecast, charts) and its exports.

Every view asks `portfolio.policy` (fund managers, admins and auditors) and takes the one
`PortfolioFilter`; a bad filter value is shown on the form and ignored. `?chart=<key>&format=csv`
gives a chart's data; `/portfolio/exports/<table>.<csv|xlsx>` the export tables.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from facility.core.exports import table_response
from facility.core.inputs import page_arg
from facility.core.models import utcnow
from facility.core.policy import require
from facility.core.templating import is_right_to_left
from facility.portfolio import forecast, pipeline, policy, spreadsheets
from facility.portfolio.charts import Chart
from facility.portfolio.filters import PortfolioFilter
from facility.portfolio.staff_charts import month_label, portfolio_charts, step_label

bp = Blueprint("portfolio", __name__)
PER_PAGE = 25
FORMATS = ("csv", "xlsx")
# The languages written right to left (as the layout's `text_direction`); charts are drawn to match.
EXPORT_LABELS = {"grants": _l("Grants"), "tranches": _l("Tranches (milestone payments)"),
                 "payments": _l("Payments (disbursements)"), "contributions": _l("Contributions"),
                 "proposals": _l("Proposals (submitted)")}


def _me() -> Any:
    return current_user._get_current_object()


@bp.route("/portfolio")
@login_required
def index() -> ResponseReturnValue:
    require(policy.can_view_portfolio(_me()))
    flt, form = PortfolioFilter.from_args(request.args)
    now = utcnow()
    money = pipeline.money_by_step(flt)
    challenges = pipeline.challenges_by_status(flt)
    funnel = pipeline.proposal_funnel(flt)
    grants = pipeline.grants_by_status(flt)
    months = forecast.committed_by_month(flt)
    waiting = forecast.payments_waiting(flt, now)
    charts = portfolio_charts(money=money, challenges=challenges, funnel=funnel, grants=grants, months=months,
                              waiting=waiting, rtl=is_right_to_left())
    wanted = request.args.get("chart", "")
    if wanted:
        chart = charts.get(wanted)
        if chart is None:
            abort(404)
        return chart.csv(f"portfolio-{chart.key}.csv")
    overdue = forecast.overdue_milestones(flt, now.date(), page=page_arg(), per_page=PER_PAGE)
    return render_template(
        "portfolio/index.html", form=form, flt=flt, money=money, challenges=challenges, funnel=funnel,
        grants=grants, months=months, cumulative=forecast.cumulative(months), waiting=waiting,
        by_age=forecast.waiting_by_age(waiting), age_buckets=forecast.AGE_BUCKETS, overdue=overdue,
        today=now.date(), charts=charts, chart_url=lambda c: _chart_url(c, flt), tables=spreadsheets.TABLES,
        step_label=step_label, month_label=month_label, export_label=EXPORT_LABELS.get)


def _chart_url(chart: Chart, flt: PortfolioFilter) -> str:
    args: dict[str, Any] = {"chart": chart.key, "format": "csv", **flt.args()}
    return url_for("portfolio.index", **args)


@bp.route("/portfolio/exports/<table>.<fmt>")
@login_required
def export(table: str, fmt: str) -> ResponseReturnValue:
    require(policy.can_export_portfolio(_me()))
    found = spreadsheets.TABLES.get(table)
    if found is None or fmt not in FORMATS:
        abort(404)
    flt, _form = PortfolioFilter.from_args(request.args)  # bad values are ignored, as on the page
    basename = f"portfolio-{found.key}-{utcnow():%Y%m%d}"
    extra: dict[str, Any] = {"sheet": found.key} if fmt == "xlsx" else {}
    return table_response(fmt, found.columns, spreadsheets.rows(found, flt), basename, **extra)
