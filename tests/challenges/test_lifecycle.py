"""Lifecycle, deadline and clarification rules, with a frozen clock."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.challenges import policy, queries, services
from facility.challenges.models import ChallengeStatus, Phase
from facility.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from facility.core.mail import OutboundEmail
from facility.extensions import db
from tests.factories import NOW
from tests.factories.challenges import challenge_fields, make_challenge
from tests.factories.cities import make_city


@pytest.fixture
def world(app, make_user, clock):
    fund_manager = make_user("fund_manager")
    city, official = make_city(fund_manager=fund_manager)
    return fund_manager, city, official


def test_phase_follows_the_clock(world, clock):
    fund_manager, city, official = world
    challenge = make_challenge(city, official, state="published", fund_manager=fund_manager)
    assert challenge.phase == Phase.UPCOMING and not challenge.is_open
    clock.move_to(challenge.opens_at)
    assert challenge.phase == Phase.OPEN and challenge.is_open
    clock.move_to(challenge.closes_at - timedelta(microseconds=1))
    assert challenge.is_open
    clock.move_to(challenge.closes_at)
    assert challenge.phase == Phase.CLOSED and not challenge.is_open


def test_draft_submit_approve(world):
    fund_manager, city, official = world
    challenge = make_challenge(city, official)
    assert challenge.status == ChallengeStatus.DRAFT and challenge.phase is None
    with pytest.raises(Conflict):
        services.approve_challenge(challenge=challenge, actor=fund_manager)
    with pytest.raises(PermissionDenied):
        services.submit_challenge(challenge=challenge, actor=fund_manager)
    services.submit_challenge(challenge=challenge, actor=official)
    assert challenge.status == ChallengeStatus.PENDING_APPROVAL and challenge.submitted_at == NOW
    with pytest.raises(Conflict):
        services.update_challenge(challenge=challenge, actor=official, **challenge_fields(title="Changed"))
    with pytest.raises(PermissionDenied):
        services.approve_challenge(challenge=challenge, actor=official)
    services.approve_challenge(challenge=challenge, actor=fund_manager)
    assert challenge.status == ChallengeStatus.PUBLISHED
    assert challenge.approved_by_id == fund_manager.id and challenge.approved_at == NOW
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert [a for a in actions if a.startswith("challenge.")][-3:] == [
        "challenge.created", "challenge.submitted", "challenge.approved"]
    assert actions.index("ledger.posted") < actions.index("challenge.approved"), "the pool is funded on approval"


def test_unverified_city_cannot_draft(app, make_user, clock):
    city, official = make_city(verified=False)
    with pytest.raises(Conflict):
        services.create_challenge(actor=official, city=city, **challenge_fields())


def test_official_of_another_city_cannot_draft(world, make_user):
    _, city, _ = world
    _, other_official = make_city(name="Suva", country="FJI")
    with pytest.raises(PermissionDenied):
        services.create_challenge(actor=other_official, city=city, **challenge_fields())


def test_approval_after_the_deadline_is_refused(world, clock):
    fund_manager, city, official = world
    challenge = make_challenge(city, official, state="pending_approval")
    clock.move_to(challenge.closes_at)
    with pytest.raises(Conflict):
        services.approve_challenge(challenge=challenge, actor=fund_manager)


def test_return_to_draft_needs_a_reason(world):
    fund_manager, city, official = world
    challenge = make_challenge(city, official, state="pending_approval")
    with pytest.raises(ValidationFailed):
        services.return_to_draft(challenge=challenge, actor=fund_manager, reason="  ")
    services.return_to_draft(challenge=challenge, actor=fund_manager, reason="Raise the prize pool.")
    assert challenge.status == ChallengeStatus.DRAFT


@pytest.mark.parametrize(("overrides", "field"), [
    (dict(criteria=[{"name": "A", "weight": 60}, {"name": "B", "weight": 30}]), "criteria"),
    (dict(criteria=[{"name": "", "weight": 100}]), "criteria.0.name"),
    (dict(criteria=[{"name": "A", "weight": 0}, {"name": "B", "weight": 100}]), "criteria.0.weight"),
    (dict(criteria=[]), "criteria"),
    (dict(max_award_cents=60_000_000), "max_award_cents"),
    (dict(prize_pool_cents=0), "prize_pool_cents"),
    (dict(prize_pool_cents=1.5), "prize_pool_cents"),
    (dict(opens_at=NOW + timedelta(days=5), closes_at=NOW + timedelta(days=5)), "closes_at"),
    (dict(opens_at=NOW - timedelta(days=5), closes_at=NOW - timedelta(days=1)), "closes_at"),
    (dict(closes_at=(NOW + timedelta(days=9)).replace(tzinfo=None)), "closes_at"),
    (dict(sdg_targets=["11.8"]), "sdg_targets"),
    (dict(sdg_targets=["11.d"]), "sdg_targets"),
    (dict(sdg_targets=["18.1"]), "sdg_targets"),
    (dict(sdg_targets=[]), "sdg_targets"),
    (dict(eligible_org_types=["cartel"]), "eligible_org_types"),
    (dict(eligible_countries=["XXX"]), "eligible_countries"),
    (dict(focus_area="space"), "focus_area"),
    (dict(title=""), "title"),
    (dict(title="x" * 201), "title"),
])
def test_validation(world, overrides, field):
    _, city, official = world
    with pytest.raises(ValidationFailed) as error:
        services.create_challenge(actor=official, city=city, **challenge_fields(**overrides))
    assert field in error.value.errors


def test_valid_codes_are_normalised(world):
    _, city, official = world
    challenge = services.create_challenge(actor=official, city=city, **challenge_fields(
        sdg_targets=["11.A", "3.6", "11.1", "17.19", "11.1"], eligible_countries=["uga", "KEN"],
        eligible_org_types=["ngo", "startup"]))
    assert challenge.sdg_targets == ["3.6", "11.1", "11.a", "17.19"]
    assert challenge.eligible_countries == ["UGA", "KEN"]
    assert [c.weight for c in challenge.criteria] == [50, 30, 20]


def test_extend_deadline_rules(world, make_user, clock):
    fund_manager, city, official = world
    challenge = make_challenge(city, official, state="published", fund_manager=fund_manager)
    old = challenge.closes_at
    with pytest.raises(ValidationFailed) as error:
        services.extend_deadline(challenge=challenge, actor=official, new_closes_at=old - timedelta(days=1),
                                 reason="Earlier")
    assert "new_closes_at" in error.value.errors
    with pytest.raises(ValidationFailed) as error:
        services.extend_deadline(challenge=challenge, actor=official, new_closes_at=old + timedelta(days=1), reason="")
    assert "reason" in error.value.errors
    with pytest.raises(PermissionDenied):
        services.extend_deadline(challenge=challenge, actor=make_user("innovator"),
                                 new_closes_at=old + timedelta(days=1), reason="x")
    _, other_official = make_city(name="Suva", country="FJI")
    with pytest.raises(PermissionDenied):
        services.extend_deadline(challenge=challenge, actor=other_official,
                                 new_closes_at=old + timedelta(days=1), reason="x")
    extension = services.extend_deadline(challenge=challenge, actor=fund_manager,
                                         new_closes_at=old + timedelta(days=14), reason="Holidays")
    assert challenge.closes_at == old + timedelta(days=14)
    assert (extension.old_closes_at, extension.new_closes_at) == (old, old + timedelta(days=14))
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "challenge.deadline_extended")).one()
    assert event.details["reason"] == "Holidays" and event.actor_id == fund_manager.id
    clock.move_to(challenge.closes_at)
    with pytest.raises(Conflict):
        services.extend_deadline(challenge=challenge, actor=fund_manager,
                                 new_closes_at=challenge.closes_at + timedelta(days=1), reason="Reopen")


def test_drafts_have_no_deadline_to_extend(world):
    fund_manager, city, official = world
    challenge = make_challenge(city, official)
    with pytest.raises(Conflict):
        services.extend_deadline(challenge=challenge, actor=fund_manager,
                                 new_closes_at=challenge.closes_at + timedelta(days=1), reason="x")


def test_extension_notifies_officials_and_registered_applicants(world):
    fund_manager, city, official = world
    challenge = make_challenge(city, official, state="published", fund_manager=fund_manager)
    seen = []

    def applicants(ch):
        seen.append(ch.id)
        return {"applicant@example.org", official.email}

    services.register_extension_recipients(applicants)
    services.register_extension_recipients(applicants)  # idempotent
    try:
        services.extend_deadline(challenge=challenge, actor=fund_manager,
                                 new_closes_at=challenge.closes_at + timedelta(days=7), reason="More time")
    finally:
        services.unregister_extension_recipients(applicants)
    assert seen == [challenge.id]
    recipients = db.session.scalars(sa.select(OutboundEmail.to_address).order_by(OutboundEmail.to_address)).all()
    assert recipients == sorted(["applicant@example.org", official.email])
    assert services.extension_recipients(challenge) == {official.email}


def test_clarifications(world, make_user, clock):
    fund_manager, city, official = world
    challenge = make_challenge(city, official, state="published", fund_manager=fund_manager)
    draft = make_challenge(city, official)
    asker, stranger = make_user("innovator"), make_user("innovator")
    with pytest.raises(NotFound):
        services.ask_clarification(challenge=draft, actor=asker, question="Hidden?")
    with pytest.raises(ValidationFailed):
        services.ask_clarification(challenge=challenge, actor=asker, question=" ")
    question = services.ask_clarification(challenge=challenge, actor=asker, question="SMS only?")
    def sees(user):
        return policy.can_view_clarification(user, question) is None

    assert sees(asker) and sees(official) and sees(fund_manager)
    assert not sees(stranger) and not sees(None)
    with pytest.raises(NotFound):
        services.answer_clarification(clarification=question, actor=stranger, answer="Yes")
    with pytest.raises(PermissionDenied):
        services.answer_clarification(clarification=question, actor=fund_manager, answer="Yes")
    services.answer_clarification(clarification=question, actor=official, answer="Yes.")
    assert sees(stranger) and sees(None)
    with pytest.raises(Conflict):
        services.answer_clarification(clarification=question, actor=official, answer="Again")
    clock.move_to(challenge.closes_at)
    with pytest.raises(Conflict):
        services.ask_clarification(challenge=challenge, actor=asker, question="Too late?")


def test_finish_only_after_close(world, clock):
    fund_manager, city, official = world
    challenge = make_challenge(city, official, state="published", fund_manager=fund_manager)
    with pytest.raises(Conflict):
        services.finish_challenge(challenge=challenge, actor=fund_manager)
    clock.move_to(challenge.closes_at)
    services.finish_challenge(challenge=challenge, actor=fund_manager)
    assert challenge.status == ChallengeStatus.FINISHED


def test_approval_queue_by_city_priority(app, make_user, clock):
    fund_manager = make_user("fund_manager")
    lyon, lyon_official = make_city(name="Lyon", country="FRA", share=2, risk="medium",
                                    fund_manager=fund_manager)
    suva, suva_official = make_city(name="Suva", country="FJI", population=94_000, share=25,
                                    fund_manager=fund_manager)
    first = make_challenge(lyon, lyon_official, state="pending_approval")
    second = make_challenge(suva, suva_official, state="pending_approval")
    make_challenge(suva, suva_official)  # a draft is not in the queue
    assert queries.approval_queue() == [second, first]
