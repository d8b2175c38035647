"""API: contributions (pledges, wires confirmed, earmarks and co-funding), what a donor's money paid for, the
facility's totals and its public ledger."""
from __future__ import annotations

import marshmallow as ma

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import public, require_user
from facility.api.public_schemas import (
    LedgerArgs,
    LedgerPageSchema,
    enum_value,
)
from facility.api.schemas import PageArgs, cents_field, date_field, page_of, paginate
from facility.core.inputs import REFERENCE_CHARS
from facility.core.policy import require
from facility.extensions import db
from facility.grants import (
    attribution,
    contributions,
    policy,
    queries,
)
from facility.grants.models import ContributionMethod, ContributionStatus
from facility.portfolio import public_ledger

blp = api_blueprint("api_contributions", __name__,
                    "Contributions, earmarks, co-funding, attribution, the facility totals and the public ledger")


# --- schemas -------------------------------------------------------------------

class ContributionInSchema(ma.Schema):
    amount_cents = cents_field(required=True)
    method = ma.fields.String(required=True, validate=ma.validate.OneOf([m.value for m in ContributionMethod]),
                              metadata={"description": "wire, or stripe (card) only where Stripe is configured: "
                                                       "without it a card pledge is refused (422, errors.method)"})
    anonymous = ma.fields.Boolean(load_default=False,
                                  metadata={"description": "name an \"anonymous donor\" on the public ledger"})
    earmark = ma.fields.Dict(keys=ma.fields.String(), load_default=None, allow_none=True, metadata={
        "description": "what the money may pay for, exactly one of {\"focus_area\": \"inclusive_innovation\"}, "
                       "{\"country_group\": \"LDC\" (LDC, LLDC, SIDS or global_south)}, "
                       "{\"region\": \"Africa\" (a UN M49 region's name or code)} or {\"challenge_id\": N} "
                       "(co-funding: donors, or the officials of the challenge's city); null for none"})


class WireInstructionsSchema(ma.Schema):
    bank = ma.fields.String()
    account_name = ma.fields.String()
    iban = ma.fields.String()
    swift = ma.fields.String()
    reference = ma.fields.String()
    amount = ma.fields.String()


class ContributionSchema(ma.Schema):
    id = ma.fields.Integer()
    reference = ma.fields.String()
    amount_cents = ma.fields.Integer()
    method = ma.fields.Function(lambda c: enum_value(c.method))
    status = ma.fields.Function(lambda c: enum_value(c.status))
    donor_organization_id = ma.fields.Integer(allow_none=True)
    anonymous = ma.fields.Boolean()
    earmark = ma.fields.Dict(allow_none=True, metadata={"description": "as pledged; null for unrestricted money"})
    fund_id = ma.fields.Integer(allow_none=True,
                                metadata={"description": "the ledger fund keeping earmarked money apart, "
                                                         "created when the money is received"})
    received_cents = ma.fields.Integer(allow_none=True)
    received_on = ma.fields.Date(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    wire_instructions = ma.fields.Method("_wire")
    checkout_url = ma.fields.Method("_checkout")

    def _wire(self, contribution):
        if contribution.method != ContributionMethod.WIRE or contribution.status != ContributionStatus.PLEDGED:
            return None
        return WireInstructionsSchema().dump(contributions.wire_instructions(contribution))

    def _checkout(self, contribution):
        if contribution.status != ContributionStatus.CHECKOUT_OPEN:
            return None
        return contributions.checkout_url(contribution)


class AttributionArgs(PageArgs):
    basis = ma.fields.String(load_default="earmarked", validate=ma.validate.OneOf(["earmarked", "pooled"]),
                             metadata={"description": "earmarked: exact rows per earmarked contribution and grant; "
                                                      "pooled: the general fund's grants with the caller's share"})


class AttributionItemSchema(ma.Schema):
    grant_id = ma.fields.Integer()
    contribution_id = ma.fields.Integer(allow_none=True, metadata={"description": "earmarked rows only"})
    earmark = ma.fields.Dict(allow_none=True)
    committed_cents = ma.fields.Integer(allow_none=True, metadata={"description": "earmarked: still committed"})
    paid_cents = ma.fields.Integer(allow_none=True, metadata={"description": "earmarked: paid to the grantee"})
    general_cents = ma.fields.Integer(allow_none=True,
                                      metadata={"description": "pooled: the grant's general-fund money"})
    attributed_cents = ma.fields.Integer(metadata={"description": "what the caller's money paid for, US cents"})


class AttributionSchema(page_of(AttributionItemSchema)):  # type: ignore[misc]
    basis = ma.fields.String()
    rule = ma.fields.String(metadata={"description": "how the rows are counted"})
    pooled_donor_cents = ma.fields.Integer(metadata={"description": "the caller's unrestricted money received"})
    pooled_total_cents = ma.fields.Integer(metadata={"description": "all unrestricted money received"})


ATTRIBUTION_RULE = ("Earmarked money is attributed exactly, from the ledger: each earmarked contribution's fund's "
                    "share of each grant's commitment and of its payments. Unrestricted money is attributed pro "
                    "rata: the caller's unrestricted money received over all unrestricted money received, times "
                    "each grant's general-fund money (committed and paid), rounded down to the cent.")


class ConfirmWireSchema(ma.Schema):
    amount_cents = cents_field(required=True, metadata={"description": "received, in US cents"})
    received_on = date_field(required=True)
    bank_reference = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REFERENCE_CHARS))


class FacilitySchema(ma.Schema):
    """The facility's totals from the ledger, each amount named with its unit (DESIGN.md section 4)."""

    target_cents = ma.fields.Integer(attribute="target", metadata={"description": "US cents (USD 1 billion)"})
    raised_cents = ma.fields.Integer(attribute="raised", metadata={"description": "US cents received from donors"})
    unallocated_cents = ma.fields.Integer(attribute="unallocated", metadata={"description": "US cents"})
    allocated_cents = ma.fields.Integer(attribute="allocated", metadata={"description": "US cents in prize pools"})
    committed_cents = ma.fields.Integer(attribute="committed",
                                        metadata={"description": "US cents committed to grants, not yet paid"})
    disbursed_cents = ma.fields.Integer(attribute="disbursed", metadata={"description": "US cents paid to grantees"})
    held_cents = ma.fields.Integer(attribute="held", metadata={"description": "US cents not yet paid out"})
    progress_pct = ma.fields.Function(lambda f: round(f["raised"] * 100 / f["target"], 1) if f["target"] else 0.0,
                                      metadata={"description": "raised_cents of target_cents, percent, one decimal"})
    countries = ma.fields.Integer(metadata={"description": "national governments engaged (GET /results defines it)"})
    cities = ma.fields.Integer(metadata={"description": "city governments engaged (GET /results defines it)"})
    technology_companies = ma.fields.Integer(metadata={"description": "technology companies engaged "
                                                                      "(GET /results defines it)"})


# --- endpoints -----------------------------------------------------------------

@blp.route("/contributions", methods=["POST"])
@requires(Role.DONOR, Role.CITY_OFFICIAL)
@blp.arguments(ContributionInSchema)
@blp.response(201, ContributionSchema)
def create_contribution(data):
    """Pledge a contribution: a wire (answered with payment instructions) or a card (with `checkout_url`),
    optionally earmarked; a city's official pledges only to co-fund one of the city's challenges."""
    user = require_user()
    contribution = contributions.pledge_contribution(actor=user, amount_cents=data["amount_cents"],
                                                     method=data["method"], anonymous=data["anonymous"],
                                                     earmark=data["earmark"])
    db.session.commit()
    return contribution


@blp.route("/contributions", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ContributionSchema))
def list_contributions(args):
    """The caller's contributions (and their organisation's), newest first."""
    return paginate(queries.contributions_of(require_user()), page=args["page"], per_page=args["per_page"])


@blp.route("/contributions/pending-wires", methods=["GET"])
@requires(Role.FUND_MANAGER, Role.AUDITOR)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ContributionSchema))
def pending_wires(args):
    """Wire pledges waiting for a fund manager to confirm receipt, oldest first."""
    require(policy.can_see_money_queues(require_user()))
    return paginate(queries.pending_wires(), page=args["page"], per_page=args["per_page"])


@blp.route("/contributions/<int:contribution_id>", methods=["GET"])
@blp.response(200, ContributionSchema)
def get_contribution(contribution_id):
    """One contribution: its pledging donor and fund managers."""
    return queries.get_visible_contribution(require_user(), contribution_id)


@blp.route("/me/attribution", methods=["GET"])
@requires(Role.DONOR, Role.CITY_OFFICIAL)
@blp.arguments(AttributionArgs, location="query")
@blp.response(200, AttributionSchema)
def my_attribution(args):
    """Which grants the caller's contributions paid for: `basis=earmarked` (exact) or `pooled` (pro rata)."""
    user = require_user()
    require(policy.can_view_attribution(user))
    share = attribution.pooled_share(user)
    page, per_page = args["page"], min(args["per_page"], 100)
    items: list[dict] = []
    if args["basis"] == "earmarked":
        found = attribution.earmarked_page(user, page=page, per_page=per_page)
        items = [{"grant_id": row.grant.id, "contribution_id": row.contribution.id, "earmark": row.contribution.earmark,
                  "committed_cents": row.committed_cents, "paid_cents": row.paid_cents,
                  "attributed_cents": row.committed_cents + row.paid_cents} for row in found.items]
        total = found.total
    elif share.donor_cents:
        pooled = attribution.pooled_page(share, page=page, per_page=per_page)
        items = [{"grant_id": row.grant.id, "general_cents": row.general_cents,
                  "attributed_cents": row.attributed_cents} for row in pooled.items]
        total = pooled.total
    else:
        total = 0
    return {"items": items, "page": page, "per_page": per_page, "total": total, "basis": args["basis"],
            "rule": ATTRIBUTION_RULE, "pooled_donor_cents": share.donor_cents, "pooled_total_cents": share.total_cents}


@blp.route("/contributions/<int:contribution_id>/confirm", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(ConfirmWireSchema)
@blp.response(200, ContributionSchema)
def confirm_contribution(data, contribution_id):
    """A fund manager confirms a wire received: books it in the ledger (409 if already confirmed)."""
    user = require_user()
    contribution = queries.get_visible_contribution(user, contribution_id)
    contributions.confirm_wire_contribution(contribution=contribution, actor=user,
                                            received_cents=data["amount_cents"], received_on=data["received_on"],
                                            bank_reference=data["bank_reference"])
    db.session.commit()
    return contribution


# --- facility ----------------------------------------------------------------------

@blp.route("/facility", methods=["GET"])
@public
@blp.response(200, FacilitySchema)
def facility():
    """The facility's totals in US cents (`*_cents`, target USD 1 billion) and the engagement counts,
    counted as GET /results counts them."""
    return queries.facility_figures()


@blp.route("/facility/ledger", methods=["GET"])
@public
@blp.arguments(LedgerArgs, location="query")
@blp.response(200, LedgerPageSchema)
def facility_ledger(args):
    """The public ledger: every facility-level movement, newest first, with the running balance of each
    figure after it (they end at `GET /facility`), filtered by kind, dates, challenge or grant."""
    page, per_page = args.pop("page"), args.pop("per_page")
    result = public_ledger.ledger_page(public_ledger.LedgerFilter(**args), page=page, per_page=per_page)
    return {"items": result.items, "page": page, "per_page": per_page, "total": result.total}


# --- awards and grants ---------------------------------------------------------------
