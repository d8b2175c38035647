"""The staff portfolio's charts, built from the pipeline and forecast figures (no query of their own).

Each chart has a translated title, a summary sentence saying what the picture shows, and the
figures as rows (its table and CSV). A chart whose figures are all zero is given no rows, so the
page says "No data yet" instead of drawing an empty picture.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _

from facility.challenges.models import ChallengeStatus
from facility.core.labels import label
from facility.core.templating import money as money_text
from facility.disbursements.models import DisbursementStatus
from facility.grants.models import GrantStatus
from facility.portfolio.charts import Chart, bar_chart, line_chart
from facility.portfolio.forecast import AGE_BUCKETS, NO_DUE_DATE, cumulative
from facility.portfolio.pipeline import Money


def step_label(step: str) -> str:
    """The words for a money step or a funnel step (shared by the page's tables and the charts)."""
    words: dict[str, str] = {
        "raised": _("Raised from donors"), "unallocated": _("Not yet allocated"),
        "allocated": _("In challenge prize pools"), "committed": _("Committed to grants, not yet paid"),
        "disbursed": _("Paid to grantees"), "submitted": _("Submitted"), "eligible": _("Passed eligibility"),
        "reviewed": _("Reviewed (scored)"), "shortlisted": _("Shortlisted"), "awarded": _("Awarded"),
    }
    return words[step]


def month_label(key: str) -> str:
    """"2027-03" as the month's name in the viewer's language; the undated bucket in words."""
    if key == NO_DUE_DATE:
        return str(_("No due date"))
    year, month = (int(part) for part in key.split("-"))
    text = str(format_date(date(year, month, 1), "MMM y"))
    return text


def _nonzero(labels: Sequence[str], *values: Sequence[int]) -> tuple[list[str], list[list[int]]]:
    if not any(v for series in values for v in series):
        return [], [[] for _ in values]
    return list(labels), [list(series) for series in values]


def money_chart(money: Money, *, rtl: bool) -> Chart:
    steps = money.steps()
    labels, (values,) = _nonzero([step_label(s) for s, _v in steps], [v for _s, v in steps])
    summary = _("%(raised)s raised; %(disbursed)s paid to grantees, %(committed)s committed to grants and "
                "%(allocated)s in prize pools; %(unallocated)s not yet allocated.",
                **{step: money_text(cents) for step, cents in steps})
    return bar_chart("money", _("Money at each step"), summary, label_header=_("Step"), labels=labels,
                     series=[(_("Amount (USD)"), values)], rtl=rtl)


def challenges_chart(counts: dict[ChallengeStatus, int], *, rtl: bool) -> Chart:
    labels, (values,) = _nonzero([str(label(s)) for s in counts], list(counts.values()))
    top = max(counts, key=lambda s: counts[s])
    summary = _("%(n)d challenges; the most (%(top_n)d) are %(top)s.", n=sum(counts.values()),
                top_n=counts[top], top=str(label(top)))
    return bar_chart("challenges", _("Challenges by status"), summary, label_header=_("Status"), labels=labels,
                     series=[(_("Challenges"), values)], kind="int", rtl=rtl)


def funnel_chart(funnel: dict[str, int], *, rtl: bool) -> Chart:
    labels, (values,) = _nonzero([step_label(s) for s in funnel], list(funnel.values()))
    summary = _("Of %(submitted)d proposals submitted, %(eligible)d passed eligibility, %(reviewed)d were scored, "
                "%(shortlisted)d shortlisted and %(awarded)d awarded.", **funnel)
    return bar_chart("proposals", _("Proposals at each step"), summary, label_header=_("Step"), labels=labels,
                     series=[(_("Proposals"), values)], kind="int", rtl=rtl)


def grants_chart(grants: dict[GrantStatus, tuple[int, int]], *, rtl: bool) -> Chart:
    labels, (values,) = _nonzero([str(label(s)) for s in grants], [cents for _n, cents in grants.values()])
    summary = _("%(n)d grants worth %(total)s; %(active)d active.", n=sum(n for n, _c in grants.values()),
                total=money_text(sum(c for _n, c in grants.values())), active=grants[GrantStatus.ACTIVE][0])
    return bar_chart("grants", _("Grants by status (amount awarded)"), summary, label_header=_("Status"),
                     labels=labels, series=[(_("Amount (USD)"), values)], rtl=rtl)


def forecast_chart(months: list[tuple[str, int]], unallocated: int, *, rtl: bool) -> Chart:
    due = cumulative(months)
    total = due[-1] if due else 0
    summary = _("%(total)s of unpaid tranches fall due over %(n)d months; the facility holds %(unallocated)s "
                "not yet allocated besides.", total=money_text(total), n=len(months),
                unallocated=money_text(unallocated))
    return line_chart("forecast", _("Committed tranches by month due, against unallocated money"), summary,
                      label_header=_("Month"), labels=[month_label(k) for k, _c in months],
                      series=[(_("Due in the month"), [c for _k, c in months]),
                              (_("Due by the end of the month"), due),
                              (_("Unallocated money"), [unallocated] * len(months))], rtl=rtl)


def payments_chart(waiting: dict[DisbursementStatus, dict[str, tuple[int, int]]], *, rtl: bool) -> Chart:
    statuses = [s for s in waiting if any(n for n, _c in waiting[s].values())]
    labels = [str(b.label) for b in AGE_BUCKETS] if statuses else []
    series = [(str(label(s)), [waiting[s][b.key][0] for b in AGE_BUCKETS] if statuses else []) for s in statuses]
    n = sum(waiting[s][b.key][0] for s in statuses for b in AGE_BUCKETS)
    older = sum(waiting[s][b.key][0] for s in statuses for b in AGE_BUCKETS if b.min_days >= 7)
    summary = _("%(n)d payments wait to be paid; %(older)d of them for 7 days or more.", n=n, older=older)
    return bar_chart("payments", _("Payments waiting, by age and status"), summary, label_header=_("Waiting for"),
                     labels=labels, series=series or [(_("Payments"), [])], kind="int", stacked=True, rtl=rtl)


def portfolio_charts(*, money: Money, challenges: dict[ChallengeStatus, int], funnel: dict[str, int],
                     grants: dict[GrantStatus, tuple[int, int]], months: list[tuple[str, int]],
                     waiting: dict[DisbursementStatus, dict[str, tuple[int, int]]], rtl: bool) -> dict[str, Chart]:
    """Every chart of `/portfolio`, by key (the key of `?chart=<key>&format=csv`)."""
    charts: list[Any] = [money_chart(money, rtl=rtl), challenges_chart(challenges, rtl=rtl),
                         funnel_chart(funnel, rtl=rtl), grants_chart(grants, rtl=rtl),
                         forecast_chart(months, money.unallocated, rtl=rtl), payments_chart(waiting, rtl=rtl)]
    return {chart.key: chart for chart in charts}
