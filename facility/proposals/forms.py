"""Proposal forms: the draft with its milestone rows, submit, withdraw and file upload."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, FieldList, Form, FormField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from facility.accounts.forms import MultiCheckboxField
from facility.core.forms import ParsedFieldMixin, SaneDate, parse_usd
from facility.core.labels import choices
from facility.proposals.models import BUDGET_CATEGORIES, BeneficiaryGroup, BudgetCategory, budget_key
from facility.proposals.services import LIMITS, MAX_MILESTONES, SUMMARY_MAX, TEXT_MAX, TITLE_MAX

MILESTONE_ROWS = 3  # rows shown on a new draft; "Add another milestone" adds one more


def format_cents(cents: int | None) -> str:
    if cents is None:
        return ""
    return f"{cents // 100}.{cents % 100:02d}"


class MoneyField(ParsedFieldMixin, StringField):
    """A US-dollar amount typed by a person, held as integer cents in `.cents`."""

    cents: int | None = None

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        try:
            self.cents = parse_usd(self.data, allow_zero=True)
        except ValueError:
            self.cents = None
            raise

    def process_data(self, value):
        # Given cents (from the model), shown as dollars.
        self.cents = value if isinstance(value, int) else None
        self.data = format_cents(self.cents) if isinstance(value, int) else (value or "")

    def _value(self):
        return self.data or ""


class MilestoneForm(Form):
    title = StringField(_l("Milestone"), validators=[Optional(), Length(max=TITLE_MAX)])
    due_date = DateField(_l("Due date"), validators=[Optional(), SaneDate()], description=_l("For example 2027-06-30."))
    amount = MoneyField(_l("Amount (USD)"), validators=[Optional()])
    deliverable = TextAreaField(_l("Deliverable"), validators=[Optional(), Length(max=LIMITS["milestones.deliverable"])],
                                render_kw={"rows": 2})

    def is_blank(self) -> bool:
        return not (self.title.data or "").strip() and not self.due_date.data and self.amount.cents is None \
            and not (self.deliverable.data or "").strip()


class ProposalForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=TITLE_MAX)])
    summary = TextAreaField(_l("Summary"), validators=[Optional(), Length(max=SUMMARY_MAX)],
                            description=_l("A few sentences anyone can understand."), render_kw={"rows": 3})
    approach = TextAreaField(_l("Approach"), validators=[Optional(), Length(max=TEXT_MAX)],
                             description=_l("How you will solve the problem. Markdown is allowed."),
                             render_kw={"rows": 10})
    team = TextAreaField(_l("Team"), validators=[Optional(), Length(max=TEXT_MAX)],
                         description=_l("Who will do the work and what they have done before."),
                         render_kw={"rows": 4})
    requested = MoneyField(_l("Amount requested (USD)"), validators=[Optional()],
                           description=_l("The milestones must add up to exactly this amount."))
    beneficiary_groups = MultiCheckboxField(_l("Who benefits"), choices=[], validators=[Optional()])
    privacy_impact = TextAreaField(
        _l("Privacy and human-rights impact"), validators=[Optional(), Length(max=TEXT_MAX)],
        description=_l("What personal data you use, how you protect it, and how the people affected "
                       "keep their rights."), render_kw={"rows": 5})
    budget_personnel = MoneyField(_l("Personnel (USD)"), validators=[Optional()])
    budget_equipment = MoneyField(_l("Equipment (USD)"), validators=[Optional()])
    budget_services = MoneyField(_l("Services (USD)"), validators=[Optional()])
    budget_travel = MoneyField(_l("Travel (USD)"), validators=[Optional()])
    budget_other = MoneyField(_l("Other costs (USD)"), validators=[Optional()])
    milestones = FieldList(FormField(MilestoneForm), min_entries=MILESTONE_ROWS, max_entries=MAX_MILESTONES)
    save = SubmitField(_l("Save draft"))
    add_milestone = SubmitField(_l("Add another milestone"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.beneficiary_groups.choices = choices(BeneficiaryGroup)

    def validate_beneficiary_groups(self, field):
        allowed = {group.value for group in BeneficiaryGroup}
        if any(value not in allowed for value in field.data or []):
            raise ValidationError(_l("Choose from the list."))

    def filled_milestones(self) -> list[tuple[int, MilestoneForm]]:
        """(row index, row) for the rows someone typed into; blank rows are ignored."""
        return [(i, entry.form) for i, entry in enumerate(self.milestones.entries) if not entry.form.is_blank()]

    def budget_fields(self) -> list[tuple[BudgetCategory, MoneyField]]:
        """(category, field) in the categories' order."""
        return [(category, getattr(self, f"budget_{category.value}")) for category in BUDGET_CATEGORIES]

    def service_data(self) -> dict[str, Any]:
        return {
            "title": self.title.data, "summary": self.summary.data, "approach": self.approach.data,
            "team": self.team.data, "requested_cents": self.requested.cents,
            "beneficiary_groups": self.beneficiary_groups.data or [],
            "privacy_impact": self.privacy_impact.data,
            "milestones": [
                {"title": row.title.data, "due_date": row.due_date.data, "amount_cents": row.amount.cents,
                 "deliverable": row.deliverable.data}
                for _i, row in self.filled_milestones()
            ],
            # An empty box is "not given"; a draft may leave categories out.
            "budget": {budget_key(category): field.cents for category, field in self.budget_fields()},
        }


class ActionForm(FlaskForm):
    """Submit, withdraw and delete buttons: CSRF only."""

    submit = SubmitField(_l("Confirm"))


class UploadForm(FlaskForm):
    file = FileField(_l("File (PDF, PNG, JPEG or WebP)"), validators=[FileRequired(_l("Choose a file."))])
    upload = SubmitField(_l("Upload"))
