"""Pages of staged prizes: "Invite the previous stage's grantees" for the fund managers and the city's
officials (`policy.can_invite_to_stage`, `stage_policy.can_invite`), each grant listed with why it may or may not
advance."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.challenges import queries as challenge_queries
from facility.core.errors import NotFound
from facility.core.forms import FAILED, attempt
from facility.extensions import db
from facility.grants import policy, stage_facts, stages
from facility.grants.models import Grant
from facility.grants.stage_forms import InviteForm

bp = Blueprint("stage_invitations", __name__, url_prefix="/challenges")


def _user() -> Any:
    return current_user._get_current_object()


def _render(stage: Any, refusal: str, posted: InviteForm | None = None, posted_for: int | None = None,
            status: int = 200) -> ResponseReturnValue:
    """The list; a refused form is shown on its row, or above the list when its grant has no row with a form."""
    items = stage_facts.candidates(stage) if not refusal else []
    previous = db.session.get(type(stage), stage.previous_stage_id) if stage.previous_stage_id else None
    invite_forms = {c.grant.id: posted if posted is not None and posted_for == c.grant.id
                    else InviteForm(prefix=f"g{c.grant.id}") for c in items if c.eligible}
    return render_template("grants/stage_invitations.html", stage=stage, previous=previous, candidates=items,
                           invite_forms=invite_forms, invitations=challenge_queries.invitations_of(stage),
                           refusal=refusal, posted=posted if posted_for not in invite_forms else None), status


def _stage(challenge_id: int) -> tuple[Any, str]:
    """The stage and, when invitations are closed for its state, why; a 403 for the wrong person."""
    stage = challenge_queries.get_visible_challenge(_user(), challenge_id)
    refusal = policy.can_invite_to_stage(_user(), stage)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()
    return stage, refusal.reason if refusal is not None else ""


@bp.route("/<int:challenge_id>/invitations", methods=["GET"])
@role_required(Role.FUND_MANAGER, Role.CITY_OFFICIAL)
def candidates(challenge_id: int) -> ResponseReturnValue:
    """The previous stage's grants: who may advance (with an invitation form) and why the others may not."""
    stage, refusal = _stage(challenge_id)
    return _render(stage, refusal)


@bp.route("/<int:challenge_id>/invitations/<int:grant_id>", methods=["POST"])
@role_required(Role.FUND_MANAGER, Role.CITY_OFFICIAL)
def invite(challenge_id: int, grant_id: int) -> ResponseReturnValue:
    """Invite the grant's organisation into this stage, with the public reason."""
    stage, refusal = _stage(challenge_id)
    grant = db.session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_("No grant %(id)s.", id=grant_id))
    form = InviteForm(prefix=f"g{grant.id}")
    if not refusal and form.validate_on_submit():
        done = attempt(form, stages.invite_to_next_stage, actor=_user(), grant=grant, next_stage=stage,
                       reason=form.reason.data)
        if done is not FAILED:
            db.session.commit()
            flash(_("%(org)s is invited; its members are being told by e-mail.", org=grant.organization.name),
                  "success")
            return redirect(url_for("stage_invitations.candidates", challenge_id=stage.id))
    if refusal and not form.form_errors:
        form.form_errors.append(refusal)
    return _render(stage, refusal, form, grant.id, 409 if refusal else 422)
