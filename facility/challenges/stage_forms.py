"""The form that adds a challenge's next stage (`challenges.stages.add_next_stage`)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from facility.challenges.forms import _amount, dollars_to_cents
from facility.challenges.stages import STAGE_NAME_CHARS
from facility.core.forms import SaneDate


class NextStageForm(FlaskForm):
    stage_name = StringField(_l("Name of the next stage"), validators=[DataRequired(), Length(max=STAGE_NAME_CHARS)],
                             description=_l("A short name shown with the title, e.g. Scale."))
    previous_stage_name = StringField(_l("Name of this stage"), validators=[Optional(), Length(max=STAGE_NAME_CHARS)],
                                      description=_l("Optional, e.g. Pilot; only if this stage has no name yet."))
    prize_pool = StringField(_l("Prize pool (USD)"), validators=[DataRequired(), _amount])
    max_award = StringField(_l("Largest single award (USD)"), validators=[DataRequired(), _amount])
    opens_at = DateTimeLocalField(_l("Opens"), validators=[InputRequired(), SaneDate()], format="%Y-%m-%dT%H:%M",
                                  description=_l("In your time zone; not before this stage's deadline."))
    closes_at = DateTimeLocalField(_l("Deadline"), validators=[InputRequired(), SaneDate()], format="%Y-%m-%dT%H:%M",
                                   description=_l("In your time zone (see your profile)."))
    invitation_only = BooleanField(_l("By invitation only: only organisations invited from this stage may apply"),
                                   default=True)
    submit = SubmitField(_l("Create the next stage as a draft"))

    def data_for_service(self, timezone: str) -> dict:
        zone = ZoneInfo(timezone)
        return {
            "stage_name": self.stage_name.data, "previous_stage_name": self.previous_stage_name.data or "",
            "prize_pool_cents": dollars_to_cents(self.prize_pool.data),
            "max_award_cents": dollars_to_cents(self.max_award.data),
            "opens_at": self.opens_at.data.replace(tzinfo=zone) if self.opens_at.data else None,
            "closes_at": self.closes_at.data.replace(tzinfo=zone) if self.closes_at.data else None,
            "invitation_only": bool(self.invitation_only.data),
        }


FIELD_MAP = {"prize_pool_cents": "prize_pool", "max_award_cents": "max_award"}
"""Service error keys -> form fields (other errors, e.g. of the copied title or rubric, show above the form)."""
