"""API schemas of the public record: the grants register, a grant's public view, the public ledger.

Only the fields listed here leave the server for an anonymous caller; what they read is decided by
`portfolio.register` and `portfolio.public_ledger` (no bank details, no private report, no reviewer,
no e-mail address, nothing of a draft).
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
import pycountry

from facility.api.schemas import PageArgs
from facility.challenges.models import FocusArea
from facility.challenges.sdg import SDG_TARGETS
from facility.cities.countries import REGIONS
from facility.cities.models import SizeClass
from facility.core.inputs import MAX_ID, NAME_CHARS
from facility.core.search import API_NOTE
from facility.grants.models import GrantStatus
from facility.ledger import movements
from facility.portfolio.filters import GROUP_CHOICES
from facility.portfolio.register import FIRST_YEAR, LAST_YEAR


def enum_value(value: Any) -> Any:
    """An enum member as the API speaks it (its value); None stays None."""
    return value.value if value is not None else None


def _get(obj: Any, name: str) -> Any:
    """An attribute of a Grant, or a key of the dict a public view is flattened into."""
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


# Every ISO 3166-1 alpha-3 code, so that the document states exactly what a country filter takes
# (the same list `cities.services.valid_country` checks).
COUNTRY_CODES = sorted(country.alpha_3 for country in pycountry.countries)


class RegisterArgs(PageArgs):
    """The register's filters (those of `/grants`); `mine` gives the caller's organisation's grants."""

    country = ma.fields.String(validate=ma.validate.OneOf(COUNTRY_CODES), metadata={"description": "ISO alpha-3"})
    region = ma.fields.String(validate=ma.validate.OneOf(list(REGIONS)))
    country_group = ma.fields.String(validate=ma.validate.OneOf([code for code, _label in GROUP_CHOICES]))
    size_class = ma.fields.String(validate=ma.validate.OneOf([s.value for s in SizeClass]))
    focus_area = ma.fields.String(validate=ma.validate.OneOf([f.value for f in FocusArea]))
    sdg_target = ma.fields.String(validate=ma.validate.OneOf(list(SDG_TARGETS)), metadata={"description": "e.g. 11.2"})
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in GrantStatus]))
    year = ma.fields.Integer(validate=ma.validate.Range(min=FIRST_YEAR, max=LAST_YEAR))
    mine = ma.fields.Boolean(load_default=False, metadata={"description": "only the caller's organisation's "
                                                                          "grants (every grant for staff); needs a token"})
    q = ma.fields.String(validate=ma.validate.Length(max=NAME_CHARS), metadata={
        "description": "with `mine=true` only: free text, every word in the grant's proposal (title, summary, "
                       "approach), the best match first" + API_NOTE})


class PublicOrganizationSchema(ma.Schema):
    name = ma.fields.String()
    org_type = ma.fields.Function(lambda o: enum_value(o.org_type))
    country = ma.fields.String(allow_none=True, metadata={"description": "ISO 3166-1 alpha-3"})


class GrantCoreSchema(ma.Schema):
    """What every view of a grant starts with: the public register's row and the grantee's full record."""

    id = ma.fields.Integer()
    status = ma.fields.Function(lambda g: enum_value(_get(g, "status")))
    proposal_id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    organization_id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()
    awarded_at = ma.fields.AwareDateTime()
    accepted_at = ma.fields.AwareDateTime(allow_none=True)
    award_override_reason = ma.fields.String(allow_none=True, metadata={
        "description": "set when the award departs from the panel's released decision: the fund manager's reason"})


class PublicGrantSummarySchema(GrantCoreSchema):
    """A row of the register."""

    title = ma.fields.Function(lambda g: _get(g, "proposal").title)
    grantee = ma.fields.Function(lambda g: PublicOrganizationSchema().dump(_get(g, "organization")))
    challenge = ma.fields.Function(lambda g: {"id": _get(g, "challenge").id, "title": _get(g, "challenge").title,
                                              "focus_area": enum_value(_get(g, "challenge").focus_area)})
    city = ma.fields.Function(lambda g: {"id": _get(g, "challenge").city.id, "name": _get(g, "challenge").city.name,
                                         "country": _get(g, "challenge").city.country})
    sdg_targets = ma.fields.Function(lambda g: list(_get(g, "challenge").sdg_targets or []))
    beneficiary_groups = ma.fields.Function(lambda g: list(_get(g, "proposal").beneficiary_groups or []))


class PublicTrancheSchema(ma.Schema):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    title = ma.fields.String()
    amount_cents = ma.fields.Integer()
    due_date = ma.fields.Date(allow_none=True)
    status = ma.fields.Function(lambda t: enum_value(t.status))
    paid_on = ma.fields.Date(allow_none=True)
    public_summary = ma.fields.String(metadata={"description": "the grantee's public account of the milestone"})


class PublicAmendmentSchema(ma.Schema):
    """An amendment in force, as the public sees it."""

    id = ma.fields.Integer()
    status = ma.fields.Function(lambda a: enum_value(a.status))
    number = ma.fields.Integer()
    reason = ma.fields.String()
    accepted_at = ma.fields.AwareDateTime(allow_none=True)
    old_total_cents = ma.fields.Integer()
    new_total_cents = ma.fields.Integer()


class PublicGrantSchema(PublicGrantSummarySchema):
    """A grant's public view (`portfolio.register.PublicGrant`): the register's row, progress, tranches."""

    requested_cents = ma.fields.Integer(metadata={"description": "what the proposal asked for"})
    amount_changed = ma.fields.Boolean(metadata={"description": "the award differs from the request"})
    cancelled = ma.fields.Boolean()
    milestones_accepted = ma.fields.Integer()
    milestones_total = ma.fields.Integer()
    disbursed_cents = ma.fields.Integer()
    tranches = ma.fields.List(ma.fields.Nested(PublicTrancheSchema))
    amendment_history = ma.fields.List(ma.fields.Nested(PublicAmendmentSchema), metadata={
        "description": "the amendments in force, oldest first"})

    @ma.pre_dump
    def _flatten(self, item: Any, **_kwargs: Any) -> dict[str, Any]:
        # The row's fields come from the grant; the progress from the PublicGrant around it.
        out = {name: getattr(item.grant, name) for name in ("id", "status", "proposal_id", "challenge_id",
                                                            "organization_id", "amount_cents", "awarded_at",
                                                            "accepted_at", "proposal", "organization", "challenge",
                                                            "award_override_reason")}
        out.update(requested_cents=item.requested_cents, amount_changed=item.amount_changed,
                   cancelled=item.cancelled, milestones_accepted=item.milestones_accepted,
                   milestones_total=item.milestones_total, disbursed_cents=item.disbursed_cents,
                   tranches=item.tranches, amendment_history=item.amendments)
        return out


class LedgerArgs(PageArgs):
    kind = ma.fields.String(validate=ma.validate.OneOf(list(movements.KINDS)))
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()
    challenge = ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID))
    grant = ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID))
    fund = ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID),
                             metadata={"description": "only the movements of this earmarked fund"})


class MovementSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "the ledger transaction"})
    created_at = ma.fields.AwareDateTime()
    kind = ma.fields.String(metadata={"description": ", ".join(movements.KINDS)})
    reversal = ma.fields.Boolean()
    amount_cents = ma.fields.Integer()
    donor = ma.fields.String(attribute="who", metadata={"description": "contributions: the donor's name, or "
                                                                         "\"anonymous donor\""})
    object = ma.fields.String(attribute="link_text")
    link = ma.fields.String(allow_none=True)
    balances = ma.fields.Function(
        lambda m: {f"{name}_cents": m.balances[name] for name in movements.FIGURES},
        metadata={"type": "object", "description": "each figure after this movement, named with its unit: "
                  + ", ".join(f"{name}_cents" for name in movements.FIGURES)})


class LedgerPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MovementSchema))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
