"""The four status tables of grants: every move they allow is made (by the table and by the service
that makes it in production), and a move outside them is refused with a Conflict (409 in the API)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from facility.accounts.models import OrgKind
from facility.core.errors import Conflict
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import contributions, milestones, tranches
from facility.grants.models import (
    CONTRIBUTION_TRANSITIONS,
    GRANT_TRANSITIONS,
    REPORT_TRANSITIONS,
    TRANCHE_TRANSITIONS,
    ContributionStatus,
    GrantStatus,
    ReportStatus,
    TrancheStatus,
)
from tests.factories.grants import NO_SPENDING

TABLES = {
    "contribution": CONTRIBUTION_TRANSITIONS,
    "grant": GRANT_TRANSITIONS,
    "tranche": TRANCHE_TRANSITIONS,
    "report": REPORT_TRANSITIONS,
}


def _allowed():
    return [pytest.param(table, before, after, id=f"{name}:{before.value}->{after.value}")
            for name, table in TABLES.items() for before, after in table.pairs()]


def _refused():
    return [pytest.param(table, before, after, id=f"{name}:{before.value}->{after.value}")
            for name, table in TABLES.items() for before in table.enum_class for after in table.enum_class
            if not table.allows(before, after)]


@pytest.mark.parametrize(("table", "before", "after"), _allowed())
def test_every_allowed_move_is_made_and_returns_what_it_replaced(table, before, after):
    row = SimpleNamespace(status=before)
    assert table.move(row, after) is before
    assert row.status is after


@pytest.mark.parametrize(("table", "before", "after"), _refused())
def test_every_move_outside_the_table_is_refused(table, before, after):
    row = SimpleNamespace(status=before)
    with pytest.raises(Conflict):
        table.move(row, after)
    assert row.status is before


def test_every_table_has_an_allowed_and_a_refused_move():
    for table in TABLES.values():
        assert any(True for _ in table.pairs())
        assert any(not table.allows(a, b) for a in table.enum_class for b in table.enum_class)


# --- the services make the moves -----------------------------------------------------------------

@pytest.fixture
def donor(make_user, make_org):
    return make_user("donor", organization=make_org(name="Foundation", kind=OrgKind.DONOR, country="NOR"))


def test_contribution_moves_through_the_services(app, donor, make_user, stripe_on):
    manager = make_user("fund_manager")
    wire = contributions.pledge_contribution(actor=donor, amount_cents=10_000, method="wire")
    contributions.confirm_wire_contribution(contribution=wire, actor=manager, received_cents=10_000,
                                            received_on=utcnow().date(), bank_reference="FT-1")
    assert wire.status is ContributionStatus.RECEIVED  # pledged -> received
    for before in (ContributionStatus.CHECKOUT_OPEN, ContributionStatus.CANCELLED, ContributionStatus.FAILED):
        card = contributions.pledge_contribution(actor=donor, amount_cents=5_000, method="stripe")
        card.status = before  # as a worker or a person would have left it
        db.session.flush()
        contributions.record_card_contribution(checkout_session_id=f"cs_{before.value}", contribution_id=card.id,
                                               amount_cents=5_000)
        assert card.status is ContributionStatus.RECEIVED  # checkout_open/cancelled/failed -> received
    with pytest.raises(Conflict):  # received -> received: a wire is confirmed once
        contributions.confirm_wire_contribution(contribution=wire, actor=manager, received_cents=10_000,
                                                received_on=utcnow().date(), bank_reference="FT-1")


def test_report_and_tranche_moves_through_the_services(app, active_grant):
    grant, manager, grantee = active_grant
    tranche = grant.tranches[0]
    returned = milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="Done", spending=NO_SPENDING)
    assert tranche.status is TrancheStatus.EVIDENCE_SUBMITTED  # pending -> evidence_submitted
    milestones.return_milestone_report(report=returned, actor=manager, comment="Add the photos")
    assert returned.status is ReportStatus.RETURNED  # submitted -> returned
    assert tranche.status is TrancheStatus.PENDING  # evidence_submitted -> pending
    with pytest.raises(Conflict):
        milestones.accept_milestone_report(report=returned, actor=manager)  # returned -> accepted: refused
    report = milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="Done, with photos", spending=NO_SPENDING)
    milestones.accept_milestone_report(report=report, actor=manager)
    assert report.status is ReportStatus.ACCEPTED  # submitted -> accepted
    assert tranche.status is TrancheStatus.ACCEPTED  # evidence_submitted -> accepted

    tranches.start_tranche_payment(tranche=tranche)
    assert tranche.status is TrancheStatus.DISBURSING  # accepted -> disbursing
    tranches.cancel_tranche_payment(tranche=tranche)
    assert tranche.status is TrancheStatus.ACCEPTED  # disbursing -> accepted
    tranches.start_tranche_payment(tranche=tranche)
    assert tranches.mark_tranche_paid(tranche=tranche, actor=manager) is True
    assert tranche.status is TrancheStatus.PAID  # disbursing -> paid
    assert grant.status is GrantStatus.COMPLETED  # active -> completed
    tranches.reopen_paid_tranche(tranche=tranche)
    assert tranche.status is TrancheStatus.DISBURSING  # paid -> disbursing
    assert grant.status is GrantStatus.ACTIVE  # completed -> active
    tranches.cancel_tranche_payment(tranche=tranche)
    with pytest.raises(Conflict):  # accepted -> accepted: nothing is being paid
        tranches.cancel_tranche_payment(tranche=tranche)


