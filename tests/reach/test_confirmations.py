"""Destructive and irreversible actions ask for confirmation without JavaScript (issue 14).

Each action's GET is a confirmation page that changes nothing and is refused exactly as its POST is (the
same policy function); the POST still acts at once. The final review is confirmed on a second step.
"""
from __future__ import annotations

import sqlalchemy as sa

from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementApproval, DisbursementStatus
from facility.extensions import db
from facility.ledger.balances import balance
from facility.ledger.models import LedgerTransaction
from facility.ledger.services import pool_code
from facility.proposals.models import Proposal, ProposalStatus
from facility.review import facts
from facility.review.decisions import prepare_decision
from facility.review.models import Review, ReviewRound
from tests import factories
from tests.conftest import csrf_token_from, get_csrf
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401 - fixtures
from tests.review.conftest import assign, review_the_rest
from tests.review.conftest import build_world as build_review_world

S = DisbursementStatus


def _html(response) -> str:
    return response.get_data(as_text=True)


def _signed_in(app, login, user):
    client = app.test_client()
    login(client, user)
    return client


def _token(client) -> str:
    dashboard = client.get("/dashboard")
    return csrf_token_from(_html(dashboard)) if dashboard.status_code == 200 else get_csrf(client, "/signin")


def _same_refusal(client, url: str, field: str = "csrf_token") -> int:
    """The GET and the POST of `url` answer the same refusal (403, 404, or a redirect to sign in)."""
    got = client.get(url)
    posted = client.post(url, data={field: _token(client), "cancel-reason": "Testing"})
    assert got.status_code == posted.status_code, (url, got.status_code, posted.status_code)
    if got.status_code == 302:
        assert got.location.split("?")[0] == posted.location.split("?")[0]
    return got.status_code


# --- withdraw a proposal ---------------------------------------------------------------------

def test_withdrawing_a_proposal_is_confirmed_first(app, world, login, make_user, make_org):
    proposal = world.proposal
    url = f"/proposals/{proposal.id}/withdraw"
    innovator = _signed_in(app, login, world.innovator)
    show = _html(innovator.get(f"/proposals/{proposal.id}"))
    assert f'href="{url}"' in show and 'class="button danger"' in show  # a link to the confirmation, not a post

    page = innovator.get(url)
    html = _html(page)
    assert page.status_code == 200
    assert "Yes, withdraw my proposal" in html and "This cannot be undone." in html
    assert f'action="{url}"' in html and f'href="/proposals/{proposal.id}"' in html  # "No, go back"
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status is ProposalStatus.SUBMITTED

    other = make_user("innovator", organization=make_org(name="Elsewhere Labs"))
    assert _same_refusal(_signed_in(app, login, other), url) == 404
    assert _same_refusal(_signed_in(app, login, world.fund_manager), url) == 403
    assert _same_refusal(app.test_client(), url) == 302  # to sign in
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status is ProposalStatus.SUBMITTED

    done = innovator.post(url, data={"csrf_token": csrf_token_from(html)})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status is ProposalStatus.WITHDRAWN
    assert innovator.get(url).status_code == 409  # withdrawn: nothing left to confirm, as the POST says


# --- approve and cancel a payment ------------------------------------------------------------

def _requested_payment(make_challenge, make_proposal, make_user, fund):  # noqa: F811 - fixtures
    """A requested disbursement of USD 10,000.00 (manual rail) with its requester, another fund manager
    and an innovator of the grantee."""
    challenge = make_challenge(max_award_cents=6_000_000)
    proposal = make_proposal(challenge, amounts=(1_000_000, 2_000_000))
    fund(challenge=challenge, pool=3_000_000)
    requester = make_user("fund_manager", name="Ana Requester")
    approver = make_user("fund_manager", name="Ben Approver")
    grantee = make_user("innovator", organization=proposal.organization)
    grant = factories.grants.make_grant(proposal, requester, grantee, amount_cents=3_000_000, rail="manual",
                                        accepted_reports=(1,))
    disbursement = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    return disbursement.id, requester, approver, grantee, proposal.organization.name


def _state(disbursement_id: int) -> tuple[S, int]:
    db.session.expire_all()
    status = db.session.get(Disbursement, disbursement_id).status
    return status, db.session.scalar(sa.select(sa.func.count(DisbursementApproval.id)))


def test_approving_a_payment_is_confirmed_first(app, login, make_challenge, make_proposal, make_user,  # noqa: F811
                                                make_org, fund):  # noqa: F811
    d, requester, approver, grantee, payee = _requested_payment(make_challenge, make_proposal, make_user, fund)
    url = f"/disbursements/{d}/approve"
    ben = _signed_in(app, login, approver)
    assert f'href="{url}"' in _html(ben.get(f"/disbursements/{d}"))

    page = ben.get(url)
    html = _html(page)
    assert page.status_code == 200
    assert "Yes, approve the payment of USD 10,000.00" in html and payee in html
    assert "This cannot be undone." in html and f'href="/disbursements/{d}"' in html
    assert _state(d) == (S.REQUESTED, 0)

    # The requester is told why, as on the POST (four eyes); the others are refused as on the POST.
    ana = _signed_in(app, login, requester)
    refused = ana.get(url)
    assert refused.status_code == 302 and refused.location.endswith(f"/disbursements/{d}")
    assert "another fund manager must approve it" in _html(ana.get(refused.location))
    assert _same_refusal(ana, url) == 302
    assert _same_refusal(_signed_in(app, login, grantee), url) == 403
    outsider = make_user("innovator", organization=make_org(name="Elsewhere"))
    assert _same_refusal(_signed_in(app, login, outsider), url) == 404
    assert _same_refusal(app.test_client(), url) == 302
    assert _state(d) == (S.REQUESTED, 0)

    done = ben.post(url, data={"csrf_token": csrf_token_from(html)})
    assert done.status_code == 302 and "Approved." in _html(ben.get(done.location))
    assert _state(d) == (S.QUEUED, 1)


def test_cancelling_a_payment_is_confirmed_with_a_reason(app, login, make_challenge, make_proposal,  # noqa: F811
                                                         make_user, make_org, fund):  # noqa: F811
    d, requester, approver, grantee, payee = _requested_payment(make_challenge, make_proposal, make_user, fund)
    url = f"/disbursements/{d}/cancel"
    ben = _signed_in(app, login, approver)
    show = _html(ben.get(f"/disbursements/{d}"))
    assert f'href="{url}"' in show and f'action="{url}"' not in show  # the reason is asked on the confirmation

    page = ben.get(url)
    html = _html(page)
    assert page.status_code == 200
    assert "Yes, cancel this payment" in html and payee in html and "USD 10,000.00" in html
    assert 'name="cancel-reason"' in html and "This cannot be undone." in html
    assert _state(d) == (S.REQUESTED, 0)

    token = csrf_token_from(html.replace('name="cancel-csrf_token"', 'name="csrf_token"'))
    assert _same_refusal(_signed_in(app, login, grantee), url, "cancel-csrf_token") == 403
    outsider = make_user("innovator", organization=make_org(name="Elsewhere"))
    assert _same_refusal(_signed_in(app, login, outsider), url, "cancel-csrf_token") == 404
    assert _same_refusal(app.test_client(), url, "cancel-csrf_token") == 302
    assert _state(d) == (S.REQUESTED, 0)

    missing = ben.post(url, data={"cancel-reason": " ", "cancel-csrf_token": token})
    assert missing.status_code == 422
    assert "Say why." in _html(missing) and "Yes, cancel this payment" in _html(missing)  # the same page again
    assert _state(d) == (S.REQUESTED, 0)

    done = ben.post(url, data={"cancel-reason": "Wrong tranche", "cancel-csrf_token": token})
    assert done.status_code == 302
    assert _state(d)[0] is S.CANCELLED
    again = ben.get(url)  # nothing left to cancel: told why on the payment's page, as the POST would
    assert again.status_code == 302 and "can no longer be cancelled" in _html(ben.get(again.location))


# --- return a prize pool ---------------------------------------------------------------------

def _released(challenge_id: int) -> bool:
    return db.session.execute(sa.select(LedgerTransaction.id).where(
        LedgerTransaction.key == f"release-pool:{challenge_id}")).first() is not None


def test_returning_a_prize_pool_is_confirmed_first(app, login, make_challenge, make_user, make_org,  # noqa: F811
                                                   fund):  # noqa: F811
    challenge = make_challenge()  # closed, nobody applied: over
    fund(challenge=challenge, pool=5_000_000)
    db.session.commit()
    url = f"/challenges/{challenge.id}/release-pool"
    manager = _signed_in(app, login, make_user("fund_manager"))

    page = manager.get(url)
    html = _html(page)
    assert page.status_code == 200
    assert "Yes, return USD 50,000.00 to unallocated funds" in html and "This cannot be undone." in html
    assert f'href="/challenges/{challenge.id}"' in html
    assert balance(pool_code(challenge.id)) == 5_000_000 and not _released(challenge.id)

    for someone in (make_user("innovator", organization=make_org(name="Elsewhere")), make_user("auditor")):
        assert _same_refusal(_signed_in(app, login, someone), url, "release-csrf_token") == 403
    assert _same_refusal(app.test_client(), url, "release-csrf_token") == 302
    assert balance(pool_code(challenge.id)) == 5_000_000 and not _released(challenge.id)

    done = manager.post(url, data={"release-csrf_token": csrf_token_from(html.replace("release-csrf_token",
                                                                                      "csrf_token"))},
                        headers={"Referer": f"http://localhost{url}"})
    assert done.status_code == 302 and done.location.endswith(f"/challenges/{challenge.id}")
    assert balance(pool_code(challenge.id)) == 0 and _released(challenge.id)
    again = manager.get(url)
    assert again.status_code == 302 and "already released" in _html(manager.get(again.location))


def test_a_prize_pool_still_in_use_is_not_offered_for_return(app, login, make_challenge, make_user,  # noqa: F811
                                                             fund):  # noqa: F811
    challenge = make_challenge(closed=False)
    fund(challenge=challenge, pool=5_000_000)
    db.session.commit()
    manager = _signed_in(app, login, make_user("fund_manager"))
    response = manager.get(f"/challenges/{challenge.id}/release-pool")
    assert response.status_code == 302 and "not over yet" in _html(manager.get(response.location))
    assert balance(pool_code(challenge.id)) == 5_000_000


# --- the final review ------------------------------------------------------------------------

def test_the_final_review_is_submitted_only_once_confirmed(app, login, make_user, make_org):
    panel = build_review_world(make_user, make_org, n_proposals=1, n_reviewers=2)
    reviewer = panel.reviewers[0]
    assignment = assign(panel, reviewer, panel.proposals[0])
    url = f"/review/assignments/{assignment.id}"
    client = _signed_in(app, login, reviewer)
    token = get_csrf(client, url)
    c1, c2 = panel.criteria
    values = {"csrf_token": token, f"c_{c1.id}": "7", f"c_{c2.id}": "0", "comment": "Clear plan,\nthin budget."}

    def stored() -> Review | None:
        db.session.expire_all()
        return db.session.execute(sa.select(Review).where(Review.assignment_id == assignment.id)).scalar_one_or_none()

    step = client.post(url, data={**values, "submit_review": "1"})
    html = _html(step)
    assert step.status_code == 200 and "Yes, submit my final review" in html and "This cannot be undone." in html
    assert f'name="c_{c1.id}" value="7"' in html and f'name="c_{c2.id}" value="0"' in html  # carried over
    assert "7 of 10" in html and "Clear plan," in html
    assert stored() is None  # nothing written, not even a draft

    back = client.post(url, data={**values, "back": "y"})  # "No, go back": the form, with the values, unsaved
    assert back.status_code == 200 and "Submit review (final)" in _html(back) and "Clear plan," in _html(back)
    assert stored() is None

    incomplete = client.post(url, data={"csrf_token": token, f"c_{c1.id}": "7", "submit_review": "1"})
    assert incomplete.status_code == 422 and "Yes, submit my final review" not in _html(incomplete)
    assert stored() is None

    other = _signed_in(app, login, panel.reviewers[1])  # not assigned: refused, as before
    assert other.post(url, data={**values, "csrf_token": _token(other), "confirm": "y"}).status_code == 404
    assert stored() is None

    draft = client.post(url, data={**values, "save": "1"})  # "Save draft" is unaffected
    assert draft.status_code == 302 and stored() is not None and not stored().is_submitted

    done = client.post(url, data={**values, "confirm": "y"})
    assert done.status_code == 302
    review = stored()
    assert review is not None and review.is_submitted
    assert review.score_map == {c1.id: 7, c2.id: 0} and review.comment == "Clear plan,\nthin budget."


# --- release decisions, close a round --------------------------------------------------------

def test_releasing_decisions_is_confirmed_first(app, login, make_user, make_org):
    panel = build_review_world(make_user, make_org, n_proposals=1, n_reviewers=1)
    proposal = panel.proposals[0]
    review_the_rest(panel)
    prepare_decision(actor=panel.manager, proposal=proposal, kind="decline")
    db.session.commit()
    url = f"/review/challenges/{panel.challenge.id}/decisions/release"
    manager = _signed_in(app, login, panel.manager)
    assert f'href="{url}"' in _html(manager.get(f"/review/challenges/{panel.challenge.id}/ranking"))

    page = manager.get(url)
    html = _html(page)
    assert page.status_code == 200 and "Yes, release these decisions" in html and "This cannot be undone." in html
    assert f"<td>{proposal.id} — {proposal.title}</td><td>declined</td>" in html
    assert facts.pending_decisions(panel.challenge) == 1

    for someone in (panel.official, panel.reviewers[0], panel.applicants[0]):
        assert _same_refusal(_signed_in(app, login, someone), url) in (403, 404)
    assert _same_refusal(app.test_client(), url) == 302
    assert facts.pending_decisions(panel.challenge) == 1

    assert manager.post(url, data={"csrf_token": csrf_token_from(html)}).status_code == 302
    assert facts.pending_decisions(panel.challenge) == 0
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status is ProposalStatus.DECLINED
    again = manager.get(url)  # nothing pending: told why on the ranking, as the POST would
    assert again.status_code == 302 and "no pending decisions" in _html(manager.get(again.location))


def test_closing_a_round_early_is_confirmed_first(app, login, make_user, make_org):
    panel = build_review_world(make_user, make_org, n_proposals=1, n_reviewers=1)
    round_id = panel.scoring.id
    url = f"/review/rounds/{round_id}/close"
    manager = _signed_in(app, login, panel.manager)
    assert f'href="{url}"' in _html(manager.get(f"/review/rounds/{round_id}"))

    page = manager.get(url)
    html = _html(page)
    assert page.status_code == 200 and "Yes, close this round now" in html and "This cannot be undone." in html

    def closed() -> bool:
        db.session.expire_all()
        return db.session.get(ReviewRound, round_id).is_closed

    assert not closed()
    for someone in (panel.official, panel.reviewers[0]):
        assert _same_refusal(_signed_in(app, login, someone), url) == 403
    assert not closed()

    assert manager.post(url, data={"csrf_token": csrf_token_from(html)}).status_code == 302
    assert closed()
    again = manager.get(url)
    assert again.status_code == 302 and "already closed" in _html(manager.get(again.location))
