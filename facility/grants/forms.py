"""Forms for contributions, awards, payout details and milestone reports. Amounts are typed in US dollars
and turned into integer cents exactly (Decimal, never float)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from facility.challenges.funding import COUNTRY_GROUP_LABELS, REGION_LABELS
from facility.challenges.models import FocusArea
from facility.core.errors import ValidationFailed
from facility.core.forms import ParsedFieldMixin, SaneDate, parse_usd
from facility.core.inputs import COMMENT_CHARS, MAX_ID, NAME_CHARS, REASON_CHARS, REFERENCE_CHARS
from facility.core.labels import choices
from facility.core.providers import stripe_configured
from facility.core.uploads import validate_upload
from facility.grants.milestones import REPORT_CHARS, RETURN_COMMENT_CHARS
from facility.grants.models import PayoutRail, RefundDestination
from facility.grants.payouts import ACCOUNT_NUMBER_CHARS, PASSWORD_CHARS, STRIPE_ACCOUNT_CHARS, SWIFT_CHARS
from facility.proposals.forms import MoneyField
from facility.proposals.models import BUDGET_CATEGORIES, BudgetCategory, budget_key


def to_cents(value: Decimal | None) -> int | None:
    """USD as Decimal -> integer cents; None stays None."""
    if value is None:
        return None
    return int((value * 100).to_integral_value())


class UsdField(ParsedFieldMixin, StringField):
    """An amount in US dollars with at most two decimals ("1,250.50"); `.data` is a Decimal or None."""

    def process_formdata(self, valuelist):
        self.data = None
        cents = parse_usd(valuelist[0] if valuelist else "")  # a ValueError is shown on the field
        if cents is not None:
            self.data = Decimal(cents) / 100

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return f"{self.data:.2f}" if self.data is not None else ""

    @property
    def cents(self) -> int | None:
        return to_cents(self.data)


class PledgeForm(FlaskForm):
    amount = UsdField(_l("Amount (US dollars)"), validators=[DataRequired(_l("Give an amount."))],
                      render_kw={"inputmode": "decimal", "autocomplete": "off"})
    # validate_choice=False: a choice that is not offered (card without Stripe) is refused by the service, in words.
    method = RadioField(_l("How will you pay?"), choices=[], default="wire", validators=[DataRequired()],
                        validate_choice=False)
    anonymous = BooleanField(_l("Show me as \"anonymous donor\" on the public ledger"),
                             description=_l("The facility's staff still see who gave; the public do not."))
    # The earmark (optional): one radio choice, and the select that goes with it (no JavaScript needed:
    # only the select of the chosen kind is read).
    earmark_kind = RadioField(_l("What may your money pay for?"), choices=[
        ("", _l("Any challenge: the facility decides (unrestricted)")),
        ("focus_area", _l("Challenges of one focus area")),
        ("country_group", _l("Challenges in a group of countries")),
        ("region", _l("Challenges in one region")),
        ("challenge", _l("One challenge (co-funding its prize pool)")),
    ], default="", validators=[Optional()])
    earmark_focus_area = SelectField(_l("Focus area"), choices=[], validators=[Optional()])
    earmark_country_group = SelectField(_l("Group of countries"), choices=[], validators=[Optional()])
    earmark_region = SelectField(_l("Region"), choices=[], validators=[Optional()])
    earmark_challenge = IntegerField(_l("Challenge number"), validators=[Optional(), NumberRange(1, MAX_ID)],
                                     description=_l("The number in the challenge's address, /challenges/<number>."))
    submit = SubmitField(_l("Pledge"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.method.choices = [("wire", _l("Bank transfer (wire): we show you our bank details and your reference"))]
        if stripe_configured():  # card payment only where it can work
            self.method.choices.append(("stripe", _l("Card, through Stripe's secure payment page")))
        self.earmark_focus_area.choices = choices(FocusArea)
        self.earmark_country_group.choices = list(COUNTRY_GROUP_LABELS.items())
        self.earmark_region.choices = list(REGION_LABELS.items())

    def earmark(self) -> dict | None:
        """The chosen earmark as the service takes it (None: unrestricted)."""
        kind = self.earmark_kind.data or ""
        if kind == "challenge":
            return {"challenge_id": self.earmark_challenge.data}
        if kind in ("focus_area", "country_group", "region"):
            return {kind: getattr(self, f"earmark_{kind}").data}
        return None


EARMARK_FIELDS = {"earmark.focus_area": "earmark_focus_area", "earmark.country_group": "earmark_country_group",
                  "earmark.region": "earmark_region", "earmark.challenge_id": "earmark_challenge",
                  "earmark": "earmark_kind"}
"""The service's earmark fields -> the pledge form's fields."""


class ConfirmWireForm(FlaskForm):
    amount = UsdField(_l("Amount received (US dollars)"), validators=[DataRequired(_l("Give the amount received."))],
                      render_kw={"inputmode": "decimal"})
    received_on = DateField(_l("Date received"), validators=[DataRequired(_l("Give the date the money arrived.")),
                                                                     SaneDate()])
    bank_reference = StringField(_l("Bank reference"), validators=[DataRequired(), Length(max=REFERENCE_CHARS)])
    submit = SubmitField(_l("Confirm receipt"))


class TrancheForm(Form):
    title = StringField(_l("Tranche title"), validators=[Optional(), Length(max=NAME_CHARS)])
    amount = UsdField(_l("Amount (US dollars)"), validators=[Optional()], render_kw={"inputmode": "decimal"})
    due_date = DateField(_l("Due date"), validators=[Optional(), SaneDate()])


class AwardForm(FlaskForm):
    amount = UsdField(_l("Award (US dollars)"), validators=[DataRequired(_l("Give the amount."))],
                      render_kw={"inputmode": "decimal"})
    tranches = FieldList(FormField(TrancheForm), min_entries=4, max_entries=20)
    # Shown only when the panel's released decision does not select the proposal (the page decides).
    override_reason = TextAreaField(
        _l("Why award against the panel's decision?"), validators=[Optional(), Length(max=REASON_CHARS)],
        description=_l("Required when the panel's released decision does not select this proposal. It is audited "
                       "and shown on the grant's page and its public page."))
    submit = SubmitField(_l("Award the grant"))

    def tranche_specs(self) -> list[dict] | None:
        """Filled rows as service input; None when every row is empty (use the milestones)."""
        rows = []
        for row in self.tranches:
            if not (row.title.data or row.amount.data or row.due_date.data):
                continue
            rows.append({"title": row.title.data or "", "amount_cents": to_cents(row.amount.data),
                         "due_date": row.due_date.data})
        return rows or None


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""

    submit = SubmitField(_l("Confirm"))


class PayoutForm(FlaskForm):
    rail = RadioField(_l("How should the grant be paid?"), choices=[], default="manual", validators=[DataRequired()],
                      validate_choice=False)  # a rail not offered is refused by the service, in words
    stripe_account_id = StringField(_l("Stripe account id"), validators=[Optional(), Length(max=STRIPE_ACCOUNT_CHARS)],
                                    description=_l("Starts with acct_. Only for Stripe."))
    account_holder = StringField(_l("Account holder"), validators=[Optional(), Length(max=NAME_CHARS)])
    bank_name = StringField(_l("Bank or mobile-money provider"), validators=[Optional(), Length(max=NAME_CHARS)])
    account_number = StringField(_l("Account number"), validators=[Optional(), Length(max=ACCOUNT_NUMBER_CHARS)],
                                 description=_l("Or give an IBAN instead."), render_kw={"autocomplete": "off"})
    iban = StringField(_l("IBAN (international bank account number)"),
                       validators=[Optional(), Length(max=ACCOUNT_NUMBER_CHARS)], render_kw={"autocomplete": "off"},
                       description=_l("Starts with two letters for the country, like GB82 WEST 1234 5698 7654 32; "
                                      "your bank statement shows it. Many countries have none: then give the "
                                      "account number."))
    swift = StringField(_l("SWIFT/BIC code (the bank's international code)"),
                        validators=[Optional(), Length(max=SWIFT_CHARS)],
                        description=_l("8 or 11 letters and digits, like DEUTDEFF; your bank gives it."))
    current_password = PasswordField(_l("Your current password"), validators=[Optional(), Length(max=PASSWORD_CHARS)],
                                     description=_l("Needed to change payout details that were already given."),
                                     render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Save payout details"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The bank first: Stripe reaches few countries; Stripe only where it is configured.
        self.rail.choices = choices(PayoutRail, only=None if stripe_configured() else {PayoutRail.MANUAL})[::-1]


def _spent(label: str) -> MoneyField:
    return MoneyField(label, validators=[DataRequired(_l("Give the amount spent (0 if nothing)."))],
                      render_kw={"inputmode": "decimal", "autocomplete": "off"})


class EvidenceForm(FlaskForm):
    text = TextAreaField(_l("What was delivered"), validators=[DataRequired(), Length(max=REPORT_CHARS)],
                         render_kw={"rows": 8})
    spending_personnel = _spent(_l("Personnel (USD)"))
    spending_equipment = _spent(_l("Equipment (USD)"))
    spending_services = _spent(_l("Services (USD)"))
    spending_travel = _spent(_l("Travel (USD)"))
    spending_other = _spent(_l("Other costs (USD)"))
    kpis = TextAreaField(_l("Indicator values (optional)"), validators=[Optional(), Length(max=COMMENT_CHARS)],
                         description=_l("One per line: name = number, e.g. households connected = 120"),
                         render_kw={"rows": 4})
    files = MultipleFileField(_l("Evidence files (PDF, images or plain text)"))
    submit = SubmitField(_l("Send the report"))

    def validate_kpis(self, field):
        self.kpi_values = parse_kpis(field.data or "")

    kpi_values: dict = {}

    def validate_files(self, field):
        """Each file as the service judges it (`core.uploads.validate_upload`: empty, too large, not a PDF,
        image or text), so a refused file shows at the field with the form's other problems. The files
        read are kept (`uploads`) for the service."""
        self.uploads = [(upload.filename, upload.read()) for upload in (field.data or [])
                        if upload and upload.filename]
        for filename, data in self.uploads:
            try:
                validate_upload(filename, data)
            except ValidationFailed as error:
                field.errors.extend(error.errors.get("files", [error.detail]))

    uploads: list[tuple[str, bytes]] = []

    def spending_fields(self) -> list[tuple[BudgetCategory, MoneyField]]:
        """(category, field) in the categories' order."""
        return [(category, getattr(self, f"spending_{category.value}")) for category in BUDGET_CATEGORIES]

    def spending_data(self) -> dict[str, int | None]:
        """What was spent, in the service's `{"personnel_cents": ...}` shape."""
        return {budget_key(category): field.cents for category, field in self.spending_fields()}


SPENDING_FIELDS = {f"spending.{budget_key(c)}": f"spending_{c.value}" for c in BUDGET_CATEGORIES}
"""The service's spending errors -> the evidence form's fields."""


def parse_kpis(text: str) -> dict:
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, raw = line.partition("=")
        if not sep or not name.strip():
            raise ValidationError(_l("Line %(n)s: write name = number.", n=number))
        try:
            value = Decimal(raw.strip().replace(",", ""))
        except InvalidOperation:
            raise ValidationError(_l("Line %(n)s: the value is not a number.", n=number)) from None
        if not value.is_finite():
            raise ValidationError(_l("Line %(n)s: the value is not a number.", n=number))
        values[name.strip()] = int(value) if value == value.to_integral_value() else float(value)
    return values


class ReturnReportForm(FlaskForm):
    comment = TextAreaField(_l("What should the grantee change?"), validators=[DataRequired(), Length(max=RETURN_COMMENT_CHARS)],
                            render_kw={"rows": 4})
    submit = SubmitField(_l("Send back"))


class PublicSummaryForm(FlaskForm):
    public_summary = TextAreaField(
        _l("Public summary of this milestone"),
        description=_l("A few sentences for the public grant page: what was delivered. Plain text, at most "
                       "1,000 characters. Your milestone report itself stays private."),
        validators=[DataRequired(_l("Write a short summary.")), Length(max=1000)])
    submit = SubmitField(_l("Publish the summary"))



# --- amendments ------------------------------------------------------------------------------------

AMENDMENT_BLANK_ROWS = 3
"""Blank rows the amendment form offers for new tranches."""


class AmendmentRowForm(Form):
    """One row of the proposed schedule: an existing tranche (its id hidden) or a new one (blank id)."""

    tranche_id = HiddenField()
    title = StringField(_l("Tranche title"), validators=[Optional(), Length(max=NAME_CHARS)])
    amount = UsdField(_l("Amount (US dollars)"), validators=[Optional()], render_kw={"inputmode": "decimal"})
    due_date = DateField(_l("Due date"), validators=[Optional(), SaneDate()])
    remove = BooleanField(_l("Remove this tranche"))


class AmendmentForm(FlaskForm):
    rows = FieldList(FormField(AmendmentRowForm), min_entries=1, max_entries=60)
    reason = TextAreaField(_l("Why the grant changes"), validators=[DataRequired(_l("Give the reason.")),
                                                                   Length(max=REASON_CHARS)])
    submit = SubmitField(_l("Propose the amendment"))

    def schedule(self) -> tuple[list[dict], list[int]]:
        """The rows as service input (removed and empty rows left out), and each input's row index."""
        items, where = [], []
        for index, row in enumerate(self.rows):
            tranche_id = int(row.tranche_id.data) if (row.tranche_id.data or "").isdecimal() else None
            if row.remove.data and tranche_id is not None:
                continue
            if tranche_id is None and not (row.title.data or row.amount.data or row.due_date.data):
                continue
            item = {"title": row.title.data or "", "amount_cents": to_cents(row.amount.data),
                    "due_date": row.due_date.data}
            if tranche_id is not None:
                item["id"] = tranche_id
            items.append(item)
            where.append(index)
        return items, where


class RejectAmendmentForm(FlaskForm):
    reason = TextAreaField(_l("Why it is rejected"), validators=[DataRequired(_l("Give the reason.")),
                                                                Length(max=REASON_CHARS)])
    submit = SubmitField(_l("Reject the amendment"))


# --- cancellation and refunds --------------------------------------------------------------

class CancelGrantForm(FlaskForm):
    """Cancelling a grant: the reason (shown to the grantee and on the grant) and an explicit confirmation."""

    reason = TextAreaField(_l("Why is the grant cancelled?"),
                           description=_l("The grantee and the grant's page show this reason."),
                           validators=[DataRequired(_l("Give the reason for the cancellation.")),
                                       Length(max=REASON_CHARS)])
    confirm = BooleanField(_l("I understand: no tranche not yet paid will be paid, and the undisbursed money "
                              "returns to the challenge's prize pool. This cannot be undone."),
                           validators=[DataRequired(_l("Tick the box to confirm the cancellation."))])
    submit = SubmitField(_l("Cancel the grant"))


class RefundForm(FlaskForm):
    """Money a grantee paid back, as the bank statement shows it."""

    amount = UsdField(_l("Amount received (US dollars)"), validators=[DataRequired(_l("Give the amount received."))],
                      render_kw={"inputmode": "decimal", "autocomplete": "off"})
    bank_reference = StringField(_l("Bank reference"), validators=[DataRequired(_l("Give the bank's reference.")),
                                                                   Length(max=REFERENCE_CHARS)])
    received_on = DateField(_l("Date received"), validators=[DataRequired(_l("Give the date the money arrived.")),
                                                             SaneDate()])
    destination = RadioField(_l("Where does the money go?"), choices=choices(RefundDestination),
                             default=RefundDestination.POOL.value, validators=[DataRequired()])
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=COMMENT_CHARS)])
    submit = SubmitField(_l("Record the refund"))
