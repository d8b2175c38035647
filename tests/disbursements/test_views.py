"""Disbursement pages: request, four-eyes approval, manual confirmation, cancel, re-queue, queue, permissions."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind
from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementApproval, DisbursementStatus
from facility.extensions import db
from facility.grants import payouts
from facility.grants.models import Grant, GrantStatus, TrancheStatus
from facility.queue import get_queue
from tests.conftest import PASSWORD, get_csrf

S = DisbursementStatus


def _fresh(disbursement_id: int) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement_id)


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Disbursement.id)))


@pytest.fixture
def requested(payable):
    """A disbursement of the first tranche, requested by the first fund manager."""

    def _make(**options):
        grant, requester, approver, grantee = payable(**options)
        d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
        db.session.commit()
        return d, grant, requester, approver, grantee

    return _make


def _approve(d, approver):
    requests.approve_disbursement(disbursement=_fresh(d.id), actor=approver)
    db.session.commit()


def _html(response) -> str:
    return response.get_data(as_text=True)


# --- request and approve --------------------------------------------------------------

def test_fund_managers_request_from_the_grant_page_and_another_approves(payable, signed_in, run_jobs):
    grant, requester, approver, grantee = payable()
    first, second = grant.tranches
    ana = signed_in(requester)
    page = _html(ana.get(f"/grants/{grant.id}"))
    assert "Request payment of tranche 1 (USD 10,000.00)" in page
    assert "Request payment of tranche 2" not in page  # its evidence is not accepted
    assert f'action="/tranches/{first.id}/disbursements"' in page
    assert f'action="/tranches/{second.id}/disbursements"' not in page

    token = get_csrf(ana, f"/grants/{grant.id}")
    response = ana.post(f"/tranches/{first.id}/disbursements", data={"csrf_token": token})
    d = db.session.execute(sa.select(Disbursement)).scalar_one()
    assert response.status_code == 302 and response.location.endswith(f"/disbursements/{d.id}")
    assert (d.status, d.requested_by_id, d.amount_cents) == (S.REQUESTED, requester.id, 1_000_000)
    page = _html(ana.get(response.location))
    assert "Another fund manager must approve it" in page
    assert "You requested this payment; another fund manager must approve it." in page
    assert f'href="/disbursements/{d.id}/approve"' not in page
    assert "Request payment of tranche 1" not in _html(ana.get(f"/grants/{grant.id}"))

    # The requester's own POST is refused with a message, and nothing changes.
    refused = ana.post(f"/disbursements/{d.id}/approve", data={"csrf_token": token})
    assert refused.status_code == 302 and refused.location.endswith(f"/disbursements/{d.id}")
    assert "another fund manager must approve it" in _html(ana.get(refused.location))
    assert _fresh(d.id).status is S.REQUESTED
    assert db.session.scalar(sa.select(sa.func.count(DisbursementApproval.id))) == 0
    # Asking again for the same tranche is refused with a message, not a second disbursement.
    again = ana.post(f"/tranches/{first.id}/disbursements", data={"csrf_token": token})
    assert again.status_code == 302 and again.location.endswith(f"/grants/{grant.id}")
    assert "cannot be paid now" in _html(ana.get(again.location))
    assert _count() == 1
    assert len(get_queue("payments")) == 0

    ben = signed_in(approver)
    page = _html(ben.get(f"/disbursements/{d.id}"))
    assert f'href="/disbursements/{d.id}/approve"' in page and "Approve payment of USD 10,000.00" in page
    response = ben.post(f"/disbursements/{d.id}/approve", data={"csrf_token": get_csrf(ben, f"/disbursements/{d.id}")})
    assert response.status_code == 302
    assert "Approved." in _html(ben.get(response.location))
    assert _fresh(d.id).status is S.QUEUED and len(get_queue("payments")) == 1
    run_jobs()
    assert _fresh(d.id).status is S.PAID
    page = _html(ben.get(f"/disbursements/{d.id}"))
    assert _fresh(d.id).provider_reference in page and "Paid" in page


def test_request_button_only_for_accepted_tranches_of_active_grants(payable, signed_in, make_user):
    grant, requester, _, grantee = payable(accept=())
    ana = signed_in(requester)
    assert "Request payment" not in _html(ana.get(f"/grants/{grant.id}"))
    other, *_ = payable()
    assert "Request payment of tranche 1" in _html(ana.get(f"/grants/{other.id}"))
    db.session.execute(sa.update(Grant).where(Grant.id == other.id).values(status=GrantStatus.CANCELLED))
    db.session.commit()
    assert "Request payment" not in _html(ana.get(f"/grants/{other.id}"))
    token = get_csrf(ana, f"/grants/{other.id}")
    response = ana.post(f"/tranches/{other.tranches[0].id}/disbursements", data={"csrf_token": token})
    assert response.status_code == 302
    assert "active grant" in _html(ana.get(response.location))
    assert _count() == 0


# --- the manual rail -------------------------------------------------------------------

def test_manual_rail_instruction_and_confirmation(requested, signed_in, run_jobs, make_user):
    d, grant, requester, approver, grantee = requested(rail="manual")
    _approve(d, approver)
    run_jobs()
    assert _fresh(d.id).status is S.AWAITING_CONFIRMATION
    ana = signed_in(make_user("fund_manager"))  # neither requester nor approver (policy.can_confirm)
    page = _html(ana.get(f"/disbursements/{d.id}"))
    assert "Payment instruction for the finance team" in page
    assert "•••• 5432" in page and "GB82WEST12345698765432" not in page
    assert "Dutch-Bangla Bank" in page and f"UIF-G-{grant.id:06d}-T1" in page
    assert "USD 10,000.00" in page and "USD 10,000.00 USD" not in page
    assert f'action="/disbursements/{d.id}/confirm"' in page

    token = get_csrf(ana, f"/disbursements/{d.id}")
    for bad, message in (("", "Give the bank's reference."), ("   ", "Give the bank's reference."),
                         ("X" * 121, "120")):
        response = ana.post(f"/disbursements/{d.id}/confirm",
                            data={"confirm-bank_reference": bad, "confirm-csrf_token": token})
        assert response.status_code == 422, bad
        assert message in _html(response) and "Payment instruction for the finance team" in _html(response)
        assert _fresh(d.id).status is S.AWAITING_CONFIRMATION and _fresh(d.id).bank_reference is None
    response = ana.post(f"/disbursements/{d.id}/fail", data={"fail-reason": "", "fail-csrf_token": token})
    assert response.status_code == 422 and "Say why." in _html(response)
    assert _fresh(d.id).status is S.AWAITING_CONFIRMATION

    response = ana.post(f"/disbursements/{d.id}/confirm",
                        data={"confirm-bank_reference": "FT2611230042", "confirm-csrf_token": token})
    assert response.status_code == 302
    d = _fresh(d.id)
    assert (d.status, d.bank_reference) == (S.PAID, "FT2611230042")
    page = _html(ana.get(f"/disbursements/{d.id}"))
    assert "FT2611230042" in page and "Payment instruction for the finance team" not in page
    # Confirming twice is refused and books nothing more.
    again = ana.post(f"/disbursements/{d.id}/confirm",
                     data={"confirm-bank_reference": "FT-other", "confirm-csrf_token": token})
    assert again.status_code == 302 and "not awaiting a bank confirmation" in _html(ana.get(again.location))
    assert _fresh(d.id).bank_reference == "FT2611230042"


def test_grantee_sees_no_payment_instruction(requested, signed_in, run_jobs):
    d, grant, requester, approver, grantee = requested(rail="manual")
    _approve(d, approver)
    run_jobs()
    page = _html(signed_in(grantee).get(f"/disbursements/{d.id}"))
    assert "Awaiting bank confirmation" in page
    assert "Payment instruction" not in page and "•••• 5432" not in page and "<form method=\"post\" action=\"/dis" not in page


def test_manual_payment_marked_failed_is_requeued(requested, signed_in, run_jobs):
    d, grant, requester, approver, grantee = requested(rail="manual")
    _approve(d, approver)
    run_jobs()
    ben = signed_in(approver)
    token = get_csrf(ben, f"/disbursements/{d.id}")
    response = ben.post(f"/disbursements/{d.id}/fail", data={"fail-reason": "Account closed", "fail-csrf_token": token})
    assert response.status_code == 302
    assert _fresh(d.id).status is S.FAILED
    page = _html(ben.get(f"/disbursements/{d.id}"))
    assert "Account closed" in page and f'action="/disbursements/{d.id}/requeue"' in page
    assert ben.post(f"/disbursements/{d.id}/requeue", data={"csrf_token": token}).status_code == 302
    assert _fresh(d.id).status is S.QUEUED
    run_jobs()
    assert _fresh(d.id).status is S.AWAITING_CONFIRMATION


# --- cancel and re-queue --------------------------------------------------------------------

def test_cancel_needs_a_reason_and_frees_the_tranche(requested, signed_in):
    d, grant, requester, approver, grantee = requested()
    ben = signed_in(approver)
    page = _html(ben.get(f"/disbursements/{d.id}"))
    assert f'href="/disbursements/{d.id}/cancel"' in page
    token = get_csrf(ben, f"/disbursements/{d.id}")
    for reason in ("", "   "):
        response = ben.post(f"/disbursements/{d.id}/cancel", data={"cancel-reason": reason, "cancel-csrf_token": token})
        assert response.status_code == 422 and "Say why." in _html(response)
        assert _fresh(d.id).status is S.REQUESTED
    response = ben.post(f"/disbursements/{d.id}/cancel",
                        data={"cancel-reason": "Wrong tranche", "cancel-csrf_token": token})
    assert response.status_code == 302
    d = _fresh(d.id)
    assert d.status is S.CANCELLED and d.tranche.status is TrancheStatus.ACCEPTED
    page = _html(ben.get(f"/disbursements/{d.id}"))
    assert "Wrong tranche" in page and f'href="/disbursements/{d.id}/cancel"' not in page
    assert "Request payment of tranche 1" in _html(ben.get(f"/grants/{grant.id}"))
    # Cancelling a cancelled one is refused on the form.
    again = ben.post(f"/disbursements/{d.id}/cancel", data={"cancel-reason": "again", "cancel-csrf_token": token})
    assert again.status_code == 302 and "can no longer be cancelled" in _html(ben.get(again.location))


def test_a_declined_transfer_is_requeued_from_its_page(requested, signed_in, run_jobs, fake_stripe):
    d, grant, requester, approver, grantee = requested(stripe_account="acct_1Declined00")
    _approve(d, approver)
    run_jobs()
    assert _fresh(d.id).status is S.FAILED
    ana = signed_in(requester)
    page = _html(ana.get(f"/disbursements/{d.id}"))
    assert "Last problem" in page and "capabilities" in page
    assert f'action="/disbursements/{d.id}/requeue"' in page
    payouts.set_payout_account(grant=db.session.get(Grant, grant.id), actor=grantee, rail="stripe",
                              stripe_account_id="acct_1Grantee02", confirm_password=PASSWORD)
    db.session.commit()
    token = get_csrf(ana, f"/disbursements/{d.id}")
    response = ana.post(f"/disbursements/{d.id}/requeue", data={"csrf_token": token})
    assert response.status_code == 302 and "Queued for payment again." in _html(ana.get(response.location))
    assert _fresh(d.id).status is S.QUEUED
    run_jobs()
    assert _fresh(d.id).status is S.PAID
    [transfer] = fake_stripe.transfers.values()
    assert transfer["destination"] == "acct_1Grantee02"
    # A paid one cannot be re-queued: a message, no change.
    response = ana.post(f"/disbursements/{d.id}/requeue", data={"csrf_token": token})
    assert response.status_code == 302 and "Only a failed disbursement" in _html(ana.get(response.location))
    assert _fresh(d.id).status is S.PAID


# --- what the grantee sees -------------------------------------------------------------------

def test_grantee_sees_the_timeline_but_no_actions(requested, signed_in, run_jobs):
    d, grant, requester, approver, grantee = requested()
    _approve(d, approver)
    run_jobs()
    client = signed_in(grantee)
    page = _html(client.get(f"/grants/{grant.id}"))
    assert "Payments" in page and f'href="/disbursements/{d.id}"' in page
    assert "Payment requested." in page and "Approved; queued for payment." in page
    assert page.count("(by a fund manager)") == 2
    assert "Paid" in page and "Request payment" not in page
    page = _html(client.get(f"/disbursements/{d.id}"))
    assert "History" in page and "Payment requested." in page and "Stripe transfer" in page
    for action in ("approve", "requeue", "cancel", "confirm", "fail"):
        assert f'/disbursements/{d.id}/{action}"' not in page
    # Staff are shown by role to the grantee (issue 12); names are for staff and auditors.
    assert "Ben Approver" not in page and "Ana Requester" not in page
    assert "Actions" not in page


# --- the queue and the dashboard ---------------------------------------------------------------

def test_queue_filters_and_pages(requested, signed_in, monkeypatch, run_jobs):
    from facility.disbursements import views

    first, grant, requester, approver, _ = requested()
    second = requested()[0]
    third = requested()[0]
    _approve(second, approver)  # queued: not "needing attention"
    requests.cancel_disbursement(disbursement=_fresh(third.id), actor=approver, reason="No")
    db.session.commit()
    client = signed_in(requester)

    def ids(html: str) -> set[int]:
        return {d.id for d in (first, second, third) if f'href="/disbursements/{d.id}"' in html}

    page = client.get("/disbursements")
    assert page.status_code == 200 and ids(_html(page)) == {first.id}
    assert ids(_html(client.get("/disbursements?status=queued"))) == {second.id}
    assert ids(_html(client.get("/disbursements?status=cancelled"))) == {third.id}
    assert ids(_html(client.get("/disbursements?status=all"))) == {first.id, second.id, third.id}
    assert ids(_html(client.get("/disbursements?status=nonsense"))) == {first.id}
    assert "Nothing here." in _html(client.get("/disbursements?status=paid"))

    monkeypatch.setattr(views, "PER_PAGE", 2)
    one = _html(client.get("/disbursements?status=all"))
    assert ids(one) == {third.id, second.id} and "Page 1 of 2" in one
    assert 'href="/disbursements?status=all&amp;page=2"' in one
    two = _html(client.get("/disbursements?status=all&page=2"))
    assert ids(two) == {first.id} and "Page 2 of 2" in two
    assert client.get("/disbursements?page=99").status_code == 200


def test_queue_query_count_does_not_grow(requested, signed_in, count_queries):
    _, _, requester, _, _ = requested()
    requested()
    client = signed_in(requester)
    with count_queries() as few:
        assert client.get("/disbursements?status=all").status_code == 200
    for _ in range(5):
        requested()
    with count_queries() as many:
        page = client.get("/disbursements?status=all")
    assert page.status_code == 200 and _html(page).count('href="/disbursements/') == 7
    assert many() == few()


def test_grant_page_query_count_does_not_grow_with_disbursements(payable, signed_in, count_queries):
    grant, requester, approver, _ = payable(amounts=(100_000,) * 6, accept=(1, 2, 3, 4, 5, 6))
    requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    client = signed_in(requester)
    with count_queries() as few:
        assert client.get(f"/grants/{grant.id}").status_code == 200
    for tranche in grant.tranches[1:]:
        d = requests.request_disbursement(tranche=tranche, actor=requester)
        db.session.commit()
        _approve(d, approver)
    with count_queries() as many:
        assert client.get(f"/grants/{grant.id}").status_code == 200
    assert many() == few()


def test_dashboard_panel_for_fund_managers(requested, signed_in, run_jobs):
    d, grant, requester, approver, grantee = requested()
    requested(stripe_account="acct_1Declined00")
    failing = db.session.execute(sa.select(Disbursement).order_by(Disbursement.id.desc())).scalars().first()
    _approve(failing, approver)
    run_jobs()
    page = _html(signed_in(requester).get("/dashboard"))
    # The requester's own request is not theirs to approve; the failure is everyone's to handle.
    assert "Disbursements to approve: <strong>0</strong>" in page and "Failed payments: <strong>1</strong>" in page
    assert f'href="/disbursements/{failing.id}">Failed payments' in page
    assert 'href="/disbursements?status=all"' in page
    page = _html(signed_in(approver).get("/dashboard"))
    assert f'href="/disbursements/{d.id}">Disbursements to approve: <strong>1</strong>' in page
    assert "Disbursements to approve" not in _html(signed_in(grantee).get("/dashboard"))


# --- who may do what -----------------------------------------------------------------------

POST_DATA = {"cancel-reason": "Because", "fail-reason": "Because", "confirm-bank_reference": "FT1"}


def _posts(d, tranche_id) -> list[tuple[str, dict]]:
    return [(f"/tranches/{tranche_id}/disbursements", {}), (f"/disbursements/{d.id}/approve", {}),
            (f"/disbursements/{d.id}/requeue", {}),
            (f"/disbursements/{d.id}/cancel", {"cancel-reason": "Because"}),
            (f"/disbursements/{d.id}/confirm", {"confirm-bank_reference": "FT1"}),
            (f"/disbursements/{d.id}/fail", {"fail-reason": "Because"})]


def _with_token(data: dict, token: str) -> dict:
    tokens = {"csrf_token": token, "cancel-csrf_token": token, "confirm-csrf_token": token,
              "fail-csrf_token": token}
    return {**data, **tokens}


def _unchanged(d, before_status, before_events):
    d = _fresh(d.id)
    assert d.status is before_status and len(d.events) == before_events
    assert _count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(requested, client):
    d, grant, *_ = requested()
    second = grant.tranches[1]
    for path in ("/disbursements", f"/disbursements/{d.id}"):
        response = client.get(path)
        assert response.status_code == 302 and "/signin" in response.location, path
    token = get_csrf(client, "/signin")
    for path, data in _posts(d, second.id):
        response = client.post(path, data=_with_token(data, token))
        assert response.status_code == 302 and "/signin" in response.location, path
    _unchanged(d, S.REQUESTED, 1)


@pytest.mark.parametrize("who", ["grantee", "other_innovator", "city_official", "reviewer", "donor", "admin"])
def test_permission_matrix_for_pages(requested, signed_in, make_user, make_org, who):
    d, grant, requester, approver, grantee = requested(rail="manual")
    users = {
        "grantee": grantee,
        "other_innovator": lambda: make_user("innovator", organization=make_org(name="Elsewhere")),
        "city_official": lambda: make_user("city_official", organization=make_org(name="A city", kind=OrgKind.CITY)),
        "reviewer": lambda: make_user("reviewer"),
        "donor": lambda: make_user("donor", organization=make_org(name="A donor", kind=OrgKind.DONOR)),
        "admin": lambda: make_user("admin"),
    }
    user = users[who] if who == "grantee" else users[who]()
    client = signed_in(user)
    # (queue, disbursement page, actions, grant page) per kind of user; a grant's page is public (the
    # public view for others, without its disbursements: checked below)
    expected = {
        "grantee": (403, 200, 403, 200),
        "other_innovator": (403, 404, 404, 200),
        "city_official": (403, 404, 404, 200),
        "reviewer": (403, 404, 404, 200),
        "donor": (403, 404, 404, 200),
        "admin": (200, 200, 403, 200),
    }[who]
    assert client.get("/disbursements").status_code == expected[0]
    assert client.get(f"/disbursements/{d.id}").status_code == expected[1]
    token = get_csrf(client, "/dashboard")
    for path, data in _posts(d, grant.tranches[1].id):
        # Tranche 2 has no accepted evidence, but who may ask is checked first.
        assert client.post(path, data=_with_token(data, token)).status_code == expected[2], path
    page = client.get(f"/grants/{grant.id}")
    assert page.status_code == expected[3]
    assert (f"/disbursements/{d.id}" in page.get_data(as_text=True)) == (expected[1] == 200)
    _unchanged(d, S.REQUESTED, 1)


def test_page_posts_need_the_csrf_token(requested, signed_in, payable):
    d, grant, requester, approver, grantee = requested()
    ben = signed_in(approver)
    for path, data in _posts(d, grant.tranches[1].id):
        response = ben.post(path, data=data)
        assert response.status_code == 400, path
        response = ben.post(path, data=_with_token(data, "not-the-token"))
        assert response.status_code == 400, path
    _unchanged(d, S.REQUESTED, 1)
    assert db.session.scalar(sa.select(sa.func.count(DisbursementApproval.id))) == 0


def test_unknown_disbursement_is_404(signed_in, make_user):
    client = signed_in(make_user("fund_manager"))
    assert client.get("/disbursements/999999").status_code == 404
    token = get_csrf(client, "/dashboard")
    assert client.post("/disbursements/999999/approve", data={"csrf_token": token}).status_code == 404
    assert client.post("/tranches/999999/disbursements", data={"csrf_token": token}).status_code == 404
