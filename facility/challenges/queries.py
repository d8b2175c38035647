"""Every read of challenges and clarifications that a page or the API needs."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import contains_eager, lazyload, load_only, selectinload

from facility.challenges import policy
from facility.challenges.models import (
    PUBLIC_STATUSES,
    Challenge,
    ChallengeInvitation,
    ChallengeStatus,
    Clarification,
    FocusArea,
)
from facility.cities.models import City
from facility.core.dashboard import Waiting, waiting
from facility.core.errors import NotFound
from facility.core.models import utcnow
from facility.core.search import json_list_contains, narrow
from facility.extensions import db

STATUS_FILTERS = ("published", "upcoming", "open", "closed", "finished")
"""What the public list filters by: a status, or a published challenge's phase by the clock."""


LIST_COLUMNS = (Challenge.id, Challenge.city_id, Challenge.title, Challenge.summary, Challenge.focus_area,
                Challenge.sdg_targets, Challenge.prize_pool_cents, Challenge.max_award_cents, Challenge.opens_at,
                Challenge.closes_at, Challenge.status)
"""The columns a row of the public list shows (the page's card, the API's list): not the description, not
the rubric; the challenge's page and the API's item load the rest."""


def get_visible_challenge(user: Any, challenge_id: int) -> Challenge:
    """The challenge, or NotFound when it does not exist or `user` may not see it: published and
    finished challenges are public; drafts, pending and cancelled ones only to the city's officials
    and facility staff (`policy.can_view`)."""
    challenge = db.session.get(Challenge, challenge_id, options=[selectinload(Challenge.criteria)])
    if challenge is None or policy.can_view(user, challenge) is not None:
        raise NotFound(_("There is no such challenge."))
    return challenge


def get_visible_clarification(user: Any, clarification_id: int, *, challenge_id: int | None = None) -> Clarification:
    """The question, or NotFound when it does not exist, belongs to another challenge than
    `challenge_id` (when given), or `user` may not see it (`policy.can_view_clarification`)."""
    clarification = db.session.get(Clarification, clarification_id)
    if (clarification is None or (challenge_id is not None and clarification.challenge_id != challenge_id)
            or policy.can_view_clarification(user, clarification) is not None):
        raise NotFound(_("There is no such question."))
    return clarification


def visible_clarifications(user: Any, challenge: Challenge) -> list[Clarification]:
    """Answered questions for everyone; unanswered ones for the asker, the city and facility staff."""
    return [c for c in challenge.clarifications if policy.can_view_clarification(user, c) is None]


def is_open_at(now: datetime) -> sa.ColumnElement[bool]:
    """SQL for `Challenge.phase_at(now) == Phase.OPEN`: published, opened, deadline ahead."""
    return sa.and_(Challenge.status == ChallengeStatus.PUBLISHED, Challenge.opens_at <= now, Challenge.closes_at > now)


def has_sdg_target(code: str, column: Any = Challenge.sdg_targets) -> sa.ColumnElement[bool]:
    """The JSON list in `column` (a challenge's SDG targets by default) holds `code`: containment served
    by a GIN index on PostgreSQL (`core.search.json_list_contains`), one rule for every filter."""
    return json_list_contains(column, code)


def public_challenges(*, status: str | None = None, country: str | None = None, focus_area: str | None = None,
                      sdg_target: str | None = None, q: str | None = None) -> sa.Select[tuple[Challenge]]:
    """Published (and finished) challenges filtered; `status` is one of STATUS_FILTERS. With `q`, only those
    matching every word of it (title, summary, description: `search_challenges`), the best match first.
    Rows carry LIST_COLUMNS and their city's id, name and country (from the same join), as a list shows
    them; count them with `count_public_challenges`."""
    query = (sa.select(Challenge).join(Challenge.city)
             .options(load_only(*LIST_COLUMNS), contains_eager(Challenge.city).options(
                 load_only(City.id, City.name, City.country), lazyload(City.organization))))
    return search_challenges(_public_filtered(query, status=status, country=country, focus_area=focus_area,
                                              sdg_target=sdg_target), q)


def count_public_challenges(*, status: str | None = None, country: str | None = None,
                            focus_area: str | None = None, sdg_target: str | None = None,
                            q: str | None = None) -> int:
    """How many rows `public_challenges` gives for the same filters, counted on the challenges table alone
    (no join, no columns): unfiltered, PostgreSQL answers from the status index without reading a row."""
    query = _public_filtered(sa.select(sa.func.count()).select_from(Challenge), status=status, country=country,
                             focus_area=focus_area, sdg_target=sdg_target)
    query, _rank = narrow(query, table="challenges", id_column=Challenge.id, q=q)
    return int(db.session.execute(query).scalar_one())


def _public_filtered(query: Any, *, status: str | None, country: str | None, focus_area: str | None,
                     sdg_target: str | None) -> Any:
    """`query` (over challenges) kept to the public ones the filters name: one set of rules for the list
    and its count."""
    now = utcnow()
    published = Challenge.status == ChallengeStatus.PUBLISHED
    by_status = {
        "upcoming": sa.and_(published, Challenge.opens_at > now),
        "open": is_open_at(now),
        "closed": sa.and_(published, Challenge.closes_at <= now),
        "finished": Challenge.status == ChallengeStatus.FINISHED,
        "published": published,
    }
    query = query.where(by_status.get(status or "", Challenge.status.in_(PUBLIC_STATUSES)))
    if country:
        query = query.where(Challenge.city_id.in_(sa.select(City.id).where(City.country == country.upper())))
    if focus_area:
        query = query.where(Challenge.focus_area == FocusArea(focus_area))
    if sdg_target:
        query = query.where(has_sdg_target(sdg_target))
    return query


def search_challenges(query: sa.Select[tuple[Challenge]], q: str | None) -> sa.Select[tuple[Challenge]]:
    """`query` kept to the challenges matching every word of `q` (any order, case and Latin accents
    ignored), ranked: a title hit before a summary hit before a description hit; then by deadline and id.
    An empty `q` keeps every row, by deadline."""
    query, rank = narrow(query, table="challenges", id_column=Challenge.id, q=q)
    return query.order_by(*rank, Challenge.closes_at.asc(), Challenge.id.asc())


def open_challenges(*, excluding: sa.Select[Any] | None = None, limit: int = 5,
                    invited: int | None = None) -> list[Challenge]:
    """Challenges open for proposals now (by deadline), optionally without the ids `excluding` selects. With
    `invited` (an organisation id), the invitation-only stages are those it was invited to only."""
    query = sa.select(Challenge).where(is_open_at(utcnow()))
    if excluding is not None:
        query = query.where(Challenge.id.not_in(excluding))
    if invited is not None:
        invitation = sa.select(ChallengeInvitation.id).where(ChallengeInvitation.challenge_id == Challenge.id,
                                                             ChallengeInvitation.organization_id == invited)
        query = query.where(sa.or_(Challenge.invitation_only.is_(False), invitation.exists()))
    return list(db.session.execute(query.order_by(Challenge.closes_at).limit(limit)).scalars())


def approval_queue() -> list[Challenge]:
    """Challenges waiting for approval, the highest city priority first."""
    pending = db.session.execute(
        sa.select(Challenge).where(Challenge.status == ChallengeStatus.PENDING_APPROVAL).order_by(Challenge.id)
    ).scalars().all()
    return sorted(pending, key=lambda c: (-c.city.priority_score, c.submitted_at or c.created_at))


def challenges_of_city(city: City) -> list[Challenge]:
    """Every challenge of the city, newest first (its officials' list)."""
    return list(db.session.execute(
        sa.select(Challenge).where(Challenge.city_id == city.id).order_by(Challenge.id.desc())
    ).scalars())


# --- dashboard ---


def challenges_to_approve() -> Waiting:
    """Challenges a city submitted for approval, the longest waiting first."""
    return waiting(Challenge.id, Challenge.submitted_at, Challenge.status == ChallengeStatus.PENDING_APPROVAL)


def clarifications_to_answer(city_id: int) -> Waiting:
    """Unanswered questions on the city's challenges, the oldest first (its officials answer them)."""
    return waiting(Clarification.challenge_id, Clarification.created_at,
                   Clarification.answered_at.is_(None), Challenge.city_id == city_id,
                   joins=((Challenge, Challenge.id == Clarification.challenge_id),))


# --- stages ---


def stages_of(challenge: Challenge) -> list[Challenge]:
    """The chain of stages `challenge` belongs to, first to last (just `[challenge]` for a one-stage
    challenge): one query, two recursive walks from it (up through `previous_stage_id`, down to the stages
    naming it), each capped at `policy.MAX_STAGES`, then ordered by following the links."""
    up = (sa.select(Challenge.id, Challenge.previous_stage_id, sa.literal(1).label("depth"))
          .where(Challenge.id == challenge.id).cte("stages_up", recursive=True))
    up = up.union_all(sa.select(Challenge.id, Challenge.previous_stage_id, (up.c.depth + 1).label("depth"))
                      .where(Challenge.id == up.c.previous_stage_id, up.c.depth < policy.MAX_STAGES))
    down = (sa.select(Challenge.id, sa.literal(1).label("depth"))
            .where(Challenge.id == challenge.id).cte("stages_down", recursive=True))
    down = down.union_all(sa.select(Challenge.id, (down.c.depth + 1).label("depth"))
                          .where(Challenge.previous_stage_id == down.c.id, down.c.depth < policy.MAX_STAGES))
    rows = db.session.execute(
        sa.select(Challenge).where(sa.or_(Challenge.id.in_(sa.select(up.c.id)), Challenge.id.in_(sa.select(down.c.id))))
    ).scalars().all()
    by_previous = {row.previous_stage_id: row for row in rows}
    ids = {row.id for row in rows}
    first = next((row for row in rows if row.previous_stage_id not in ids), challenge)
    chain = [first]
    while chain[-1].id in by_previous and len(chain) < 2 * policy.MAX_STAGES:
        chain.append(by_previous[chain[-1].id])
    return chain


def visible_stages(user: Any, challenge: Challenge) -> list[Challenge]:
    """`stages_of`, keeping the stages `user` may see (`policy.can_view`: drafts only to the city and staff);
    empty when that leaves one stage (nothing to list: a one-stage challenge, or a next stage still private)."""
    visible = [stage for stage in stages_of(challenge) if policy.can_view(user, stage) is None]
    return visible if len(visible) > 1 else []


def invitations_of(challenge: Challenge) -> list[ChallengeInvitation]:
    """The organisations invited to the stage, the first invited first, with their organisation."""
    return list(db.session.execute(
        sa.select(ChallengeInvitation).where(ChallengeInvitation.challenge_id == challenge.id)
        .order_by(ChallengeInvitation.id)).scalars())


def is_invited(challenge: Challenge, organization_id: int | None) -> bool:
    """The organisation holds an invitation to the stage."""
    if organization_id is None:
        return False
    return bool(db.session.execute(sa.select(sa.exists().where(
        ChallengeInvitation.challenge_id == challenge.id,
        ChallengeInvitation.organization_id == organization_id))).scalar())
