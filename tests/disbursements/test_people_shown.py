"""Finding: grantees' payment timelines showed staff names and ids. The grantee reads "a fund manager";
staff and auditors still see who (accounts.policy.shown_name)."""
from __future__ import annotations

from facility.disbursements import requests
from facility.extensions import db


def _paid_timeline(payable, run_jobs):
    grant, requester, approver, grantee = payable()
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    return d, grant, requester, approver, grantee


def _traces(*staff) -> list[str]:
    traces = []
    for person in staff:
        traces += [person.name, person.email]
    return traces


def test_the_grantee_sees_roles_on_pages_and_in_the_api(payable, run_jobs, signed_in, api_headers):
    d, grant, requester, approver, grantee = _paid_timeline(payable, run_jobs)
    client = signed_in(grantee)
    for path in (f"/grants/{grant.id}", f"/disbursements/{d.id}"):
        html = client.get(path).get_data(as_text=True)
        for trace in _traces(requester, approver):
            assert trace not in html, (path, trace)
        assert "by a fund manager" in html
    headers = api_headers(grantee)
    body = client.get(f"/api/v1/disbursements/{d.id}", headers=headers).get_json()
    assert body["requested_by_id"] is None and all(a["approver_id"] is None for a in body["approvals"])
    assert {e["by"] for e in body["history"]} <= {"a fund manager", None}
    grant_body = client.get(f"/api/v1/grants/{grant.id}", headers=headers).get_data(as_text=True)
    for text in (client.get(f"/api/v1/disbursements/{d.id}", headers=headers).get_data(as_text=True), grant_body):
        for trace in _traces(requester, approver):
            assert trace not in text


def test_staff_and_auditors_still_see_who(payable, run_jobs, signed_in, api_headers, make_user):
    d, grant, requester, approver, grantee = _paid_timeline(payable, run_jobs)
    for viewer in (approver, make_user("auditor")):
        client = signed_in(viewer)
        html = client.get(f"/disbursements/{d.id}").get_data(as_text=True)
        assert requester.name in html and approver.name in html
        body = client.get(f"/api/v1/disbursements/{d.id}", headers=api_headers(viewer)).get_json()
        assert body["requested_by_id"] == requester.id
        assert [a["approver_id"] for a in body["approvals"]] == [approver.id]
        assert requester.name in {e["by"] for e in body["history"]}
