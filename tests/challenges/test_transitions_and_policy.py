"""CHALLENGE_TRANSITIONS (every move made by its service, nothing else moves) and challenges.policy:
for each action the right person is allowed, and the wrong role, another city's official and an
anonymous visitor are refused."""
from __future__ import annotations

from datetime import timedelta

import pytest

from facility.challenges import policy, services
from facility.challenges.models import CHALLENGE_TRANSITIONS, ChallengeStatus
from facility.cities import policy as city_policy
from facility.core.errors import Conflict, NotFound, PermissionDenied
from facility.extensions import db
from tests.factories import NOW
from tests.factories.challenges import make_challenge
from tests.factories.cities import make_city

S = ChallengeStatus


@pytest.fixture
def people(world, make_user):
    _, other_official = make_city(name="Suva", country="FJI", fund_manager=world.fund_manager)
    return {"fund_manager": world.fund_manager, "city": world.city, "official": world.official,
            "other_official": other_official, "innovator": world.innovator, "admin": make_user("admin"),
            "anonymous": None}


def test_every_move_of_the_table_is_made(people, clock):
    p = people
    made = set()
    returned = make_challenge(p["city"], p["official"], state="pending_approval")
    services.return_to_draft(challenge=returned, actor=p["fund_manager"], reason="Clearer rubric, please.")
    made |= {(S.DRAFT, S.PENDING_APPROVAL), (S.PENDING_APPROVAL, S.DRAFT)}
    finished = make_challenge(p["city"], p["official"], state="published", fund_manager=p["fund_manager"])
    made.add((S.PENDING_APPROVAL, S.PUBLISHED))
    clock.move_to(finished.closes_at)
    services.finish_challenge(challenge=finished, actor=p["fund_manager"])
    made.add((S.PUBLISHED, S.FINISHED))
    db.session.commit()
    assert (returned.status, finished.status) == (S.DRAFT, S.FINISHED)
    assert made == set(CHALLENGE_TRANSITIONS.pairs())
    assert CHALLENGE_TRANSITIONS.final == {S.FINISHED, S.CANCELLED}


@pytest.mark.parametrize("before, after", [(S.DRAFT, S.PUBLISHED), (S.DRAFT, S.FINISHED),
                                           (S.PUBLISHED, S.DRAFT), (S.FINISHED, S.PUBLISHED),
                                           (S.PUBLISHED, S.PENDING_APPROVAL), (S.CANCELLED, S.DRAFT)])
def test_a_move_outside_the_table_is_refused(people, before, after):
    challenge = make_challenge(people["city"], people["official"])
    challenge.status = before
    with pytest.raises(Conflict):
        CHALLENGE_TRANSITIONS.move(challenge, after)
    assert challenge.status == before


def test_services_refuse_the_wrong_state(people, clock):
    p = people
    draft = make_challenge(p["city"], p["official"])
    with pytest.raises(Conflict):
        services.approve_challenge(challenge=draft, actor=p["fund_manager"])
    with pytest.raises(Conflict):
        services.finish_challenge(challenge=draft, actor=p["fund_manager"])
    with pytest.raises(Conflict):
        services.return_to_draft(challenge=draft, actor=p["fund_manager"], reason="x")
    assert draft.status == S.DRAFT


def _allowed(check, people, obj):
    """Who `check` allows among `people` (by key)."""
    return {name for name, user in people.items() if name != "city" and check(user, obj) is None}


def _refusal(check, user, obj):
    refusal = check(user, obj)
    assert refusal is not None
    return refusal.error


def test_view(people):
    p = people
    draft = make_challenge(p["city"], p["official"])
    assert _allowed(policy.can_view, p, draft) == {"official", "fund_manager", "admin"}
    for who in ("other_official", "innovator", "anonymous"):
        assert _refusal(policy.can_view, p[who], draft) is NotFound
    published = make_challenge(p["city"], p["official"], state="published", fund_manager=p["fund_manager"])
    assert _allowed(policy.can_view, p, published) == set(p) - {"city"}


@pytest.mark.parametrize("check", [policy.can_edit, policy.can_submit])
def test_edit_and_submit(people, check):
    p = people
    draft = make_challenge(p["city"], p["official"])
    assert _allowed(check, p, draft) == {"official"}
    for who in ("other_official", "fund_manager", "innovator", "admin", "anonymous"):
        assert _refusal(check, p[who], draft) is PermissionDenied
    services.submit_challenge(challenge=draft, actor=p["official"])
    assert _refusal(check, p["official"], draft) is Conflict


@pytest.mark.parametrize("check", [policy.can_approve, policy.can_return])
def test_approve_and_return(people, check, clock):
    p = people
    pending = make_challenge(p["city"], p["official"], state="pending_approval")
    assert _allowed(check, p, pending) == {"fund_manager"}
    for who in ("official", "other_official", "innovator", "admin", "anonymous"):
        assert _refusal(check, p[who], pending) is PermissionDenied
    draft = make_challenge(p["city"], p["official"])
    assert _refusal(check, p["fund_manager"], draft) is Conflict


def test_approval_is_refused_once_the_deadline_passed_but_return_is_not(people, clock):
    p = people
    pending = make_challenge(p["city"], p["official"], state="pending_approval")
    clock.move_to(pending.closes_at)
    assert _refusal(policy.can_approve, p["fund_manager"], pending) is Conflict
    assert policy.can_return(p["fund_manager"], pending) is None


def test_finish(people, clock):
    p = people
    published = make_challenge(p["city"], p["official"], state="published", fund_manager=p["fund_manager"])
    assert _refusal(policy.can_finish, p["fund_manager"], published) is Conflict  # still open
    clock.move_to(published.closes_at)
    assert _allowed(policy.can_finish, p, published) == {"fund_manager"}
    for who in ("official", "other_official", "innovator", "admin", "anonymous"):
        assert _refusal(policy.can_finish, p[who], published) is PermissionDenied


def test_extend_deadline(people, clock):
    p = people
    published = make_challenge(p["city"], p["official"], state="published", fund_manager=p["fund_manager"])
    assert _allowed(policy.can_extend_deadline, p, published) == {"official", "fund_manager"}
    for who in ("other_official", "innovator", "admin", "anonymous"):
        assert _refusal(policy.can_extend_deadline, p[who], published) is PermissionDenied
    clock.move_to(published.closes_at)
    assert _refusal(policy.can_extend_deadline, p["official"], published) is Conflict
    draft = make_challenge(p["city"], p["official"], closes_at=NOW + timedelta(days=90))
    assert _refusal(policy.can_extend_deadline, p["official"], draft) is Conflict


def test_ask_and_answer(people, clock):
    p = people
    published = make_challenge(p["city"], p["official"], state="published", fund_manager=p["fund_manager"])
    assert _allowed(policy.can_ask, p, published) == set(p) - {"city", "anonymous"}
    assert _refusal(policy.can_ask, None, published) is PermissionDenied
    draft = make_challenge(p["city"], p["official"])
    assert _refusal(policy.can_ask, p["innovator"], draft) is NotFound
    question = services.ask_clarification(challenge=published, actor=p["innovator"], question="SMS only?")
    db.session.commit()
    assert _allowed(policy.can_answer, p, question) == {"official"}
    for who in ("fund_manager", "admin"):  # they see the question but do not answer for the city
        assert _refusal(policy.can_answer, p[who], question) is PermissionDenied
    for who in ("other_official", "anonymous"):
        assert _refusal(policy.can_answer, p[who], question) is NotFound
    services.answer_clarification(clarification=question, actor=p["official"], answer="Yes.")
    assert _refusal(policy.can_answer, p["official"], question) is Conflict
    clock.move_to(published.closes_at)
    assert _refusal(policy.can_ask, p["innovator"], published) is Conflict


def test_city_actions(people, make_user):
    p = people
    city = p["city"]
    assert {name for name in p if name != "city" and city_policy.can_edit(p[name], city) is None} == {"official",
                                                                                                      "admin"}
    for who in ("other_official", "fund_manager", "innovator", "anonymous"):
        assert _refusal(city_policy.can_edit, p[who], city) is PermissionDenied
    assert _refusal(city_policy.can_verify, p["fund_manager"], city) is Conflict  # already verified
    unverified, unverified_official = make_city(name="Recife", country="BRA", verified=False)
    assert city_policy.can_verify(p["fund_manager"], unverified) is None
    for who in ("official", "other_official", "innovator", "admin", "anonymous"):
        assert _refusal(city_policy.can_verify, p[who], unverified) is PermissionDenied
    assert {name for name in p if name != "city" and city_policy.can_view(p[name], unverified) is None} == {
        "fund_manager", "admin"}
    assert city_policy.can_view(unverified_official, unverified) is None
    assert _refusal(city_policy.can_draft_challenge, unverified_official, unverified) is Conflict
    assert _refusal(city_policy.can_draft_challenge, p["other_official"], city) is PermissionDenied
    assert _refusal(city_policy.can_draft_challenge, None, city) is PermissionDenied
    def create(user, _nothing):
        return city_policy.can_create(user)

    assert _refusal(create, p["official"], None) is Conflict  # already in an organisation
    assert city_policy.can_create(make_user("city_official")) is None
    for who in ("innovator", "fund_manager", "anonymous"):
        assert _refusal(create, p[who], None) is PermissionDenied


def test_every_can_function_answers_with_a_decision():
    """`may("<pkg>.<action>", obj)` needs each `can_<action>` to return a Refusal or None, never a bool."""
    import inspect

    from facility.accounts import policy as accounts_policy
    from facility.proposals import policy as proposals_policy

    for module in (accounts_policy, city_policy, policy, proposals_policy):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("can_") and function.__module__ == module.__name__:
                assert "Decision" in str(inspect.signature(function).return_annotation), f"{module.__name__}.{name}"
