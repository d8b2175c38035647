"""Writing a review: a draft saved while the round is open, then submitted once, final."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.challenges.models import Criterion
from facility.core.errors import ValidationFailed
from facility.core.inputs import COMMENT_CHARS
from facility.core.models import utcnow
from facility.core.policy import require
from facility.extensions import db
from facility.review import policy
from facility.review.models import REVIEW_TRANSITIONS, Assignment, Review, ReviewStatus, Score
from facility.review.statistics import SCORE_MAX, SCORE_MIN, weighted_hundredths


def parse_scores(scores: Any, criteria: list[Criterion]) -> dict[int, int]:
    """`{criterion id: score}` from what the page or the API sent; blanks are skipped, anything
    else must be a whole number 0..10 for a criterion of the rubric."""
    if scores is None:
        return {}
    if not isinstance(scores, Mapping):
        raise ValidationFailed(_("Some fields need your attention."), errors={"scores": [_("Give scores per criterion.")]})
    known = {c.id for c in criteria}
    parsed: dict[int, int] = {}
    errors: dict[str, list[str]] = {}
    for key, value in scores.items():
        try:
            criterion_id = int(key)
        except (TypeError, ValueError):
            criterion_id = None
        if criterion_id not in known:
            errors.setdefault(f"scores.{key}", []).append(_("Not a criterion of this challenge."))
            continue
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX:
            errors.setdefault(f"scores.{key}", []).append(_("Give a whole number from 0 to 10."))
            continue
        parsed[criterion_id] = value
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    return parsed


def _problems(comment: str, parsed: dict[int, int], criteria: list[Criterion], *, scored: bool,
              eligible: bool | None, submit: bool) -> dict[str, list[str]]:
    """What keeps the review from being saved (a comment too long) or submitted (incomplete)."""
    errors: dict[str, list[str]] = {}
    if len(comment) > COMMENT_CHARS:
        errors["comment"] = [_("At most %(n)s characters; this has %(got)s.", n=f"{COMMENT_CHARS:,}",
                               got=f"{len(comment):,}")]
    if submit:
        if not comment:
            errors["comment"] = [_("A comment is required.")]
        if scored:
            for c in criteria:
                if c.id not in parsed:
                    errors.setdefault(f"scores.{c.id}", []).append(_("Score “%(name)s”.", name=c.name))
        elif eligible is None:
            errors["eligible"] = [_("Say whether the proposal passes the eligibility screening.")]
    return errors


def _store_scores(review: Review, parsed: dict[int, int]) -> None:
    existing = {s.criterion_id: s for s in review.scores}
    for criterion_id, value in parsed.items():
        if criterion_id in existing:
            existing[criterion_id].score = value
        else:
            review.scores.append(Score(criterion_id=criterion_id, score=value))
    for criterion_id, row in existing.items():
        if criterion_id not in parsed:
            review.scores.remove(row)


def check_review(*, actor: User, assignment: Assignment, scores: Mapping[Any, Any] | None = None, comment: str = "",
                 eligible: bool | None = None, submit: bool = False) -> tuple[str, dict[int, int]]:
    """`save_review`'s checks, writing nothing: the page asks it before showing the final submission's
    confirmation. Returns the cleaned comment and the parsed scores; raises as `save_review` would."""
    require(policy.can_edit_review(actor, assignment))
    round_ = assignment.round
    criteria = list(round_.challenge.criteria)
    comment = (comment or "").strip()
    parsed = parse_scores(scores, criteria) if round_.is_scored else {}
    errors = _problems(comment, parsed, criteria, scored=round_.is_scored, eligible=eligible, submit=submit)
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    return comment, parsed


def save_review(*, actor: User, assignment: Assignment, scores: Mapping[Any, Any] | None = None, comment: str = "",
                eligible: bool | None = None, submit: bool = False) -> Review:
    """Rule: the assigned, non-conflicted reviewer writes a draft while the round is open and may
    submit it once every criterion is scored 0..10 (eligibility rounds: pass or fail) with a
    comment of at most `COMMENT_CHARS` characters; a submitted review is final."""
    comment, parsed = check_review(actor=actor, assignment=assignment, scores=scores, comment=comment,
                                   eligible=eligible, submit=submit)
    round_ = assignment.round
    criteria = list(round_.challenge.criteria)
    review = assignment.review
    if review is None:
        review = Review(assignment=assignment, status=ReviewStatus.DRAFT)
        db.session.add(review)
    review.comment = comment
    if round_.is_scored:
        _store_scores(review, parsed)
    else:
        review.eligible = eligible
    if submit:
        REVIEW_TRANSITIONS.move(review, ReviewStatus.SUBMITTED)
        review.submitted_at = utcnow()
    # The weighted total the ranking reads, written with the scores in the same flush: only a
    # submitted review of a scored round counts (it scores every criterion: checked above).
    review.weighted_points = (weighted_hundredths(parsed, {c.id: c.weight for c in criteria})
                              if submit and round_.is_scored else None)
    db.session.flush()
    if submit:
        record("review.submitted", actor=actor, obj=review,
               details={"assignment_id": assignment.id, "round_id": round_.id})
    return review
