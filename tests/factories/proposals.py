"""Proposals."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from facility.accounts.models import Organization, OrgKind, OrgType, User
from facility.challenges.models import Challenge
from facility.core.models import utcnow
from facility.extensions import db
from facility.proposals import services as proposal_services
from facility.proposals.models import BudgetCategory, Milestone, Proposal, ProposalBudgetLine, ProposalStatus
from tests.factories.accounts import make_org


def budget_for(total: int) -> dict:
    """A budget adding up to `total` cents: half personnel, a quarter equipment, the rest services."""
    personnel, equipment = total // 2, total // 4
    return {"personnel_cents": personnel, "equipment_cents": equipment,
            "services_cents": total - personnel - equipment, "travel_cents": 0, "other_cents": 0}


def complete_data(**overrides) -> dict:
    """A proposal that may be submitted as it stands (API shapes: dates as ISO strings)."""
    data = {
        "title": "Solar water kiosks",
        "summary": "Pay-as-you-go clean water.",
        "approach": "We *install* kiosks.",
        "team": "Amina (engineer), Tom (operations)",
        "requested_cents": 30_000_00,
        "beneficiary_groups": ["urban_poor", "women"],
        "privacy_impact": "No personal data beyond phone numbers, deleted after 90 days.",
        "milestones": [
            {"title": "Pilot", "due_date": "2027-06-30", "amount_cents": 10_000_00, "deliverable": "Two kiosks"},
            {"title": "Scale", "due_date": "2027-12-31", "amount_cents": 20_000_00, "deliverable": "Ten kiosks"},
        ],
        "budget": budget_for(30_000_00),
    }
    if "requested_cents" in overrides and "budget" not in overrides:
        data["budget"] = budget_for(max(overrides["requested_cents"] or 0, 0))  # still adds up to the request
    data.update(overrides)
    return data


def service_data(data: dict) -> dict:
    """API-shaped data with real dates, as the API schema hands it to the service."""
    out = dict(data)
    out["milestones"] = [dict(m, due_date=date.fromisoformat(m["due_date"]) if m.get("due_date") else None)
                         for m in data.get("milestones", [])]
    return out


def make_proposal(challenge: Challenge, user: User | None = None, *, submit: bool = False, via: str = "services",
                  org: Organization | None = None, title: str | None = None, amounts: Sequence[int] = (1_000_000, 2_000_000),
                  status: ProposalStatus = ProposalStatus.SUBMITTED, budget_lines: dict | None = None,
                  **overrides) -> Proposal:
    """A proposal to `challenge`.

    via="services" (default): `user` (an innovator) creates it from `complete_data(**overrides)` and, with
    `submit=True`, submits it; the challenge must be open.
    via="models": a proposal of `org` (a new innovator organisation if none) in `status`, submitted now,
    with one milestone per amount in `amounts` and the `budget_lines` given ({"personnel": cents, ...};
    none by default), inserted directly (for a challenge already closed).
    """
    if via == "models":
        title = title or "Proposal"
        org = org or make_org(name=f"Innovator of {title}", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP)
        proposal = Proposal(challenge_id=challenge.id, organization_id=org.id, title=title, summary="s",
                            approach="a", requested_cents=sum(amounts), status=status, submitted_at=utcnow())
        for position, amount in enumerate(amounts, start=1):
            proposal.milestones.append(Milestone(position=position, title=f"Milestone {position}",
                                                 due_date=date(2027, position, 1), amount_cents=amount,
                                                 deliverable=f"Deliverable {position}"))
        for category, cents in (budget_lines or {}).items():
            proposal.budget_lines.append(ProposalBudgetLine(category=BudgetCategory(category), amount_cents=cents))
        db.session.add(proposal)
        db.session.commit()
        return proposal
    if title is not None:
        overrides["title"] = title
    proposal = proposal_services.create_proposal(actor=user, challenge=challenge,
                                                 data=service_data(complete_data(**overrides)))
    if submit:
        proposal_services.submit_proposal(actor=user, proposal=proposal)
    db.session.commit()
    return proposal
