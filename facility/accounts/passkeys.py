"""Passkeys (WebAuthn) as a second factor that resists phishing: register, use, remove.

Rules:
- Every ceremony starts with options carrying a fresh random challenge, kept in the cookie session
  with its purpose ("register", "signin", "step_up"), the person and the time. A verification takes
  the challenge out first, whatever the outcome: each challenge is used at most once, for the
  purpose and person it was made for, within `WEBAUTHN_CHALLENGE_SECONDS` (default 300).
- The browser must report the relying party's origin (`WEBAUTHN_ORIGIN`, default `BASE_URL`) and
  RP id (`WEBAUTHN_RP_ID`, default the host of `BASE_URL`): an assertion made for another site is
  refused, which is what makes a passkey phishing-resistant.
- An assertion must be signed by one of the person's own passkeys, and the authenticator's counter
  must move forward (unless it always reports zero): a cloned key is refused.
- A first passkey turns the second factor on (`users.mfa_enrolled_at`); removing one is
  `policy.can_remove_passkey` (the owner only, never the last factor of a role that needs one).
- Registering, removing, using and every refused attempt are in the audit trail.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, session
from flask_babel import gettext as _
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from facility.accounts import policy
from facility.accounts.models import PasskeyCredential, User
from facility.audit.services import record
from facility.core.errors import ValidationFailed
from facility.core.inputs import clean_text
from facility.core.models import utcnow
from facility.core.policy import require
from facility.extensions import db

CHALLENGE_KEY = "webauthn_challenge"
PURPOSES = ("register", "signin", "step_up")
NAME_CHARS = 100
RP_NAME = "Urban Innovation Facility"
MAX_CREDENTIAL_CHARS = 64 * 1024  # a real credential is a few kilobytes


class PasskeyRefused(ValidationFailed):
    """The browser's answer did not prove the passkey (forged, replayed, expired or someone else's)."""


# --- the relying party --------------------------------------------------------------------------

def rp_id() -> str:
    """The relying party id: `WEBAUTHN_RP_ID`, or the host of `BASE_URL`."""
    configured = current_app.config.get("WEBAUTHN_RP_ID")
    return str(configured or urlsplit(current_app.config["BASE_URL"]).hostname or "localhost")


def origin() -> str:
    """The origin browsers must report: `WEBAUTHN_ORIGIN`, or `BASE_URL` without its path."""
    configured = current_app.config.get("WEBAUTHN_ORIGIN")
    if configured:
        return str(configured).rstrip("/")
    parts = urlsplit(current_app.config["BASE_URL"])
    return f"{parts.scheme}://{parts.netloc}"


def _user_handle(user: User) -> bytes:
    """A stable, opaque WebAuthn user handle (not the e-mail or the id): an HMAC of the id."""
    key = str(current_app.config.get("SECRET_KEY") or "").encode()
    return hmac.new(key, f"webauthn-user:{user.id}".encode(), hashlib.sha256).digest()


# --- challenges in the cookie session -------------------------------------------------------------

def _remember_challenge(challenge: bytes, *, purpose: str, user: User) -> None:
    session[CHALLENGE_KEY] = {"c": bytes_to_base64url(challenge), "p": purpose, "u": user.id,
                              "at": int(time.time())}


def _take_challenge(*, purpose: str, user: User) -> bytes | None:
    """The challenge made for `purpose` and `user`, removed from the session (single use); None when there is
    none, it was made for something else, or it expired."""
    saved = session.pop(CHALLENGE_KEY, None)
    if not isinstance(saved, dict) or saved.get("p") != purpose or saved.get("u") != user.id:
        return None
    lifetime = int(current_app.config.get("WEBAUTHN_CHALLENGE_SECONDS", 300))
    if int(saved.get("at", 0)) < time.time() - lifetime:
        return None
    try:
        return base64url_to_bytes(str(saved["c"]))
    except (KeyError, ValueError):
        return None


# --- queries --------------------------------------------------------------------------------------

def passkeys_of(user: User) -> list[PasskeyCredential]:
    """The person's passkeys, oldest first."""
    return list(db.session.scalars(
        sa.select(PasskeyCredential).where(PasskeyCredential.user_id == user.id).order_by(PasskeyCredential.id)
    ))


def has_passkey(user: User) -> bool:
    return bool(db.session.scalar(
        sa.select(sa.func.count()).select_from(PasskeyCredential).where(PasskeyCredential.user_id == user.id)
    ))


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for passkey in passkeys_of(user):
        transports = []
        for value in filter(None, passkey.transports.split(",")):
            try:
                transports.append(AuthenticatorTransport(value))
            except ValueError:
                continue
        descriptors.append(PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id),
                                                         transports=transports or None))
    return descriptors


def _parse(credential: Any) -> dict[str, Any]:
    """The browser's credential as a dict (a JSON text or an object), or PasskeyRefused."""
    if isinstance(credential, str):
        if len(credential) > MAX_CREDENTIAL_CHARS:
            raise PasskeyRefused(_("The passkey's answer could not be read."))
        try:
            credential = json.loads(credential)
        except ValueError:
            raise PasskeyRefused(_("The passkey's answer could not be read.")) from None
    if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
        raise PasskeyRefused(_("The passkey's answer could not be read."))
    return credential


# --- registration ---------------------------------------------------------------------------------

def registration_options(*, user: User) -> dict[str, Any]:
    """Options for `navigator.credentials.create()` (policy: `can_manage_passkeys`, their own only); the
    challenge is kept for `verify_registration`."""
    require(policy.can_manage_passkeys(user, user))
    options = generate_registration_options(
        rp_id=rp_id(), rp_name=RP_NAME, user_name=user.email, user_id=_user_handle(user),
        user_display_name=user.name, exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED),
    )
    _remember_challenge(options.challenge, purpose="register", user=user)
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def verify_registration(*, user: User, credential: Any, name: Any) -> PasskeyCredential:
    """Keep the new passkey when the browser's answer proves it was made for this site and this challenge
    (policy: `can_manage_passkeys`). The first passkey turns the second factor on."""
    require(policy.can_manage_passkeys(user, user))
    label = clean_text(name, "name", limit=NAME_CHARS, required=True)
    challenge = _take_challenge(purpose="register", user=user)
    data = _parse(credential)
    if challenge is None:
        _refused(user, "register", "no usable challenge")
        raise PasskeyRefused(_("That took too long or was already used: start again."))
    try:
        verified = verify_registration_response(credential=data, expected_challenge=challenge,
                                                expected_rp_id=rp_id(), expected_origin=origin())
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        _refused(user, "register", str(exc)[:200])
        raise PasskeyRefused(_("The passkey could not be added: your browser's answer was not valid.")) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    taken = db.session.scalar(sa.select(PasskeyCredential.id).where(PasskeyCredential.credential_id == credential_id))
    if taken is not None:
        _refused(user, "register", "credential already registered")
        raise PasskeyRefused(_("This passkey is already registered."))
    transports = data.get("response", {}).get("transports") if isinstance(data.get("response"), dict) else None
    known = {t.value for t in AuthenticatorTransport}
    passkey = PasskeyCredential(
        user_id=user.id, credential_id=credential_id, public_key=verified.credential_public_key,
        sign_count=verified.sign_count, name=label,
        transports=",".join(t for t in (transports or []) if isinstance(t, str) and t in known)[:200],
    )
    db.session.add(passkey)
    if user.mfa_enrolled_at is None:
        user.mfa_enrolled_at = utcnow()
    db.session.flush()
    record("passkey.registered", actor=user, obj=passkey, details={"name": label})
    return passkey


# --- authentication (the second step of sign-in, and step-up) -------------------------------------

def authentication_options(*, user: User, purpose: str) -> dict[str, Any]:
    """Options for `navigator.credentials.get()` limited to the person's own passkeys (policy:
    `can_manage_passkeys`); `purpose` is "signin" or "step_up"."""
    require(policy.can_manage_passkeys(user, user))
    if purpose not in PURPOSES[1:]:
        raise ValueError(purpose)
    options = generate_authentication_options(
        rp_id=rp_id(), allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED)
    _remember_challenge(options.challenge, purpose=purpose, user=user)
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def verify_authentication(*, user: User, credential: Any, purpose: str) -> PasskeyCredential:
    """The passkey that signed the challenge made for `purpose`, when it is one of the person's own, the
    signature holds and its counter moved forward (policy: `can_manage_passkeys`). Its counter and last use
    are kept; the caller signs in or marks the session fresh."""
    require(policy.can_manage_passkeys(user, user))
    challenge = _take_challenge(purpose=purpose, user=user)
    data = _parse(credential)
    if challenge is None:
        _refused(user, purpose, "no usable challenge")
        raise PasskeyRefused(_("That took too long or was already used: try again."))
    passkey = db.session.scalar(
        sa.select(PasskeyCredential).where(PasskeyCredential.credential_id == data["id"],
                                           PasskeyCredential.user_id == user.id).with_for_update()
    )
    if passkey is None:
        _refused(user, purpose, "not one of the person's passkeys")
        raise PasskeyRefused(_("That passkey is not registered to your account."))
    try:
        verified = verify_authentication_response(
            credential=data, expected_challenge=challenge, expected_rp_id=rp_id(), expected_origin=origin(),
            credential_public_key=passkey.public_key, credential_current_sign_count=passkey.sign_count)
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        _refused(user, purpose, str(exc)[:200], passkey=passkey)
        raise PasskeyRefused(_("The passkey could not be verified.")) from None
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    db.session.flush()
    record("passkey.used", actor=user, obj=passkey, details={"purpose": purpose})
    return passkey


def _refused(user: User, purpose: str, reason: str, *, passkey: PasskeyCredential | None = None) -> None:
    """A refused ceremony stays in the audit trail (the view commits it)."""
    record("passkey.refused", actor=user, obj=passkey, object_type="PasskeyCredential",
           details={"purpose": purpose, "reason": reason})


# --- removal --------------------------------------------------------------------------------------

def remove_passkey(*, user: User, passkey: PasskeyCredential) -> None:
    """Delete the passkey (policy: `can_remove_passkey`: the owner, never a needed last factor). Someone left
    with no factor at all is no longer enrolled."""
    require(policy.can_remove_passkey(user, passkey))
    remaining = policy.other_factors(user, passkey)
    record("passkey.removed", actor=user, obj=passkey, details={"name": passkey.name})
    db.session.delete(passkey)
    if remaining == 0:
        user.mfa_enrolled_at = None
    db.session.flush()
