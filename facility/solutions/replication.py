"""Replication: a city official starts a challenge from a proven solution, in their own city.

- Rule (`policy.can_replicate`): the grant is a solution (`queries.solution_condition`) and the actor is an
  official of a verified city other than the one that piloted it (the create-challenge permission,
  `cities.policy.can_draft_challenge`).
- The new challenge is an ordinary DRAFT made by `challenges.services.create_challenge`, pre-filled from the
  original (`prefill`: the problem, the indicators it measured with their verified values, focus area, SDG
  targets, rubric and eligibility, and a line naming the solution) and adapted by the official (title,
  summary, description, pool, largest award, dates, ...). It then follows today's path: submit, approval by
  a fund manager (which funds and publishes it).
- The original grantee is invited: its innovators are e-mailed after commit (`core.notify`); the challenge
  stays open to everyone, and eligibility is widened where needed so that the invited grantee may apply.
- The `Replication` row keeps the link both ways (solution <-> challenge). Audited.

Services flush, never commit.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.challenges import indicators as catalogue
from facility.challenges import services as challenge_services
from facility.cities.models import City
from facility.core.errors import ValidationFailed
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.extensions import db
from facility.grants.indicators import shown_value
from facility.grants.models import Grant, TrancheStatus
from facility.grants.queries import grantee_members
from facility.solutions import policy, queries
from facility.solutions.models import Replication

DEFAULT_WINDOW_DAYS = 60
"""A replication opens tomorrow and, unless the original's window says otherwise, takes proposals for 60 days."""
EDITABLE = frozenset(challenge_services.FIELDS)


def solution_line(grant: Grant) -> str:
    """The line of the new challenge's description that names the solution it replicates."""
    city = grant.challenge.city
    return str(_("This challenge replicates the solution “%(title)s” by %(grantee)s, piloted in %(city)s.",
             title=grant.proposal.title, grantee=grant.organization.name, city=city.name))


def prefill(grant: Grant, city: City) -> dict[str, Any]:
    """The fields of a replication of `grant` in `city`, as `create_challenge` takes them: the original
    challenge's title, summary, problem statement (its summary and description) with a line naming the
    solution, focus area, SDG targets, rubric (weights and descriptors), pool, largest award and eligibility;
    new dates (opening tomorrow, the original's window length). Eligibility that would exclude the invited
    grantee is widened to include its type and country, and the new city's country."""
    original = grant.challenge
    now = utcnow().replace(second=0, microsecond=0)
    window = original.closes_at - original.opens_at
    if window <= timedelta(0) or window > timedelta(days=365):
        window = timedelta(days=DEFAULT_WINDOW_DAYS)
    opens_at = now + timedelta(days=1)
    return widened_for_grantee({
        "title": original.title,
        "summary": original.summary,
        "description": "\n\n".join(part for part in (solution_line(grant), original.summary, original.description,
                                                        indicator_section(grant)) if part).strip(),
        "focus_area": original.focus_area.value,
        "sdg_targets": list(original.sdg_targets),
        "prize_pool_cents": original.prize_pool_cents,
        "max_award_cents": original.max_award_cents,
        "opens_at": opens_at,
        "closes_at": opens_at + window,
        "eligible_org_types": list(original.eligible_org_types),
        "eligible_countries": list(original.eligible_countries),
        "criteria": [{"name": c.name, "description": c.description, "weight": c.weight,
                      "descriptor_low": c.descriptor_low, "descriptor_mid": c.descriptor_mid,
                      "descriptor_high": c.descriptor_high} for c in original.criteria],
    }, grant, city)


def widened_for_grantee(fields: dict[str, Any], grant: Grant, city: City) -> dict[str, Any]:
    """Rule: a replication stays open to the grantee it invites: a non-empty list of eligible organisation
    types gains the grantee's type, and a non-empty list of countries the grantee's and the new city's (an
    empty list already admits everyone). Applied to the pre-filled fields and again to the official's."""
    grantee = grant.organization
    org_types, countries = fields.get("eligible_org_types"), fields.get("eligible_countries")
    if not (isinstance(org_types, list) and isinstance(countries, list)):
        return fields  # not lists: `create_challenge` says what is wrong with them
    if org_types and grantee.org_type is not None and grantee.org_type.value not in org_types:
        org_types = [*org_types, grantee.org_type.value]
    if countries and all(isinstance(code, str) for code in countries):
        countries = sorted(set(countries) | {city.country} | ({grantee.country} if grantee.country else set()))
    return {**fields, "eligible_org_types": org_types, "eligible_countries": countries}


def indicator_section(grant: Grant) -> str:
    """The part of the problem statement that carries the solution's indicators over: each indicator its
    milestones measured (catalogue code and name, unit, baseline, target) with the value the facility
    verified: what the public grant page shows, never the proposal's own text (its measuring method).
    Challenges hold no indicators of their own (proposals' milestones name them), so the replication's
    applicants read them here and name them in their own milestones."""
    measured = [indicator for tranche in grant.tranches if tranche.status != TrancheStatus.CANCELLED
                for indicator in tranche.indicators]
    if not measured:
        return ""
    lines = [str(_("Indicators the original measured (verified values):"))]
    for item in measured:
        latest = item.latest_verified
        lines.append(str(_(
            "- %(code)s %(name)s: from %(baseline)s to a target of %(target)s; verified: %(verified)s.",
            code=item.code, name=catalogue.indicator(item.code).name if catalogue.is_indicator(item.code) else "",
            baseline=shown_value(item.baseline, item.unit), target=shown_value(item.target, item.unit),
            verified=shown_value(latest.value, item.unit) if latest is not None else _("none yet"))))
    return "\n".join(lines)


def start_replication(*, actor: User, grant: Grant, city: City | None, **overrides: Any) -> Replication:
    """Rule `policy.can_replicate`: an official of a verified city other than the piloting one starts a DRAFT
    replication challenge of a solution, pre-filled (`prefill`) and adapted by `overrides` (any of
    `challenges.services.FIELDS`); the original grantee's innovators are invited by e-mail after commit."""
    require(policy.can_replicate(actor, grant, city, is_solution=queries.is_solution(grant.id)))
    assert city is not None  # the policy checked it
    unknown = sorted(set(overrides) - EDITABLE)
    if unknown:
        raise ValidationFailed(_("Some fields need attention."),
                               errors={name: [_("Unknown field.")] for name in unknown})
    fields = widened_for_grantee({**prefill(grant, city), **overrides}, grant, city)
    challenge = challenge_services.create_challenge(actor=actor, city=city, **fields)
    replication = Replication(solution_grant_id=grant.id, challenge_id=challenge.id,
                              invited_organization_id=grant.organization_id, created_by_id=actor.id)
    db.session.add(replication)
    db.session.flush()
    record("solution.replication_started", actor=actor, obj=replication,
           details={"solution_grant_id": grant.id, "challenge_id": challenge.id, "city_id": city.id,
                    "invited_organization_id": grant.organization_id})
    invited = grantee_members({grant.organization_id}).get(grant.organization_id, [])
    notify(invited, "solutions/invited", grant=grant, challenge=challenge, city=city)
    return replication
