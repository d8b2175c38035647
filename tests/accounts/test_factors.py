"""accounts.totp and accounts.factors: codes accepted once, recovery codes spent once, who must enrol, freshness."""
from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from flask import g

from facility.accounts import factors, totp
from facility.core.errors import StepUpRequired
from facility.core.models import utcnow
from facility.extensions import db


@pytest.fixture
def person(make_user):
    user = make_user("innovator")
    totp.store_secret(user, totp.new_secret())
    db.session.commit()
    return user


def _code(user, at: float) -> str:
    return pyotp.TOTP(totp.secret_of(user)).at(at)


def test_the_secret_is_stored_encrypted(person):
    secret = totp.secret_of(person)
    assert secret and secret not in person.totp_secret_encrypted


def test_a_code_is_accepted_once(person):
    now = 1_800_000_000.0
    code = _code(person, now)
    assert totp.verify_code(person, code, at=now)
    assert not totp.verify_code(person, code, at=now + 5), "the same code replayed in its window"
    assert not totp.verify_code(person, _code(person, now - 30), at=now + 5), "an older step after a newer one"
    assert totp.verify_code(person, _code(person, now + 30), at=now + 30)


@pytest.mark.parametrize("code", ["", None, "12345", "1234567", "abcdef", "١٢٣٤٥٦"])
def test_malformed_codes_are_refused(person, code):
    assert not totp.verify_code(person, code, at=1_800_000_000.0)


def test_codes_far_from_now_are_refused(person):
    now = 1_800_000_000.0
    assert not totp.verify_code(person, _code(person, now - 120), at=now)
    assert not totp.verify_code(person, _code(person, now + 120), at=now)


def test_a_recovery_code_works_once_and_new_codes_replace_old(person):
    codes = totp.new_recovery_codes(person)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert totp.use_recovery_code(person, codes[0].upper())
    assert not totp.use_recovery_code(person, codes[0])
    fresh = totp.new_recovery_codes(person)
    assert not totp.use_recovery_code(person, codes[1]), "old codes die with a new set"
    assert totp.use_recovery_code(person, fresh[1])


def test_money_and_role_holders_must_enrol(make_user):
    for role in ("fund_manager", "admin", "auditor"):
        user = make_user(role)
        user.mfa_enrolled_at = None
        assert factors.must_enrol(user) and factors.mfa_refusal(user) is not None
        user.mfa_enrolled_at = utcnow()
        assert not factors.must_enrol(user) and factors.mfa_refusal(user) is None
    innovator = make_user("innovator")
    assert not factors.needs_mfa(innovator) and factors.mfa_refusal(innovator) is None


def test_a_factor_is_fresh_for_a_few_minutes_and_only_for_its_person(app, make_user):
    user, other = make_user("fund_manager"), make_user("fund_manager")
    with app.test_request_context("/"):
        refusal = factors.require_fresh_factor(user)
        assert refusal is not None and refusal.error is StepUpRequired
        factors.note_factor_verified(user)
        assert factors.require_fresh_factor(user) is None
        assert not factors.has_fresh_factor(other)
        g.factor_verified_at = utcnow() - timedelta(seconds=app.config["STEP_UP_SECONDS"] + 1)
        assert not factors.has_fresh_factor(user)
