"""Every read of accounts that a page or the API needs."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from facility.accounts.models import ApiToken, Organization, User
from facility.accounts.policy import can_edit_organization, can_manage_roles
from facility.core.errors import NotFound
from facility.extensions import db

TOKENS_SHOWN = 100
"""The tokens page lists the newest ones; the API pages through all of them."""


def tokens_of(user: Any) -> sa.Select[tuple[ApiToken]]:
    """The user's API tokens, newest first (without their values: only digests are stored)."""
    return sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())


def get_visible_organization(user: Any, organization_id: int) -> Organization:
    """The organisation `user` may edit (`policy.can_edit_organization`); NotFound otherwise."""
    organization = db.session.get(Organization, organization_id)
    if organization is None or can_edit_organization(user, organization) is not None:
        raise NotFound(_("There is no such organisation."))
    return organization


def members_of(organization: Organization) -> list[User]:
    """The organisation's people, by name."""
    return list(db.session.execute(
        sa.select(User).where(User.organization_id == organization.id).order_by(User.name)
    ).scalars())


def users(*, search: str = "") -> sa.Select[tuple[User]]:
    """Every account (admins' list), optionally those whose e-mail or name contains `search`."""
    query = sa.select(User).options(selectinload(User.organization)).order_by(User.id)
    if search:
        like = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(sa.func.lower(User.email).like(like, escape="\\"),
                                   sa.func.lower(User.name).like(like, escape="\\")))
    return query


def get_manageable_user(actor: Any, user_id: int) -> User:
    """The account whose roles `actor` may change (`policy.can_manage_roles`); NotFound when there is none."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("There is no such user."))
    refusal = can_manage_roles(actor, user)
    if refusal is not None:
        refusal.raise_()
    return user
