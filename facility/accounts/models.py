from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.core.labels import labelled
from facility.core.models import TimestampMixin, enum_column, utcnow  # noqa: F401 (enum_column re-exported)
from facility.core.states import Transitions
from facility.extensions import db


@labelled({"admin": _l("Administrator"), "fund_manager": _l("Fund manager"), "city_official": _l("City official"),
           "innovator": _l("Innovator"), "reviewer": _l("Reviewer"), "donor": _l("Donor or investor"),
           "auditor": _l("Auditor")})
class Role(str, enum.Enum):
    ADMIN = "admin"
    FUND_MANAGER = "fund_manager"
    CITY_OFFICIAL = "city_official"
    INNOVATOR = "innovator"
    REVIEWER = "reviewer"
    DONOR = "donor"
    AUDITOR = "auditor"  # reads everything, changes nothing


# Roles a person may give themselves; the others are granted by an admin or a command.
SELF_SIGNUP_ROLES = (Role.INNOVATOR, Role.CITY_OFFICIAL, Role.DONOR)


@labelled({"city": _l("City"), "innovator": _l("Innovator"), "donor": _l("Donor or investor"),
           "facility": _l("The facility")})
class OrgKind(str, enum.Enum):
    CITY = "city"
    INNOVATOR = "innovator"
    DONOR = "donor"
    FACILITY = "facility"


@labelled({"startup": _l("Start-up"), "sme": _l("Small or medium-sized enterprise"),
           "community_organization": _l("Community organisation"), "ngo": _l("Non-governmental organisation"),
           "university": _l("University or research institute"), "public_agency": _l("Public agency")})
class OrgType(str, enum.Enum):
    STARTUP = "startup"
    SME = "sme"
    COMMUNITY_ORGANIZATION = "community_organization"
    NGO = "ngo"
    UNIVERSITY = "university"
    PUBLIC_AGENCY = "public_agency"


class Organization(TimestampMixin, db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind), nullable=False)
    org_type: Mapped[OrgType | None] = mapped_column(enum_column(OrgType))
    country: Mapped[str | None] = mapped_column(sa.String(3))  # ISO 3166-1 alpha-3
    website: Mapped[str | None] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    # An org-id.guide identifier (e.g. "GB-CHC-1234567"), published in the open data (accounts.orgids).
    org_identifier: Mapped[str | None] = mapped_column(sa.String(60))

    members: Mapped[list[User]] = relationship(back_populates="organization")


class UserRole(db.Model):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role), primary_key=True)


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC", nullable=False)
    last_sign_in_at: Mapped[datetime | None] = mapped_column()
    # The optional reminders (deadline and review-due nudges; `core.reminders.KINDS` says which): on until turned off.
    optional_reminders: Mapped[bool] = mapped_column(default=True, server_default=sa.true(), nullable=False)
    # Second factor (accounts.factors): the TOTP secret, encrypted like payout details; when it was turned on;
    # the last 30-second step whose code was accepted (a code is accepted once: no replay in its window).
    totp_secret_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    mfa_enrolled_at: Mapped[datetime | None] = mapped_column()  # any second factor on (TOTP or a passkey)
    totp_enabled_at: Mapped[datetime | None] = mapped_column()  # the authenticator app confirmed with a code
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    # A fund manager's personal approval limit in cents (`accounts.authority`): NULL is the configured default
    # (`DEFAULT_APPROVAL_LIMIT_CENTS`). Changed only through an `ApprovalLimitRequest` a second admin approves.
    approval_limit_cents: Mapped[int | None] = mapped_column(sa.BigInteger)

    organization: Mapped[Organization | None] = relationship(back_populates="members")
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by=UserRole.role
    )

    # Identity, not Flask-Login's get_id(): a user has many sessions (and none in a job).
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # Set at sign-in so Flask-Login stores the server-side session token, not the user id.
    _session_token: ClassVar[str | None] = None

    @property
    def roles(self) -> list[str]:
        return [row.role.value for row in self.role_rows]

    @property
    def role_list(self) -> list[Role]:
        """The roles as enum members (pages show their labels)."""
        return [row.role for row in self.role_rows]

    def has_role(self, *roles: Role | str) -> bool:
        wanted = {Role(r).value for r in roles}
        return any(row.role.value in wanted for row in self.role_rows)

    def add_role(self, role: Role | str) -> None:
        if not self.has_role(role):
            self.role_rows.append(UserRole(role=Role(role)))

    def remove_role(self, role: Role | str) -> None:
        self.role_rows = [row for row in self.role_rows if row.role != Role(role)]

    @property
    def totp_on(self) -> bool:
        """An authenticator app is turned on (a pending secret of an unfinished enrolment is not)."""
        return self.totp_enabled_at is not None and self.totp_secret_encrypted is not None

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login keeps this in the cookie session
        if not self._session_token:
            raise RuntimeError("sign in through accounts.services.start_session")
        return self._session_token


def hash_token(token: str) -> str:
    """Session and API tokens are stored only as their SHA-256 digest."""
    return hashlib.sha256(token.encode()).hexdigest()


class UserSession(db.Model):
    """A signed-in browser session; deleting the row signs it out everywhere it is used."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    ip_address: Mapped[str] = mapped_column(sa.String(64), default="", nullable=False)
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="", nullable=False)
    # When this session last proved a second factor (sign-in or step-up); `accounts.factors.has_fresh_factor`.
    factor_verified_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined")


class RecoveryCode(db.Model):
    """One single-use recovery code (ten per enrolment), stored only as its digest."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    code_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column()


class ApiToken(db.Model):
    """A bearer token for the JSON API, stored hashed and revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(100), default="", nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(sa.String(12), nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    # A staff member's token issued before they enrolled a second factor: it may only enrol.
    enrol_only: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), nullable=False)

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def is_usable(self) -> bool:
        now = utcnow()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@labelled({"pending": _l("Awaiting a second administrator"), "approved": _l("Approved"), "rejected": _l("Rejected"),
           "withdrawn": _l("Withdrawn")},
          tones={"pending": "waiting", "approved": "good", "rejected": "bad", "withdrawn": "neutral"})
class RoleRequestStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


_R = RoleRequestStatus
ROLE_REQUEST_TRANSITIONS = Transitions(RoleRequestStatus, {
    # A second administrator decides, or the requester takes it back; every decision is final.
    _R.PENDING: {_R.APPROVED, _R.REJECTED, _R.WITHDRAWN},
})

GUARDED_ROLES = (Role.FUND_MANAGER, Role.ADMIN, Role.AUDITOR)
"""Roles whose grant takes a second administrator's approval (`accounts.roles`); removing any role acts at once."""


class RoleGrantRequest(db.Model):
    """An administrator's request to give a person fund manager, administrator or auditor: it takes effect
    only when a second administrator (neither the requester nor the person) approves it."""

    __tablename__ = "role_grant_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    roles: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False)  # the role values to add, sorted
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    status: Mapped[RoleRequestStatus] = mapped_column(enum_column(RoleRequestStatus), default=RoleRequestStatus.PENDING,
                                                      nullable=False, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)

    person: Mapped[User] = relationship(foreign_keys=[person_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def role_list(self) -> list[Role]:
        """The roles asked for, as enum members (pages show their labels)."""
        return [Role(value) for value in self.roles]


class ApprovalLimitRequest(db.Model):
    """An administrator's proposal to change a fund manager's personal approval limit, with a reason: it takes
    effect only when a second administrator (neither the proposer nor the person) approves it. It shares the
    role requests' statuses and transitions (`RoleRequestStatus`, `ROLE_REQUEST_TRANSITIONS`): one mechanism
    for everything that waits for a second administrator."""

    __tablename__ = "approval_limit_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    limit_cents: Mapped[int | None] = mapped_column(sa.BigInteger)  # the new limit; NULL: back to the default
    previous_limit_cents: Mapped[int | None] = mapped_column(sa.BigInteger)  # the person's limit when proposed
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)  # why the proposer asks
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    status: Mapped[RoleRequestStatus] = mapped_column(enum_column(RoleRequestStatus), default=RoleRequestStatus.PENDING,
                                                      nullable=False, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)  # why it was rejected

    person: Mapped[User] = relationship(foreign_keys=[person_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        sa.CheckConstraint("limit_cents IS NULL OR limit_cents >= 0", name="limit_not_negative"),
    )


class PasskeyCredential(db.Model):
    """A WebAuthn credential (a passkey) registered as a second factor (`accounts.passkeys`).

    The credential id and public key are the authenticator's; `sign_count` is the last counter it
    reported (an assertion must report a larger one unless both are zero: a cloned key is refused)."""

    __tablename__ = "passkey_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    credential_id: Mapped[str] = mapped_column(sa.String(1400), unique=True, nullable=False)  # base64url
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)  # COSE key
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0, nullable=False)
    transports: Mapped[str] = mapped_column(sa.String(200), default="", nullable=False)  # comma-separated
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column()
