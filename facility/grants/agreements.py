"""A grant's agreement versions: version 1 as awarded, one more for each amendment in force (never changed)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from facility.extensions import db
from facility.grants.amendment_models import GrantAgreementVersion, GrantAmendment
from facility.grants.models import Grant, Tranche


def schedule_of(tranches: Iterable[Tranche]) -> list[dict[str, Any]]:
    """The tranches as plain values (JSON): what an agreement version and an amendment's old schedule keep."""
    return [{"tranche_id": t.id, "position": t.position, "title": t.title, "amount_cents": int(t.amount_cents),
             "due_date": t.due_date.isoformat() if t.due_date else None, "status": t.status.value}
            for t in sorted(tranches, key=lambda t: t.position)]


def write_agreement_version(*, grant: Grant, amendment: GrantAmendment | None = None) -> GrantAgreementVersion:
    """Rule: each version of a grant's agreement is kept, numbered 1, 2, ... (the award's agreement is version 1);
    the new version is the grant's agreement text, total and tranches as they are now."""
    db.session.flush()
    latest = db.session.execute(sa.select(sa.func.max(GrantAgreementVersion.version))
                                .where(GrantAgreementVersion.grant_id == grant.id)).scalar()
    version = GrantAgreementVersion(grant_id=grant.id, version=int(latest or 0) + 1,
                                    agreement_text=grant.agreement_text, schedule=schedule_of(grant.tranches),
                                    total_cents=grant.amount_cents,
                                    amendment_id=amendment.id if amendment is not None else None)
    db.session.add(version)
    db.session.flush()
    return version
