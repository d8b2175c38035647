from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from facility.accounts.forms import org_type_choices
from facility.challenges.models import DESCRIPTOR_CHARS, SCORE_BANDS, FocusArea
from facility.challenges.services import (
    ANSWER_CHARS,
    DESCRIPTION_CHARS,
    DESCRIPTOR_FIELDS,
    QUESTION_CHARS,
    SUMMARY_CHARS,
)
from facility.cities.queries import countries_with_cities
from facility.core.forms import SaneDate, country_choices, parse_usd
from facility.core.inputs import NAME_CHARS, REASON_CHARS
from facility.core.labels import choices

CRITERIA_ROWS = 6


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def dollars_to_cents(value: str | None) -> int | None:
    """'1,234.5' -> 123450; None when it is not an amount above zero with at most two decimals."""
    try:
        return parse_usd(value)
    except ValueError:
        return None


def _amount(form, field):
    try:
        cents = parse_usd(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None
    if cents is None:
        raise ValidationError(_l("Give an amount in US dollars greater than zero, e.g. 250000 or 1250.50."))


def codes(text: str | None) -> list[str]:
    """'11.2, 11.a 3.6' -> ['11.2', '11.a', '3.6']."""
    return [part for part in (text or "").replace(",", " ").replace(";", " ").split() if part]


class CriterionForm(Form):
    name = StringField(_l("Criterion"), validators=[Optional(), Length(max=NAME_CHARS)])
    description = StringField(_l("What it means"), validators=[Optional(), Length(max=REASON_CHARS)])
    weight = IntegerField(_l("Weight"), validators=[Optional(), NumberRange(min=1, max=100)])
    descriptor_low = StringField(_l("What a low score means (%(low)d–%(high)d)", low=SCORE_BANDS[0][0],
                                    high=SCORE_BANDS[0][1]),
                                 validators=[Optional(), Length(max=DESCRIPTOR_CHARS)],
                                 description=_l("Optional; reviewers see it beside the scale."))
    descriptor_mid = StringField(_l("What a middle score means (%(low)d–%(high)d)", low=SCORE_BANDS[1][0],
                                    high=SCORE_BANDS[1][1]),
                                 validators=[Optional(), Length(max=DESCRIPTOR_CHARS)])
    descriptor_high = StringField(_l("What a high score means (%(low)d–%(high)d)", low=SCORE_BANDS[2][0],
                                     high=SCORE_BANDS[2][1]),
                                  validators=[Optional(), Length(max=DESCRIPTOR_CHARS)])

    def descriptor_data(self) -> dict[str, str]:
        return {key: self[key].data or "" for key in DESCRIPTOR_FIELDS}


class ChallengeForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=NAME_CHARS)])
    summary = TextAreaField(_l("Summary"), validators=[DataRequired(), Length(max=SUMMARY_CHARS)],
                            description=_l("One or two sentences shown in lists."))
    description = TextAreaField(_l("Description"), validators=[DataRequired(), Length(max=DESCRIPTION_CHARS)],
                                description=_l("Markdown: **bold**, lists, links. HTML is not allowed."),
                                render_kw={"rows": 12})
    focus_area = SelectField(_l("Focus area"), validators=[DataRequired()], choices=[])
    sdg_targets = StringField(_l("SDG targets"), validators=[DataRequired()],
                              description=_l("Target codes separated by commas, e.g. 11.1, 11.2, 11.a"))
    prize_pool = StringField(_l("Prize pool (USD)"), validators=[DataRequired(), _amount])
    max_award = StringField(_l("Largest single award (USD)"), validators=[DataRequired(), _amount])
    opens_at = DateTimeLocalField(_l("Opens"), validators=[InputRequired(), SaneDate()], format="%Y-%m-%dT%H:%M",
                                  description=_l("In your time zone (see your profile)."))
    closes_at = DateTimeLocalField(_l("Deadline"), validators=[InputRequired(), SaneDate()], format="%Y-%m-%dT%H:%M",
                                   description=_l("In your time zone (see your profile)."))
    eligible_org_types = MultiCheckboxField(_l("Who may apply (none ticked: every type)"), choices=[])
    eligible_countries = StringField(_l("Eligible countries"), validators=[Optional(), Length(max=REASON_CHARS)],
                                     description=_l("Three-letter country codes separated by commas, like UGA "
                                                    "for Uganda and KEN for Kenya. Empty: every country."))
    criteria = FieldList(FormField(CriterionForm), min_entries=CRITERIA_ROWS, max_entries=CRITERIA_ROWS)
    submit = SubmitField(_l("Save draft"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.focus_area.choices = choices(FocusArea)
        self.eligible_org_types.choices = [c for c in org_type_choices() if c[0]]

    def data_for_service(self, timezone: str) -> dict:
        zone = ZoneInfo(timezone)
        return {
            "title": self.title.data, "summary": self.summary.data, "description": self.description.data,
            "focus_area": self.focus_area.data, "sdg_targets": codes(self.sdg_targets.data),
            "prize_pool_cents": dollars_to_cents(self.prize_pool.data),
            "max_award_cents": dollars_to_cents(self.max_award.data),
            "opens_at": _aware(self.opens_at.data, zone), "closes_at": _aware(self.closes_at.data, zone),
            "eligible_org_types": list(self.eligible_org_types.data or []),
            "eligible_countries": [c.upper() for c in codes(self.eligible_countries.data)],
            "criteria": [{"name": row.form.name.data, "description": row.form.description.data or "",
                          "weight": row.form.weight.data, **row.form.descriptor_data()}
                         for row in self.criteria if row.form.name.data or row.form.weight.data],
        }

    def fill_from(self, challenge, timezone: str) -> None:
        zone = ZoneInfo(timezone)
        self.title.data, self.summary.data, self.description.data = (challenge.title, challenge.summary,
                                                                     challenge.description)
        self.focus_area.data = challenge.focus_area.value
        self.sdg_targets.data = ", ".join(challenge.sdg_targets)
        self.prize_pool.data = _dollars(challenge.prize_pool_cents)
        self.max_award.data = _dollars(challenge.max_award_cents)
        self.opens_at.data = challenge.opens_at.astimezone(zone).replace(tzinfo=None)
        self.closes_at.data = challenge.closes_at.astimezone(zone).replace(tzinfo=None)
        self.eligible_org_types.data = list(challenge.eligible_org_types)
        self.eligible_countries.data = ", ".join(challenge.eligible_countries)
        for row, criterion in zip(self.criteria, challenge.criteria, strict=False):
            row.form.name.data, row.form.description.data, row.form.weight.data = (
                criterion.name, criterion.description, criterion.weight)
            for key in DESCRIPTOR_FIELDS:
                row.form[key].data = getattr(criterion, key)


def _aware(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return value.replace(tzinfo=zone) if value is not None else None


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# Service error keys -> form fields.
FIELD_MAP = {"prize_pool_cents": "prize_pool", "max_award_cents": "max_award"}


class QuestionForm(FlaskForm):
    question = TextAreaField(_l("Your question"), validators=[DataRequired(), Length(max=QUESTION_CHARS)])
    submit = SubmitField(_l("Ask the city"))


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l("Answer"), validators=[DataRequired(), Length(max=ANSWER_CHARS)],
                           description=_l("Answers are public."))
    submit = SubmitField(_l("Publish answer"))


class ExtendDeadlineForm(FlaskForm):
    new_closes_at = DateTimeLocalField(_l("New deadline"), validators=[InputRequired(), SaneDate()], format="%Y-%m-%dT%H:%M",
                                       description=_l("In your time zone; only later than the current deadline."))
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=REASON_CHARS)],
                           description=_l("Applicants receive it by e-mail."))
    submit = SubmitField(_l("Extend the deadline"))


class ReturnForm(FlaskForm):
    reason = TextAreaField(_l("What should the city change?"), validators=[DataRequired(), Length(max=REASON_CHARS)])
    submit = SubmitField(_l("Send back to the city"))


class ActionForm(FlaskForm):
    submit = SubmitField(_l("Confirm"))


class FilterForm(FlaskForm):
    """The public list's filters (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=NAME_CHARS)])
    status = SelectField(_l("Status"), validators=[Optional()], choices=[])
    country = SelectField(_l("Country"), validators=[Optional()], choices=[], validate_choice=False)
    focus_area = SelectField(_l("Focus area"), validators=[Optional()], choices=[])
    sdg_target = StringField(_l("SDG target"), validators=[Optional(), Length(max=5)])
    submit = SubmitField(_l("Filter"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [("", _l("Published (any)")), ("open", _l("Open now")), ("upcoming", _l("Upcoming")),
                               ("closed", _l("Closed")), ("finished", _l("Finished"))]
        self.country.choices = country_choices(_l("Any"), only=countries_with_cities(self.country.data))
        self.focus_area.choices = [("", _l("Any")), *choices(FocusArea)]
