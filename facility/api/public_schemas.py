"""API schemas of the public record: the grants register, a grant's public view, the public ledger.

Only the fields listed here leave the server for an anonymous caller; what they read is decided by
`portfolio.register` and `portfolio.public_ledger` (no bank details, no private report, no reviewer,
no e-mail address, nothing of a draft).
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from facility.api.schemas import PageArgs
from facility.challenges.sdg import is_target
from facility.core.inputs import MAX_ID
from facility.grants.models import GrantStatus
from facility.ledger import movements
from facility.portfolio.register import FIRST_YEAR, LAST_YEAR


def _enum(value: Any) -> Any:
    return value.value if value is not None else None


class RegisterArgs(PageArgs):
    """The register's filters (those of `/grants`); `mine` gives the caller's organisation's grants."""

    country = ma.fields.String(validate=ma.validate.Length(equal=3), metadata={"description": "ISO alpha-3"})
    region = ma.fields.String(validate=ma.validate.OneOf(["Africa", "Americas", "Asia", "Europe", "Oceania"]))
    country_group = ma.fields.String(validate=ma.validate.OneOf(["LDC", "LLDC", "SIDS", "global_south"]))
    size_class = ma.fields.String(validate=ma.validate.Length(max=20))
    focus_area = ma.fields.String(validate=ma.validate.Length(max=40))
    sdg_target = ma.fields.String(validate=ma.validate.Length(max=5))
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in GrantStatus]))
    year = ma.fields.Integer(validate=ma.validate.Range(min=FIRST_YEAR, max=LAST_YEAR))
    mine = ma.fields.Boolean(load_default=False, metadata={"description": "only the caller's organisation's "
                                                                          "grants (every grant for staff)"})

    @ma.validates("sdg_target")
    def _sdg(self, value: str, **_kwargs: Any) -> None:
        if not is_target(value.strip()):
            raise ma.ValidationError("Give an SDG target code, e.g. 11.2.")


class PublicOrganizationSchema(ma.Schema):
    name = ma.fields.String()
    org_type = ma.fields.Function(lambda o: _enum(o.org_type))
    country = ma.fields.String(allow_none=True, metadata={"description": "ISO 3166-1 alpha-3"})


class PublicGrantSummarySchema(ma.Schema):
    """A row of the register."""

    id = ma.fields.Integer()
    status = ma.fields.Function(lambda g: _enum(g.status))
    title = ma.fields.Function(lambda g: g.proposal.title)
    proposal_id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    organization_id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()
    awarded_at = ma.fields.AwareDateTime()
    accepted_at = ma.fields.AwareDateTime(allow_none=True)
    grantee = ma.fields.Function(lambda g: PublicOrganizationSchema().dump(g.organization))
    challenge = ma.fields.Function(lambda g: {"id": g.challenge.id, "title": g.challenge.title,
                                              "focus_area": _enum(g.challenge.focus_area)})
    city = ma.fields.Function(lambda g: {"id": g.challenge.city.id, "name": g.challenge.city.name,
                                         "country": g.challenge.city.country})
    sdg_targets = ma.fields.Function(lambda g: list(g.challenge.sdg_targets or []))
    beneficiary_groups = ma.fields.Function(lambda g: list(g.proposal.beneficiary_groups or []))


class PublicTrancheSchema(ma.Schema):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    title = ma.fields.String()
    amount_cents = ma.fields.Integer()
    due_date = ma.fields.Date(allow_none=True)
    status = ma.fields.Function(lambda t: _enum(t.status))
    paid_on = ma.fields.Date(allow_none=True)
    public_summary = ma.fields.String(metadata={"description": "the grantee's public account of the milestone"})


class PublicGrantSchema(ma.Schema):
    """A grant's public view (`portfolio.register.PublicGrant`)."""

    grant = ma.fields.Function(lambda p: PublicGrantSummarySchema().dump(p.grant), data_key="grant")
    requested_cents = ma.fields.Integer()
    amount_changed = ma.fields.Boolean()
    cancelled = ma.fields.Boolean()
    milestones_accepted = ma.fields.Integer()
    milestones_total = ma.fields.Integer()
    disbursed_cents = ma.fields.Integer()
    tranches = ma.fields.List(ma.fields.Nested(PublicTrancheSchema))


class LedgerArgs(PageArgs):
    kind = ma.fields.String(validate=ma.validate.OneOf(list(movements.KINDS)))
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()
    challenge = ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID))
    grant = ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID))


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
    balances = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(),
                              metadata={"description": "each figure after this movement, cents: "
                                                       + ", ".join(movements.FIGURES)})


class LedgerPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MovementSchema))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
