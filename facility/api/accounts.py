"""API: tokens, sign-up and the caller."""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from facility.accounts import mfa, queries, services, totp
from facility.accounts.limits import signin_limits, signup_limits
from facility.accounts.models import SELF_SIGNUP_ROLES, OrgType
from facility.accounts.policy import is_enrolled, must_enrol
from facility.api import api_blueprint
from facility.api.auth import ApiError, public, require_user
from facility.api.problems import flatten_errors
from facility.api.schemas import PageArgs, page_of, paginate
from facility.audit.services import record
from facility.core.inputs import NAME_CHARS
from facility.extensions import db

blp = api_blueprint("api_accounts", __name__, "Accounts and tokens")


def _email(value: str) -> None:
    """The one e-mail rule (`accounts.services.email_problem`), as the sign-up page and the CLI apply it."""
    problem = services.email_problem(value)
    if problem is not None:
        raise ma.ValidationError(problem)


def email_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(validate=_email, metadata={"format": "email"}, **kwargs)


class TokenRequestSchema(ma.Schema):
    email = email_field(required=True)
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1024))
    name = ma.fields.String(load_default="", validate=ma.validate.Length(max=services.TOKEN_NAME_CHARS))
    otp = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64), metadata={
        "description": "the current code from the authenticator app (or a recovery code); required once "
                       "two-step sign-in is on"})


class TokenSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "first characters, to recognise a token"})
    created_at = ma.fields.AwareDateTime()
    expires_at = ma.fields.AwareDateTime(allow_none=True)
    last_used_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    enrol_only = ma.fields.Boolean(metadata={
        "description": "true for a staff member who has not enrolled a second factor yet: the token can only enrol"})


class NewTokenSchema(TokenSchema):
    token = ma.fields.String(metadata={"description": "shown once; send as 'Authorization: Bearer TOKEN'"})


class OrganizationInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NAME_CHARS))
    country = ma.fields.String(required=True, validate=ma.validate.Length(equal=3),
                               metadata={"description": "ISO 3166-1 alpha-3"})
    org_type = ma.fields.String(validate=ma.validate.OneOf([t.value for t in OrgType]))


class SignUpSchema(ma.Schema):
    email = email_field(required=True)
    password = ma.fields.String(required=True, validate=ma.validate.Length(max=1024))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NAME_CHARS))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(
        [r.value for r in SELF_SIGNUP_ROLES], error="Sign up as one of {choices}; the facility grants the other roles."))
    organization = ma.fields.Nested(OrganizationInSchema)

    def handle_error(self, error: ma.ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        """Some fields were refused here: the sign-up's own rules (`services.signup_problems`) are checked
        too, so the caller hears of every problem in one answer (the password rules, the organisation an
        innovator needs...), and of none twice."""
        if many or not isinstance(data, dict) or not isinstance(error.messages, dict):
            return
        refused = flatten_errors(error.messages)
        org = data.get("organization")
        problems = services.signup_problems(
            email=_text(data.get("email")), password=_text(data.get("password")), name=_text(data.get("name")),
            role=_text(data.get("role")),
            organization={key: _text(org.get(key)) for key in ("name", "country", "org_type")}
            if isinstance(org, dict) and org else None,
        )
        more = {key: messages for key, messages in problems.items() if not _covered(key, refused)}
        if more:
            raise ma.ValidationError({**error.messages, **more}, data=data, valid_data=error.valid_data)


def _text(value: Any) -> str:
    """A value as the sign-up rules read it: anything but text (refused by the schema) counts as empty."""
    return value if isinstance(value, str) else ""


def _covered(key: str, refused: dict[str, list[str]]) -> bool:
    """Whether the schema already refused this field, a field inside it or the object it is in."""
    return any(name == key or name.startswith(key + ".") or key.startswith(name + ".") for name in refused)


class OrganizationSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.Function(lambda o: o.kind.value)
    org_type = ma.fields.Function(lambda o: o.org_type.value if o.org_type else None)
    country = ma.fields.String(allow_none=True)
    org_identifier = ma.fields.String(allow_none=True, metadata={"description": "org-id.guide identifier"})


class UserSchema(ma.Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    name = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    organization = ma.fields.Nested(OrganizationSchema, allow_none=True)
    locale = ma.fields.String(allow_none=True)
    timezone = ma.fields.String()
    created_at = ma.fields.AwareDateTime()


@blp.route("/auth/tokens", methods=["POST"])
@public
@signin_limits
@blp.arguments(TokenRequestSchema)
@blp.response(201, NewTokenSchema)
@blp.alt_response(401, description="wrong e-mail or password")
@blp.alt_response(422, description="two-step sign-in is on and `otp` is missing, wrong or already used")
def create_token(data):
    """Exchange an e-mail, password and (with two-step sign-in on) a code for a bearer token.

    Rules: the code is checked only once the password is right, so a wrong code says nothing about the
    password; it counts against the same rate limit. A fund manager, admin or auditor without a second
    factor gets a token that can only enrol (`enrol_only`)."""
    user = services.authenticate(email=data["email"], password=data["password"])
    if user is None:
        db.session.commit()  # keep the audit record of the failed attempt
        raise ApiError(401, "The e-mail address or password is wrong.")
    if is_enrolled(user) and mfa.check_second_factor(user, data.get("otp")) is None:
        record("user.second_factor_failed", actor=user, obj=user)
        db.session.commit()  # the failed attempt stays in the audit trail; no token
        raise ApiError(422, "Some fields are invalid; see errors.", errors={"otp": [
            "Send the current code from your authenticator app (or a recovery code)." if not data.get("otp")
            else "This code is wrong or was already used."]})
    token, plain = services.issue_api_token(user=user, name=data.get("name", ""))
    token.enrol_only = must_enrol(user)
    db.session.commit()
    token.token = plain  # transient: the plain value is shown this once
    return token


@blp.route("/auth/tokens", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TokenSchema))
def list_tokens(args):
    """The caller's API tokens (without their values)."""
    user = require_user()
    return paginate(queries.tokens_of(user), page=args["page"], per_page=args["per_page"])


@blp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(204)
def revoke_token(token_id):
    """Revoke a token (the caller's own; admins any)."""
    user = require_user()
    services.revoke_api_token(token_id=token_id, actor=user)
    db.session.commit()


@blp.route("/users", methods=["POST"])
@public
@signup_limits
@blp.arguments(SignUpSchema)
@blp.response(201, UserSchema)
def sign_up(data):
    """Sign up as an innovator (with an organisation), a city official or a donor."""
    user = services.register_user(
        email=data["email"], password=data["password"], name=data["name"],
        role=data["role"], organization=data.get("organization"),
    )
    db.session.commit()
    return user


@blp.route("/me", methods=["GET"])
@blp.response(200, UserSchema)
def me():
    """The caller, their roles and organisation."""
    return require_user()


# --- two-step sign-in (TOTP) -------------------------------------------------------------------------

class TotpStartSchema(ma.Schema):
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1024))


class TotpSecretSchema(ma.Schema):
    secret = ma.fields.String(metadata={"description": "base32 TOTP secret, shown once"})
    uri = ma.fields.String(metadata={"description": "otpauth:// URI for an authenticator app"})


class TotpConfirmSchema(ma.Schema):
    otp = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64),
                           metadata={"description": "the six-digit code the app shows for the new secret"})


class RecoveryCodesSchema(ma.Schema):
    recovery_codes = ma.fields.List(ma.fields.String(), metadata={"description": "ten single-use codes, shown once"})


@blp.route("/me/mfa/totp", methods=["POST"])
@blp.arguments(TotpStartSchema)
@blp.response(200, TotpSecretSchema)
@blp.alt_response(409, description="two-step sign-in is already on")
@blp.alt_response(422, description="wrong password")
def start_totp(data):
    """Start two-step sign-in: the password again answers a new secret (turned on by the confirm call)."""
    user = require_user()
    secret = mfa.start_enrolment(user=user, password=data["password"])  # a wrong password: 422, errors.password
    db.session.commit()
    return {"secret": secret, "uri": totp.provisioning_uri(user, secret)}


@blp.route("/me/mfa/totp/confirm", methods=["POST"])
@blp.arguments(TotpConfirmSchema)
@blp.response(200, RecoveryCodesSchema)
@blp.alt_response(409, description="already on, or no secret was asked for")
@blp.alt_response(422, description="wrong or replayed code")
def confirm_totp(data):
    """Turn two-step sign-in on with a code from the new secret; answers ten recovery codes, once."""
    user = require_user()
    codes = mfa.confirm_enrolment(user=user, code=data["otp"])  # a wrong or replayed code: 422, errors.otp
    db.session.commit()
    return {"recovery_codes": codes}
