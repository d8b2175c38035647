"""The form that invites a grantee of the previous stage into the next (`grants.stages`)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from facility.core.inputs import REASON_CHARS


class InviteForm(FlaskForm):
    reason = TextAreaField(_l("Why it advances"), validators=[DataRequired(), Length(max=REASON_CHARS)],
                           description=_l("Shown on the stage's public page, e.g. which pilot results convinced you."))
    submit = SubmitField(_l("Invite to this stage"))
