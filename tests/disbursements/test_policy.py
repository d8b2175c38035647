"""Who may approve this disbursement, and when? `policy.can_approve` answers, for the page, the API and the service."""
from __future__ import annotations

import pytest

from facility.core.errors import Conflict
from facility.core.policy import conflict
from facility.disbursements import policy, requests
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from tests.conftest import get_csrf

S = DisbursementStatus


def _fresh(disbursement_id: int) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement_id)


def test_can_approve_role_person_and_state(payable, make_user, two_approvals_above_usd_5000):
    grant, requester, approver, grantee = payable()
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    assert policy.can_approve(approver, d) is None
    assert policy.can_approve(grantee, d).error.status == 403
    assert policy.can_approve(make_user("admin"), d).error.status == 403
    refusal = policy.can_approve(requester, d)
    assert refusal.error.status == 403 and "another fund manager" in refusal.reason
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    assert policy.can_approve(approver, _fresh(d.id)).error.status == 409  # one person approves once
    requests.approve_disbursement(disbursement=_fresh(d.id), actor=make_user("fund_manager"))
    db.session.commit()
    refusal = policy.can_approve(make_user("fund_manager"), _fresh(d.id))
    assert refusal.error.status == 409 and "Queued for payment" in refusal.reason  # its label, not "queued"


def test_page_api_and_service_all_ask_can_approve(payable, monkeypatch, signed_in, api_headers, client):
    grant, requester, approver, _ = payable()
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    monkeypatch.setattr(policy, "can_approve", lambda user, disbursement: conflict("Payments are paused today."))

    page = signed_in(approver)
    assert "Approve payment of" not in page.get(f"/disbursements/{d.id}").get_data(as_text=True)
    response = page.post(f"/disbursements/{d.id}/approve", data={"csrf_token": get_csrf(page, f"/disbursements/{d.id}")})
    assert "Payments are paused today." in page.get(response.location).get_data(as_text=True)
    api = client.post(f"/api/v1/disbursements/{d.id}/approve", headers=api_headers(approver))
    assert api.status_code == 409 and api.json["detail"] == "Payments are paused today."
    with pytest.raises(Conflict, match="paused"):
        requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.rollback()
    assert _fresh(d.id).status is S.REQUESTED and _fresh(d.id).approvals == []
