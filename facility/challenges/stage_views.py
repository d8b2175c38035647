"""Pages of staged prizes: "Add the next stage" (`policy.can_add_stage`), and the stages a challenge's page
shows (`challenge_stages`, a template global: the chain and who advanced into an invitation-only stage)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.challenges import policy, queries, stages
from facility.challenges.models import Challenge
from facility.challenges.stage_forms import FIELD_MAP, NextStageForm
from facility.core.forms import FAILED, attempt
from facility.extensions import db

bp = Blueprint("stages", __name__, url_prefix="/challenges")


def _user() -> Any:
    return current_user._get_current_object() if current_user.is_authenticated else None


def _timezone() -> str:
    return current_user.timezone if current_user.is_authenticated and current_user.timezone else "UTC"


@bp.app_template_global("challenge_stages")
def challenge_stages(challenge: Challenge) -> dict[str, Any]:
    """For the challenge's page: `stages`, the chain the viewer may see (empty for a one-stage challenge),
    and `invitations`, who advanced into this stage and why (an invitation-only stage's): two queries."""
    invitations = queries.invitations_of(challenge) if challenge.invitation_only else []
    return {"stages": queries.visible_stages(_user(), challenge), "invitations": invitations}


@bp.route("/<int:challenge_id>/next-stage", methods=["GET", "POST"])
@role_required(Role.CITY_OFFICIAL, Role.FUND_MANAGER)
def new_stage(challenge_id: int) -> ResponseReturnValue:
    """Add the next stage: a draft pre-filled from this one, with its own pool and dates."""
    user = _user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    refusal = policy.can_add_stage(user, challenge)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()  # the wrong person: 403 before the form
    form = NextStageForm()
    if refusal is None and form.validate_on_submit():
        stage = attempt(form, stages.add_next_stage, field_map=FIELD_MAP, actor=user, challenge=challenge,
                        **form.data_for_service(_timezone()))
        if stage is not FAILED:
            db.session.commit()
            flash(_("The next stage is saved as a draft. Check it, then submit it for approval."), "success")
            return redirect(url_for("challenges.show", challenge_id=stage.id))
    status = 422 if form.errors or form.form_errors else 409 if refusal is not None and request.method == "POST" else 200
    return render_template("challenges/next_stage.html", challenge=challenge, form=form,
                           refusal=refusal.reason if refusal is not None else ""), status
