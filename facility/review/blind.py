"""What a reviewer may read of a proposal: blind titles and the blind view (no applicant names).

Free text is redacted of the applicant organisation's name, its members' names and e-mails (and
any e-mail address), so an applicant naming itself in its own text does not break blindness.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import Organization, User
from facility.core.labels import is_labelled, label
from facility.extensions import db
from facility.proposals.models import BeneficiaryGroup, Proposal

_EMAIL = re.compile(r"[^@\s<>()\[\]]+@[^@\s<>()\[\]]+\.[A-Za-z]{2,}")
REDACTED = "[…]"

Redactor = Callable[[str | None], str]


def _redactor(org_words: set[str]) -> Redactor:
    cleaned = sorted((w.strip() for w in org_words if w and len(w.strip()) >= 3), key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(w) for w in cleaned), re.IGNORECASE) if cleaned else None

    def redact(text: str | None) -> str:
        text = _EMAIL.sub(REDACTED, text or "")
        return pattern.sub(REDACTED, text) if pattern else text

    return redact


def redactors(proposals: Iterable[Proposal]) -> dict[int, Redactor]:
    """Per proposal, a function that blanks its applicant's names and e-mails in free text.
    Two queries for any number of proposals."""
    proposals = list(proposals)
    org_ids = {p.organization_id for p in proposals}
    words: dict[int, set[str]] = {org_id: set() for org_id in org_ids}
    if org_ids:
        for org_id, name in db.session.execute(
                sa.select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))):
            words[org_id].add(name)
        for member_org, name, email in db.session.execute(
                sa.select(User.organization_id, User.name, User.email).where(User.organization_id.in_(org_ids))):
            if member_org is not None:
                words[member_org].update((name, email))
    by_org = {org_id: _redactor(w) for org_id, w in words.items()}
    return {p.id: by_org[p.organization_id] for p in proposals}


def blind_titles(proposals: Iterable[Proposal]) -> dict[int, str]:
    """Redacted titles for lists a reviewer sees (queue, panel), in a fixed number of queries."""
    proposals = list(proposals)
    redact = redactors(proposals)
    return {p.id: redact[p.id](p.title) for p in proposals}


def beneficiary_labels(values: Iterable[str]) -> list[str]:
    """The beneficiary groups of a blind view as people read them (never the raw codes)."""
    known = {g.value: g for g in BeneficiaryGroup}
    shown = []
    for value in values:
        group = known.get(value)
        if group is not None and is_labelled(BeneficiaryGroup):
            shown.append(str(label(group)))
        else:  # until proposals labels the enum (or an old snapshot's code): readable all the same
            shown.append(str(value).replace("_", " ").capitalize())
    return shown


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


_TYPE_LABELS = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG", "text/csv": "CSV",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
                "application/vnd.oasis.opendocument.text": "ODT", "text/plain": "TXT"}


def _live_data(proposal: Proposal) -> dict[str, Any]:
    """The proposal's rows in the shape of a snapshot (for one submitted before snapshots existed)."""
    return {
        "title": proposal.title, "summary": proposal.summary, "approach": proposal.approach,
        "requested_cents": proposal.requested_cents, "beneficiary_groups": list(proposal.beneficiary_groups),
        "privacy_impact": proposal.privacy_impact,
        "milestones": [{"position": m.position, "title": m.title,
                        "due_date": m.due_date.isoformat() if m.due_date else None,
                        "amount_cents": m.amount_cents, "deliverable": m.deliverable} for m in proposal.milestones],
        "attachments": [{"content_type": a.content_type, "size_bytes": a.size_bytes} for a in proposal.attachments],
    }


def blind_view(proposal: Proposal) -> dict[str, Any]:
    """What a reviewer sees: the submitted snapshot (the live rows only if none was frozen), built
    from an allow-list — no organisation, no team, no names or e-mails; attachments only as
    "Attachment 1 (PDF, 240 KB)"."""
    snapshot = proposal.latest_snapshot
    data = snapshot.data if snapshot is not None else _live_data(proposal)
    redact = redactors([proposal])[proposal.id]
    return {
        "proposal_id": proposal.id,
        "version": snapshot.version if snapshot is not None else None,
        "title": redact(data.get("title")),
        "summary": redact(data.get("summary")),
        "approach": redact(data.get("approach")),
        "requested_cents": int(data.get("requested_cents") or 0),
        "beneficiary_groups": [str(g) for g in data.get("beneficiary_groups") or []],
        "privacy_impact": redact(data.get("privacy_impact")),
        "milestones": [
            {"position": m.get("position"), "title": redact(m.get("title")), "due_date": m.get("due_date"),
             "amount_cents": int(m.get("amount_cents") or 0), "deliverable": redact(m.get("deliverable"))}
            for m in data.get("milestones") or []
        ],
        "attachments": [
            {"label": _("Attachment %(n)d (%(type)s, %(size)s)", n=i,
                        type=_TYPE_LABELS.get(a.get("content_type"), _("file")),
                        size=_human_size(int(a.get("size_bytes") or 0)))}
            for i, a in enumerate(data.get("attachments") or [], start=1)
        ],
    }
