"""The chain is keyed (HMAC-SHA256 with AUDIT_KEY): rewriting it without the key is noticed; keys rotate."""
from __future__ import annotations

import base64
import secrets

import pytest
import sqlalchemy as sa

from facility import create_app
from facility.audit.keys import DEV_KEY_ID, LEGACY_KEY_ID, AuditKeyError, check_production, keys_from_config, parse_keys
from facility.audit.models import AuditEvent
from facility.audit.services import GENESIS, anchor_head, legacy_hash, record, verify_chain
from facility.core.models import utcnow
from facility.extensions import db
from tests.audit.tampering import rewrite, unguarded, unkeyed, with_key


def _secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


FIXED = base64.b64encode(bytes(range(100, 132))).decode()  # parameters must be the same on every xdist worker


def _events(n: int = 4) -> list[int]:
    for i in range(n):
        record("test.action", object_type="Thing", object_id=i, details={"n": i})
    db.session.commit()
    return list(db.session.execute(sa.select(AuditEvent.id).order_by(AuditEvent.id)).scalars())


def _problems() -> list[str]:
    return [problem.problem for problem in verify_chain()]


def test_new_records_are_signed_with_the_configured_key(app, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_KEY", f"k7:{_secret()}")
    ids = _events(2)
    rows = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert [row.key_id for row in rows] == ["k7", "k7"]
    assert rows[0].prev_hash == GENESIS and rows[1].prev_hash == rows[0].hash
    assert rows[0].hash != legacy_hash(GENESIS, rows[0])  # not the old unkeyed SHA-256
    assert len(ids) == 2 and verify_chain() == []


def test_without_audit_key_development_signs_with_a_key_derived_from_secret_key(app):
    assert app.config.get("AUDIT_KEY") is None
    _events(1)
    assert db.session.execute(sa.select(AuditEvent.key_id)).scalar_one() == DEV_KEY_ID
    other = keys_from_config({"SECRET_KEY": "another secret", "ENV_NAME": "development"})
    assert other.signing_key != keys_from_config(app.config).signing_key


@pytest.mark.parametrize("relabel", [False, True], ids=["same-key-id", "relabelled-legacy"])
def test_rewriting_a_row_and_recomputing_the_unkeyed_chain_is_reported(app, backend, relabel):
    """The review's attack: change a record, recompute SHA-256 for it and every later one. Today's verify said
    "intact"; now the records are HMACs, and unkeyed rows are accepted only before the first keyed one."""
    ids = _events(4)
    with unguarded(backend):
        rewrite(ids[1], {"n": 99}, unkeyed, relabel=relabel)
        problems = verify_chain()
    assert problems, "the rewritten chain still verifies"
    assert {problem.event_id for problem in problems} == set(ids[1:])
    expected = "unkeyed (sha256-v1) record after keyed ones" if relabel else "does not match its signature"
    assert all(expected in problem.problem for problem in problems)


def test_recomputing_with_a_wrong_key_is_reported(app, backend):
    ids = _events(3)
    with unguarded(backend):
        rewrite(ids[2], {"n": 42}, with_key(b"a guess at the key, 32 bytes...."))
        problems = verify_chain()
    assert [(p.event_id, "does not match its signature" in p.problem) for p in problems] == [(ids[2], True)]


def test_relabelling_the_whole_chain_as_legacy_is_caught_by_its_anchor(app, backend):
    """With every row marked unkeyed, the walk alone cannot tell; the anchored head hash can."""
    ids = _events(3)
    anchored = anchor_head().last_event_id
    db.session.commit()
    with unguarded(backend):
        rewrite(ids[0], {"n": 7}, unkeyed, relabel=True)
        problems = verify_chain()
    assert [problem.event_id for problem in problems] == [anchored] == [ids[-1]]
    assert "no longer has the anchored hash" in problems[0].problem


def test_key_rotation_old_rows_verify_with_their_key_id(app, monkeypatch):
    old, new = _secret(), _secret()
    monkeypatch.setitem(app.config, "AUDIT_KEY", f"k1:{old}")
    _events(2)
    monkeypatch.setitem(app.config, "AUDIT_KEY", f"k2:{new},k1:{old}")  # the new key in front
    _events(2)
    key_ids = db.session.execute(sa.select(AuditEvent.key_id).order_by(AuditEvent.id)).scalars().all()
    assert key_ids == ["k1", "k1", "k2", "k2"]
    assert verify_chain() == []
    monkeypatch.setitem(app.config, "AUDIT_KEY", f"k2:{new}")  # the old key dropped too early
    assert _problems() == ["signed with key 'k1', which is not in AUDIT_KEY"] * 2
    monkeypatch.setitem(app.config, "AUDIT_KEY", f"k2:{_secret()},k1:{old}")  # a different secret under k2
    assert _problems() == ["content does not match its signature (HMAC)"] * 2


def _add_legacy(action: str) -> None:
    last = db.session.execute(sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    event = AuditEvent(occurred_at=utcnow().replace(microsecond=0), action=action, actor_label="system",
                       object_type="", object_id="", ip_address="", details={}, key_id=LEGACY_KEY_ID,
                       prev_hash=last or GENESIS)
    event.hash = legacy_hash(event.prev_hash, event)
    db.session.add(event)
    db.session.commit()


def test_legacy_rows_verify_only_before_the_first_keyed_row(app):
    _add_legacy("old.one")
    _add_legacy("old.two")
    _events(2)
    assert verify_chain() == []
    _add_legacy("forged.after")  # an unkeyed record appended after keyed ones: anyone could have made it
    assert _problems() == ["unkeyed (sha256-v1) record after keyed ones: rewritten without the key"]


# --- configuration ------------------------------------------------------------------------

def test_parse_keys_first_signs_all_verify_and_a_bare_secret_takes_audit_key_id():
    first, second = _secret(), _secret()
    keys = parse_keys(f"k2:{first}, k1:{second}")
    assert keys.signing_id == "k2" and set(keys.by_id) == {"k2", "k1"}
    assert parse_keys(first, default_id="2026a").signing_id == "2026a"


@pytest.mark.parametrize("value", ["k1:not base64 !", f"k1:{FIXED},{FIXED}", f"sha256-v1:{FIXED}",
                                   f"k1:{FIXED},k1:{FIXED}", "bad id:abcd", " , "])
def test_malformed_audit_keys_are_refused_with_a_message(value):
    with pytest.raises(AuditKeyError) as caught:
        parse_keys(value)
    assert "AUDIT_KEY" in str(caught.value)


def _production(**overrides):
    from cryptography.fernet import Fernet

    settings = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                "SECRET_KEY": secrets.token_urlsafe(48), "PAYOUT_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    settings.update(overrides)
    return create_app("production", **settings)


@pytest.mark.parametrize("audit_key", [None, "", base64.b64encode(b"x" * 40).decode(), base64.b64encode(b"short").decode(),
                                       f"k2:{FIXED},k1:{base64.b64encode(b'ab' * 20).decode()}"],
                         ids=["unset", "empty", "one-repeated-byte", "too-short", "an-old-key-weak"])
def test_production_refuses_to_start_without_a_strong_audit_key(monkeypatch, audit_key):
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    with pytest.raises(RuntimeError, match="AUDIT_KEY"):
        _production(AUDIT_KEY=audit_key)


def test_production_accepts_32_random_bytes():
    check_production({"ENV_NAME": "production", "AUDIT_KEY": f"k1:{_secret()}"})
    check_production({"ENV_NAME": "production", "AUDIT_KEY": secrets.token_urlsafe(32)})
