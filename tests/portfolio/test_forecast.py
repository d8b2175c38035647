"""The cash forecast: committed tranches by month (summing to the ledger's committed money), overdue
milestones with their grantee, payments waiting by status and age."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from facility.accounts.models import User
from facility.core.models import utcnow
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants import milestones
from facility.ledger.balances import facility_totals
from facility.portfolio import forecast
from facility.portfolio.filters import PortfolioFilter
from tests.factories.grants import NO_SPENDING
from tests.portfolio import staff_scene
from tests.portfolio.staff_scene import FIRST, SECOND, Scene

NONE = PortfolioFilter()


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def test_committed_by_month_sums_to_the_ledgers_committed_money(app, clock):
    scene = Scene(*staff_scene.managers())
    today = utcnow().date()
    staff_scene.add_grant(scene, "paid")  # first tranche paid: only the second is committed
    staff_scene.add_grant(scene, "unpaid", pay="queued", first_due=today + timedelta(days=100))
    months = forecast.committed_by_month(NONE)
    expected: dict[str, int] = {}
    for day, cents in ((today + timedelta(days=40), SECOND), (today + timedelta(days=40), SECOND),
                       (today + timedelta(days=100), FIRST)):
        expected[_month(day)] = expected.get(_month(day), 0) + cents
    assert months == sorted(expected.items())
    assert sum(cents for _m, cents in months) == facility_totals()["committed"] == 2 * SECOND + FIRST
    assert forecast.cumulative(months)[-1] == facility_totals()["committed"]
    assert forecast.committed_by_month(PortfolioFilter(country="FRA")) == []


def test_overdue_milestones_are_late_and_unaccepted(app, clock):
    scene = Scene(*staff_scene.managers())
    today = utcnow().date()
    staff_scene.add_grant(scene, "on-time")  # first tranche due 10 days ago, but accepted and paid
    late = staff_scene.add_grant(scene, "late", accept_first=False, first_due=today - timedelta(days=3),
                                 country="KEN", population=4_500_000)
    staff_scene.add_grant(scene, "not-yet", accept_first=False, first_due=today + timedelta(days=3))
    page = forecast.overdue_milestones(NONE, today, page=1, per_page=10)
    assert [t.id for t in page.items] == [late.tranches[0].id] and page.total == 1
    assert page.items[0].grant.organization.name == late.organization.name
    assert forecast.overdue_milestones(PortfolioFilter(country="UGA"), today, page=1, per_page=10).total == 0
    grantee = db.session.scalars(sa.select(User).where(User.organization_id == late.organization_id)).first()
    report = milestones.submit_milestone_report(tranche=late.tranches[0], actor=grantee, text="Done late.",
                                                spending=NO_SPENDING)
    db.session.commit()
    assert forecast.overdue_milestones(NONE, today, page=1, per_page=10).total == 1  # under review: still late
    milestones.accept_milestone_report(report=report, actor=scene.manager)
    db.session.commit()
    assert forecast.overdue_milestones(NONE, today, page=1, per_page=10).total == 0
    # Fifty days on, every tranche due by then without an accepted report is late (the paid one is not).
    assert forecast.overdue_milestones(NONE, today + timedelta(days=50), page=1, per_page=10).total == 4


def test_payments_waiting_by_status_and_age(app, clock):
    scene = Scene(*staff_scene.managers())
    staff_scene.add_grant(scene, "paid")  # paid: not waiting
    staff_scene.add_grant(scene, "asked", pay="requested")
    clock.shift(days=3)
    staff_scene.add_grant(scene, "queued", pay="queued")
    clock.shift(days=10)
    staff_scene.add_grant(scene, "fresh", pay="requested")
    waiting = forecast.payments_waiting(NONE, utcnow())
    requested = waiting[DisbursementStatus.REQUESTED]
    assert requested["lt2"] == (1, FIRST) and requested["7to30"] == (1, FIRST)
    assert waiting[DisbursementStatus.QUEUED]["7to30"] == (1, FIRST)
    assert DisbursementStatus.PAID not in waiting and DisbursementStatus.CANCELLED not in waiting
    totals = {b.key: (n, cents) for b, n, cents in forecast.waiting_by_age(waiting)}
    assert totals == {"lt2": (1, FIRST), "2to7": (0, 0), "7to30": (2, 2 * FIRST), "gt30": (0, 0)}
    clock.shift(days=30)
    later = forecast.waiting_by_age(forecast.payments_waiting(NONE, utcnow()))
    assert [(b.key, n) for b, n, _c in later] == [("lt2", 0), ("2to7", 0), ("7to30", 0), ("gt30", 3)]
    waiting_ids = db.session.scalars(sa.select(Disbursement.id).where(
        Disbursement.status.in_(forecast.WAITING))).all()
    assert len(waiting_ids) == 3


def test_age_bucket_edges(app, clock):
    scene = Scene(*staff_scene.managers())
    staff_scene.add_grant(scene, "edge", pay="requested")
    clock.shift(days=2)  # exactly two days: no longer "under 2 days"
    keys = {key for key, (n, _c) in forecast.payments_waiting(NONE, utcnow())[DisbursementStatus.REQUESTED].items()
            if n}
    assert keys == {"2to7"}


def test_forecast_query_count_does_not_grow(app, clock, count_queries):
    scene = Scene(*staff_scene.managers())
    today = utcnow().date()
    staff_scene.add_grant(scene, "a", accept_first=False)

    def read() -> None:
        forecast.committed_by_month(NONE)
        forecast.payments_waiting(NONE, utcnow())
        page = forecast.overdue_milestones(NONE, today, page=1, per_page=25)
        shown = [(t.grant.organization.name, t.grant.challenge.title, t.grant.challenge.city.name) for t in page.items]
        assert shown

    with count_queries() as few:
        read()
    for tag in ("b", "c", "d"):
        staff_scene.add_grant(scene, tag, accept_first=False)
        staff_scene.add_grant(scene, tag + "-paying", pay="requested")
    with count_queries() as many:
        read()
    assert few() == many()
