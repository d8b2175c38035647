"""Passkeys: registration, the second step of sign-in, step-up, removal, and what is refused.

A small software authenticator (P-256, "none" attestation) plays the browser's part, so every check of
`accounts.passkeys` runs without a browser; tests/test_browser_passkeys.py does the same with Chromium's
virtual authenticator.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import struct
import time

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import render_template_string
from flask_login import login_user
from webauthn.helpers import bytes_to_base64url, encode_cbor

from facility.accounts import factors, passkeys, signin_flow, totp
from facility.accounts.models import PasskeyCredential, User, UserSession
from facility.audit.models import AuditEvent
from facility.core.models import utcnow
from facility.extensions import db
from tests.conftest import csrf_token_from

ORIGIN = "http://127.0.0.1:5000"  # the test config's BASE_URL
RP_ID = "127.0.0.1"


class SoftAuthenticator:
    """One passkey on a pretend device: makes attestations and signs assertions like a browser would."""

    def __init__(self, *, origin: str = ORIGIN, rp_id: str = RP_ID):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.origin = origin
        self.rp_id = rp_id
        self.sign_count = 0

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return encode_cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin,
                           "crossOrigin": False}).encode()

    def create(self, options: dict) -> dict:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        auth_data = rp_hash + bytes([0x01 | 0x04 | 0x40]) + struct.pack(">I", self.sign_count) + attested
        client_data = self._client_data("webauthn.create", options["challenge"])
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        cid = bytes_to_base64url(self.credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key", "clientExtensionResults": {},
                "response": {"clientDataJSON": bytes_to_base64url(client_data),
                             "attestationObject": bytes_to_base64url(attestation), "transports": ["internal"]}}

    def get(self, options: dict, *, count_up: bool = True) -> dict:
        if count_up:
            self.sign_count += 1
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        auth_data = rp_hash + bytes([0x01 | 0x04]) + struct.pack(">I", self.sign_count)
        client_data = self._client_data("webauthn.get", options["challenge"])
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        cid = bytes_to_base64url(self.credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key", "clientExtensionResults": {},
                "response": {"clientDataJSON": bytes_to_base64url(client_data),
                             "authenticatorData": bytes_to_base64url(auth_data),
                             "signature": bytes_to_base64url(signature)}}


def _csrf(client, path="/profile/passkeys") -> str:
    return csrf_token_from(client.get(path).get_data(as_text=True))


def _post(client, url, body, csrf):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers={"X-CSRFToken": csrf})


def _register(client, authenticator: SoftAuthenticator, name="Work laptop"):
    csrf = _csrf(client)
    options = _post(client, "/profile/passkeys/options", {}, csrf)
    assert options.status_code == 200, options.get_data(as_text=True)
    return _post(client, "/profile/passkeys", {"name": name, "credential": authenticator.create(options.get_json())},
                 csrf)


def _passkeys(user) -> list[PasskeyCredential]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(PasskeyCredential).where(PasskeyCredential.user_id == user.id)))


def _actions(user) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.actor_id == user.id)
                                   .where(AuditEvent.action.like("passkey.%")).order_by(AuditEvent.id)))


def _pending(client, user, next_url="/dashboard") -> str:
    """The state after the password step of sign-in (the mfa helper's sign-in page calls begin_second_factor)."""
    with client.session_transaction() as session:
        session.clear()
        session[signin_flow.PENDING_KEY] = {"uid": user.id, "next": next_url, "at": int(time.time())}
    return _csrf(client, "/signin/passkey")


# --- registration --------------------------------------------------------------------------------

def test_registering_a_first_passkey_enrols_and_is_audited(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    assert factors.must_enrol(manager)
    login(client, manager)
    response = _register(client, SoftAuthenticator())
    assert response.status_code == 200, response.get_data(as_text=True)
    [passkey] = _passkeys(manager)
    assert passkey.name == "Work laptop" and passkey.transports == "internal" and passkey.sign_count == 0
    enrolled = db.session.get(User, manager.id)
    assert enrolled.mfa_enrolled_at is not None
    assert factors.is_enrolled(enrolled) and factors.mfa_refusal(enrolled) is None  # a passkey alone is enough
    assert _actions(manager) == ["passkey.registered"]
    assert "Work laptop" in client.get("/profile/passkeys").get_data(as_text=True)


def test_registration_for_another_site_or_with_a_reused_challenge_is_refused(client, make_user, login):
    user = make_user("innovator")
    login(client, user)
    phished = _register(client, SoftAuthenticator(origin="https://evil.example"))
    assert phished.status_code == 422
    assert _passkeys(user) == [] and db.session.get(User, user.id).mfa_enrolled_at is None

    csrf = _csrf(client)
    options = _post(client, "/profile/passkeys/options", {}, csrf).get_json()
    first = _post(client, "/profile/passkeys", {"name": "A", "credential": SoftAuthenticator().create(options)}, csrf)
    assert first.status_code == 200
    again = _post(client, "/profile/passkeys", {"name": "B", "credential": SoftAuthenticator().create(options)}, csrf)
    assert again.status_code == 422  # the challenge was used once
    assert [p.name for p in _passkeys(user)] == ["A"]
    assert _actions(user) == ["passkey.refused", "passkey.registered", "passkey.refused"]


@pytest.mark.parametrize("body", [{}, {"name": "x", "credential": "not json"}, {"name": "x", "credential": [1, 2]},
                                  {"name": "x", "credential": {"id": "abc", "response": "nope"}},
                                  {"name": "", "credential": {"id": "abc"}}, {"name": "y" * 101}])
def test_garbage_registration_is_refused_without_a_500(client, make_user, login, body):
    user = make_user("innovator")
    login(client, user)
    csrf = _csrf(client)
    _post(client, "/profile/passkeys/options", {}, csrf)
    response = _post(client, "/profile/passkeys", body, csrf)
    assert response.status_code == 422
    assert response.get_json()["detail"]
    assert _passkeys(user) == []


def test_anonymous_callers_are_refused_on_every_endpoint(client, make_user):
    make_user("fund_manager", enrolled=False)
    assert client.get("/profile/passkeys").status_code == 302  # to sign-in
    csrf = _csrf(client, "/signin")
    assert _post(client, "/profile/passkeys/options", {}, csrf).status_code == 403
    assert _post(client, "/profile/passkeys", {"name": "x", "credential": {}}, csrf).status_code == 403
    assert _post(client, "/confirm/passkey/options", {}, csrf).status_code == 403
    assert _post(client, "/confirm/passkey", {"credential": {}}, csrf).status_code == 403
    # No sign-in is waiting for a second step: the sign-in endpoints do not exist for this caller.
    assert client.get("/signin/passkey").status_code == 404
    assert _post(client, "/signin/passkey/options", {}, csrf).status_code == 404
    assert _post(client, "/signin/passkey", {"credential": {}}, csrf).status_code == 404


def test_json_endpoints_need_the_csrf_token(client, make_user, login):
    login(client, make_user("innovator"))
    response = client.post("/profile/passkeys/options", data="{}", content_type="application/json")
    assert response.status_code == 400


# --- the second step of sign-in -----------------------------------------------------------------

def test_sign_in_second_step_with_a_passkey(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    device = SoftAuthenticator()
    login(client, manager)
    assert _register(client, device).status_code == 200
    client.post("/signout", data={"csrf_token": _csrf(client)})

    csrf = _pending(client, manager, next_url="/profile")
    page = client.get("/signin/passkey").get_data(as_text=True)
    assert 'id="passkey-option"' in page and "hidden" in page  # shown by the script only
    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    assert [c["id"] for c in options["allowCredentials"]] == [bytes_to_base64url(device.credential_id)]
    assert options["rpId"] == RP_ID
    response = _post(client, "/signin/passkey", {"credential": device.get(options)}, csrf)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"redirect": "/profile"}
    assert client.get("/profile").status_code == 200  # signed in
    sessions = list(db.session.scalars(sa.select(UserSession).where(UserSession.user_id == manager.id)))
    assert len(sessions) == 1 and sessions[0].factor_verified_at is not None  # fresh for step-up
    [passkey] = _passkeys(manager)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    assert _actions(manager)[-1] == "passkey.used"


def test_a_replayed_or_forged_assertion_is_refused(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    device = SoftAuthenticator()
    login(client, manager)
    _register(client, device)
    client.post("/signout", data={"csrf_token": _csrf(client)})

    csrf = _pending(client, manager)
    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    # Forged: the signature is not the passkey's.
    forged = device.get(options)
    forged["response"]["signature"] = bytes_to_base64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert _post(client, "/signin/passkey", {"credential": forged}, csrf).status_code == 422
    # The challenge was spent by that attempt: a genuine answer to it is refused too (single use).
    assert _post(client, "/signin/passkey", {"credential": device.get(options)}, csrf).status_code == 422
    assert client.get("/profile").status_code == 302  # not signed in

    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    genuine = device.get(options)
    assert _post(client, "/signin/passkey", {"credential": genuine}, csrf).status_code == 200
    # Replayed: the same assertion again, in a new pending sign-in.
    csrf = _pending(client, manager)
    _post(client, "/signin/passkey/options", {}, csrf)
    assert _post(client, "/signin/passkey", {"credential": genuine}, csrf).status_code == 422
    assert _actions(manager).count("passkey.refused") == 3


def test_tampered_assertions_are_refused(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    device = SoftAuthenticator()
    login(client, manager)
    _register(client, device)
    client.post("/signout", data={"csrf_token": _csrf(client)})
    csrf = _pending(client, manager)

    def attempt(credential):
        return _post(client, "/signin/passkey", {"credential": credential}, csrf).status_code

    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    phished = SoftAuthenticator(origin="https://evil.example")
    phished.key, phished.credential_id = device.key, device.credential_id
    assert attempt(phished.get(options)) == 422  # made on another origin
    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    other_rp = SoftAuthenticator(rp_id="evil.example")
    other_rp.key, other_rp.credential_id = device.key, device.credential_id
    assert attempt(other_rp.get(options)) == 422  # for another relying party
    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    stale = dict(options, challenge=bytes_to_base64url(b"\x00" * 32))
    assert attempt(device.get(stale)) == 422  # a challenge this server never gave
    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    assert attempt(device.get(options)) == 200
    assert _passkeys(manager)[0].sign_count == device.sign_count

    # A copy of the key whose counter did not move since the last use: a cloned passkey.
    csrf = _pending(client, manager)
    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    assert attempt(device.get(options, count_up=False)) == 422
    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    assert attempt(device.get(options)) == 200


def test_expired_challenge_is_refused(client, make_user, login, app):
    manager = make_user("fund_manager", enrolled=False)
    device = SoftAuthenticator()
    login(client, manager)
    _register(client, device)
    client.post("/signout", data={"csrf_token": _csrf(client)})
    csrf = _pending(client, manager)
    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    with client.session_transaction() as session:
        saved = dict(session["webauthn_challenge"])
        saved["at"] -= app.config["WEBAUTHN_CHALLENGE_SECONDS"] + 1
        session["webauthn_challenge"] = saved
    assert _post(client, "/signin/passkey", {"credential": device.get(options)}, csrf).status_code == 422


def test_someone_elses_passkey_does_not_sign_you_in(client, make_user, login):
    alice, bob = make_user("fund_manager", enrolled=False), make_user("fund_manager", enrolled=False)
    alices_device = SoftAuthenticator()
    login(client, alice)
    _register(client, alices_device)
    client.post("/signout", data={"csrf_token": _csrf(client)})
    login(client, bob)
    _register(client, SoftAuthenticator())
    client.post("/signout", data={"csrf_token": _csrf(client)})

    csrf = _pending(client, bob)
    options = _post(client, "/signin/passkey/options", {}, csrf).get_json()
    assert bytes_to_base64url(alices_device.credential_id) not in [c["id"] for c in options["allowCredentials"]]
    response = _post(client, "/signin/passkey", {"credential": alices_device.get(options)}, csrf)
    assert response.status_code == 422
    assert client.get("/profile").status_code == 302


def test_the_pending_step_expires(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    login(client, manager)
    _register(client, SoftAuthenticator())
    client.post("/signout", data={"csrf_token": _csrf(client)})
    csrf = _pending(client, manager)
    with client.session_transaction() as session:
        pending = dict(session[signin_flow.PENDING_KEY])
        pending["at"] -= signin_flow.PENDING_SECONDS + 1
        session[signin_flow.PENDING_KEY] = pending
    assert _post(client, "/signin/passkey/options", {}, csrf).status_code == 404


# --- step-up -------------------------------------------------------------------------------------

def test_step_up_marks_the_current_session_fresh(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    device = SoftAuthenticator()
    login(client, manager)
    _register(client, device)
    session_row = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == manager.id)).one()
    assert session_row.factor_verified_at is None
    csrf = _csrf(client)
    options = _post(client, "/confirm/passkey/options", {}, csrf).get_json()
    response = _post(client, "/confirm/passkey", {"credential": device.get(options), "next": "//evil.example/x"},
                     csrf)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["redirect"] == "/dashboard"  # never off-site
    db.session.expire_all()
    assert db.session.get(UserSession, session_row.id).factor_verified_at is not None


def test_step_up_with_a_forged_assertion_leaves_the_session_stale(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    device = SoftAuthenticator()
    login(client, manager)
    _register(client, device)
    csrf = _csrf(client)
    options = _post(client, "/confirm/passkey/options", {}, csrf).get_json()
    impostor = SoftAuthenticator()
    impostor.credential_id = device.credential_id  # the right id, the wrong key
    assert _post(client, "/confirm/passkey", {"credential": impostor.get(options)}, csrf).status_code == 422
    db.session.expire_all()
    assert db.session.scalars(sa.select(UserSession.factor_verified_at)
                              .where(UserSession.user_id == manager.id)).one() is None


# --- removal -------------------------------------------------------------------------------------

def _remove(client, passkey_id):
    return client.post(f"/profile/passkeys/{passkey_id}/remove", data={"csrf_token": _csrf(client)})


def test_removing_the_last_factor_of_a_fund_manager_is_refused(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    login(client, manager)
    _register(client, SoftAuthenticator(), name="Phone")
    [only] = _passkeys(manager)
    response = _remove(client, only.id)
    assert response.status_code == 409
    assert "last second factor" in response.get_data(as_text=True)
    assert len(_passkeys(manager)) == 1

    _register(client, SoftAuthenticator(), name="Key")
    assert _remove(client, only.id).status_code == 302
    assert [p.name for p in _passkeys(manager)] == ["Key"]
    assert db.session.get(User, manager.id).mfa_enrolled_at is not None
    assert _actions(manager)[-1] == "passkey.removed"


def test_someone_without_a_needed_factor_may_remove_their_last_passkey(client, make_user, login):
    innovator = make_user("innovator")
    login(client, innovator)
    _register(client, SoftAuthenticator())
    [only] = _passkeys(innovator)
    assert _remove(client, only.id).status_code == 302
    assert _passkeys(innovator) == []
    assert db.session.get(User, innovator.id).mfa_enrolled_at is None  # no factor left: not enrolled


def test_other_people_cannot_see_or_remove_a_passkey(client, make_user, login, make_org):
    org = make_org()
    owner = make_user("innovator", organization=org)
    login(client, owner)
    _register(client, SoftAuthenticator(), name="Owner's key")
    [passkey] = _passkeys(owner)
    client.post("/signout", data={"csrf_token": _csrf(client)})

    for other in (make_user("innovator", organization=org), make_user("admin")):
        login(client, other)
        assert "Owner&#39;s key" not in client.get("/profile/passkeys").get_data(as_text=True)
        assert _remove(client, passkey.id).status_code == 404
        assert _remove(client, 999999).status_code == 404
        client.post("/signout", data={"csrf_token": _csrf(client)})
    anonymous = client.post(f"/profile/passkeys/{passkey.id}/remove", data={"csrf_token": _csrf(client, "/signin")})
    assert anonymous.status_code == 302 and "/signin" in anonymous.headers["Location"]
    assert len(_passkeys(owner)) == 1


def test_page_without_javascript_says_passkeys_need_it(client, make_user, login):
    login(client, make_user("innovator"))
    html = client.get("/profile/passkeys").get_data(as_text=True)
    assert "needs JavaScript" in html and "authenticator app" in html
    assert '<form id="passkey-add"' in html and 'hidden' in html.split('<form id="passkey-add"')[1].split(">")[0]
    assert 'src="/static/js/passkeys.js?v=' in html
    response = client.get("/static/js/passkeys.js")
    assert response.status_code == 200 and b"PublicKeyCredential" in response.data


def test_config_defaults_follow_base_url(app):
    with app.test_request_context():
        assert passkeys.rp_id() == RP_ID and passkeys.origin() == ORIGIN
        app.config.update(WEBAUTHN_RP_ID="facility.example", WEBAUTHN_ORIGIN="https://facility.example/")
        try:
            assert passkeys.rp_id() == "facility.example" and passkeys.origin() == "https://facility.example"
        finally:
            app.config.update(WEBAUTHN_RP_ID=None, WEBAUTHN_ORIGIN=None)



def test_a_challenge_serves_only_its_purpose(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    device = SoftAuthenticator()
    login(client, manager)
    _register(client, device)
    csrf = _csrf(client)
    registration = _post(client, "/profile/passkeys/options", {}, csrf).get_json()
    # An answer to a registration challenge is no step-up.
    assert _post(client, "/confirm/passkey", {"credential": device.get(registration)}, csrf).status_code == 422
    db.session.expire_all()
    assert db.session.scalars(sa.select(UserSession.factor_verified_at)
                              .where(UserSession.user_id == manager.id)).one() is None


def test_an_authenticator_app_counts_as_the_other_factor(client, make_user, login):
    manager = make_user("fund_manager", enrolled=False)
    login(client, manager)
    _register(client, SoftAuthenticator())
    [only] = _passkeys(manager)
    manager = db.session.get(User, manager.id)
    totp.store_secret(manager, totp.new_secret())  # an app set up but never confirmed with a code is not on
    db.session.commit()
    assert _remove(client, only.id).status_code == 409
    manager = db.session.get(User, manager.id)
    manager.totp_enabled_at = utcnow()
    db.session.commit()
    assert _remove(client, only.id).status_code == 302
    assert _passkeys(manager) == []
    db.session.expire_all()
    assert db.session.get(User, manager.id).mfa_enrolled_at is not None  # still enrolled: TOTP is on


def test_the_include_offers_the_right_ceremony_only_to_people_with_a_passkey(app, make_user):
    with_key, without_key = make_user("fund_manager", enrolled=False).id, make_user("fund_manager", enrolled=False).id
    db.session.add(PasskeyCredential(user_id=with_key, credential_id="abc", public_key=b"k", sign_count=0,
                                     name="Key"))
    db.session.commit()  # and nothing more in this session: each rendering below has its own
    include = '{% include "accounts/_passkey_option.html" %}'

    def rendered(user_id: int, *, pending: bool, path="/confirm?next=/disbursements/7") -> str:
        with app.app_context(), app.test_request_context(path):  # its own `g`: nobody signed in yet
            user = db.session.get(User, user_id)
            if pending:
                signin_flow.begin_second_factor(user, "/dashboard")
            else:
                user._session_token = "token"
                login_user(user)
            html = render_template_string(include)
            db.session.remove()
            return html

    step_up = rendered(with_key, pending=False)
    assert 'data-verify-url="/confirm/passkey"' in step_up and 'data-next="/disbursements/7"' in step_up
    assert "<div class=\"passkey-option\" id=\"passkey-option\" hidden" in step_up
    assert 'data-verify-url="/signin/passkey"' in rendered(with_key, pending=True)
    assert "passkey-option" not in rendered(without_key, pending=False)
    assert "passkey-option" not in rendered(without_key, pending=True)


@pytest.mark.parametrize("response", [None, "text", {}, {"clientDataJSON": "%%%", "authenticatorData": "",
                                                          "signature": ""},
                                      {"clientDataJSON": bytes_to_base64url(b"{not json"),
                                       "authenticatorData": bytes_to_base64url(b"short"), "signature": "AA"}])
def test_garbage_assertions_are_refused_without_a_500(client, make_user, login, response):
    manager = make_user("fund_manager", enrolled=False)
    device = SoftAuthenticator()
    login(client, manager)
    _register(client, device)
    csrf = _csrf(client)
    cid = bytes_to_base64url(device.credential_id)
    _post(client, "/confirm/passkey/options", {}, csrf)
    answer = _post(client, "/confirm/passkey", {"credential": {"id": cid, "rawId": cid, "type": "public-key",
                                                               "response": response}}, csrf)
    assert answer.status_code == 422, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["detail"]
    not_json = client.post("/confirm/passkey", data="[1, 2", content_type="application/json",
                           headers={"X-CSRFToken": csrf})
    assert not_json.status_code == 422
    assert _passkeys(manager)[0].last_used_at is None
