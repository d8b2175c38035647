"""Forms of the review pages."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, NumberRange, Optional

from facility.challenges.models import SCORE_MAX, SCORE_MIN, Criterion
from facility.core.forms import SaneDate
from facility.core.inputs import COMMENT_CHARS, NAME_CHARS, REASON_CHARS
from facility.core.labels import choices
from facility.review.models import DecisionKind, RoundKind


def score_choices() -> list[tuple[str, str]]:
    """0..10 with labelled anchors."""
    anchors = {0: _l("absent"), 2: _l("weak"), 5: _l("adequate"), 8: _l("strong"), 10: _l("exceptional")}
    return [(str(n), f"{n} — {anchors[n]}" if n in anchors else str(n)) for n in range(SCORE_MIN, SCORE_MAX + 1)]


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token (close a round, remove an assignment...)."""

    submit = SubmitField(_l("Confirm"))


class InviteForm(FlaskForm):
    email = EmailField(_l("Reviewer's e-mail address"), validators=[DataRequired(), Email(), Length(max=320)],
                       description=_l("An existing reviewer account is added at once; anyone else gets an invitation."))
    name = StringField(_l("Name (for the invitation)"), validators=[Optional(), Length(max=NAME_CHARS)])
    submit = SubmitField(_l("Add or invite"))


class ObserverForm(FlaskForm):
    user_id = SelectField(_l("City official"), coerce=int, validators=[InputRequired()])
    submit = SubmitField(_l("Add as observer"))


class RoundForm(FlaskForm):
    opens_at = DateTimeLocalField(_l("Opens (UTC)"), format="%Y-%m-%dT%H:%M",
                                validators=[InputRequired(), SaneDate()])
    closes_at = DateTimeLocalField(_l("Closes (UTC)"), format="%Y-%m-%dT%H:%M",
                                validators=[InputRequired(), SaneDate()])
    can_review = BooleanField(_l("Reviewers can write reviews"))
    can_see_others = BooleanField(_l("Reviewers see the others' reviews after submitting their own"))
    submit = SubmitField(_l("Save round"))


class AssignForm(FlaskForm):
    round = SelectField(_l("Round"), choices=choices(RoundKind), default=RoundKind.SCORING.value)
    reviewers_per_proposal = IntegerField(_l("Reviewers per proposal"), default=3,
                                          validators=[InputRequired(), NumberRange(min=1, max=20)])
    submit = SubmitField(_l("Assign automatically"))


class ManualAssignForm(FlaskForm):
    proposal_id = SelectField(_l("Proposal"), coerce=int, validators=[InputRequired()])
    reviewer_id = SelectField(_l("Reviewer"), coerce=int, validators=[InputRequired()])
    submit = SubmitField(_l("Assign"))


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=REASON_CHARS)])
    submit = SubmitField(_l("Waive this review"))


class ConflictForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=REASON_CHARS)],
                           description=_l("Only fund managers read it."))
    abstain = BooleanField(_l("I abstain (no conflict, but I will not review this proposal)"))
    submit = SubmitField(_l("Declare"))


class AffiliationForm(FlaskForm):
    organization_name = StringField(_l("Organisation"), validators=[DataRequired(), Length(max=NAME_CHARS)],
                                    render_kw={"autocomplete": "organization"})
    website_domain = StringField(_l("Website domain (optional)"), validators=[Optional(), Length(max=300)],
                                 description=_l("For example example.org."))
    from_year = IntegerField(_l("From (year, optional)"), validators=[Optional(), NumberRange(min=1900, max=2999)])
    to_year = IntegerField(_l("Until (year)"), validators=[Optional(), NumberRange(min=1900, max=2999)],
                           description=_l("Leave empty if you still work with them."))
    submit = SubmitField(_l("Declare the affiliation"))


class DecisionForm(FlaskForm):
    kind = SelectField(_l("Decision"), choices=[(DecisionKind.SHORTLIST.value, _l("Shortlist")),
                                                (DecisionKind.AWARD_RECOMMENDATION.value, _l("Recommend an award")),
                                                (DecisionKind.DECLINE.value, _l("Decline"))])
    note = StringField(_l("Note (internal)"), validators=[Optional(), Length(max=REASON_CHARS)])
    submit = SubmitField(_l("Prepare"))


class AcceptInvitationForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=NAME_CHARS)],
                       render_kw={"autocomplete": "name"})
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             description=_l("At least 12 characters."),
                             render_kw={"autocomplete": "new-password", "minlength": 12})
    confirm = PasswordField(_l("Password again"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Create my reviewer account"))


def descriptor_summary(criterion: Criterion) -> str:
    """'0–3: …; 4–6: …; 7–10: …' for the score bands the criterion describes (empty without descriptors)."""
    return "; ".join(_("%(low)d–%(high)d: %(meaning)s", low=low, high=high, meaning=text)
                     for low, high, text in criterion.score_bands)


def review_form_class(criteria: list[Criterion], eligibility: bool) -> type[FlaskForm]:
    """The scoring form of one rubric: a radio group 0..10 per criterion (or pass/fail), a comment."""

    class ReviewForm(FlaskForm):
        comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=COMMENT_CHARS)],
                                description=_l("Required to submit. Applicants read it without your name."))
        save = SubmitField(_l("Save draft"))
        save_next = SubmitField(_l("Save and next"))
        submit_review = SubmitField(_l("Submit review (final)"))
        # The final submission's confirmation step (the values in hidden fields): submit, or back to the form.
        confirm = SubmitField(_l("Yes, submit my final review"))
        back = SubmitField(_l("No, go back to the form"))

    if eligibility:
        ReviewForm.eligible = RadioField(_l("Eligibility"), choices=[("pass", _l("Passes")), ("fail", _l("Fails"))],
                                         validators=[Optional()])
    for criterion in criteria:
        description = " ".join(part for part in (criterion.description, descriptor_summary(criterion)) if part)
        setattr(ReviewForm, f"c_{criterion.id}", RadioField(
            f"{criterion.name} ({criterion.weight}%)", choices=score_choices(), validators=[Optional()],
            description=description))
    return ReviewForm
