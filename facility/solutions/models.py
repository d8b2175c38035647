"""Replications: a challenge a city started from a proven solution (a grant whose milestones were all
accepted, `solutions.queries.solution_condition`). Solutions themselves have no table: they are derived."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.accounts.models import Organization
from facility.challenges.models import Challenge
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants.models import Grant


class Replication(db.Model):
    """The link between a solution (its grant) and the challenge that replicates it in another city; the
    original grantee's organisation is invited to apply (the challenge stays open to everyone)."""

    __tablename__ = "replications"

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="RESTRICT"), index=True,
                                                   nullable=False)
    challenge_id: Mapped[int] = mapped_column(sa.ForeignKey("challenges.id", ondelete="CASCADE"), unique=True,
                                              nullable=False)
    invited_organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    solution: Mapped[Grant] = relationship(foreign_keys=[solution_grant_id])
    challenge: Mapped[Challenge] = relationship(foreign_keys=[challenge_id])
    invited_organization: Mapped[Organization | None] = relationship(foreign_keys=[invited_organization_id])
