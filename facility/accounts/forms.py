from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from facility.accounts.models import OrgType, Role
from facility.accounts.orgids import ORG_IDENTIFIER_CHARS
from facility.accounts.services import WEBSITE_CHARS, email_problem, signup_problems
from facility.core.forms import add_missing_errors
from facility.core.forms import country_choices as core_country_choices
from facility.core.inputs import NAME_CHARS, REASON_CHARS
from facility.core.labels import choices


class EmailAddress:
    """The one e-mail rule (`accounts.services.email_problem`), as the API and the CLI apply it."""

    def __call__(self, form, field) -> None:
        problem = email_problem(field.data)
        if problem is not None:
            raise ValidationError(problem)


def org_type_choices():
    return [("", _l("Choose…")), *choices(OrgType)]


def country_choices():
    return core_country_choices(_l("Choose…"))


class SignUpForm(FlaskForm):
    role = SelectField(
        _l("I am signing up as"),
        choices=[
            (Role.INNOVATOR.value, _l("an innovator (start-up, SME, community organisation, NGO, university)")),
            (Role.CITY_OFFICIAL.value, _l("a city official")),
            (Role.DONOR.value, _l("a donor or investor")),
        ],
        validators=[DataRequired()],
    )
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=NAME_CHARS)], render_kw={"autocomplete": "name"})
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), EmailAddress()],
                       render_kw={"autocomplete": "email"})
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired()],  # not DataRequired: twelve spaces get the password rule's own message
        description=_l("At least 12 characters. A few random words are easy to remember and hard to guess."),
        render_kw={"autocomplete": "new-password", "minlength": 12},
    )
    org_name = StringField(_l("Organisation name"), validators=[Optional(), Length(max=NAME_CHARS)],
                           description=_l("Innovators: required. Donors: optional."))
    org_country = SelectField(_l("Organisation's country"), validators=[Optional()], choices=[])
    org_type = SelectField(_l("Type of organisation"), validators=[Optional()], choices=[])
    submit = SubmitField(_l("Create account"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.org_country.choices = country_choices()
        self.org_type.choices = org_type_choices()

    def signup_values(self) -> dict[str, Any]:
        """The form as `services.register_user` takes it: an organisation when one is named (or due)."""
        organization = None
        if self.org_name.data or self.role.data == Role.INNOVATOR.value:
            organization = {"name": self.org_name.data, "country": self.org_country.data,
                            "org_type": self.org_type.data}
        return {"email": self.email.data, "password": self.password.data, "name": self.name.data,
                "role": self.role.data, "organization": organization}

    def validate(self, extra_validators=None) -> bool:
        """The form's checks and, when they fail, the sign-up's own rules too (the password rules, the
        organisation an innovator needs, an address already taken): every problem in one pass."""
        valid = super().validate(extra_validators)
        if not valid:
            add_missing_errors(self, signup_problems(**self.signup_values()), SIGNUP_FIELDS)
        return valid


SIGNUP_FIELDS = {"organization": "org_name", "organization.name": "org_name",
                 "organization.country": "org_country", "organization.org_type": "org_type"}
"""The sign-up service's error keys -> the sign-up form's fields."""


class SignInForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), EmailAddress()],
                       render_kw={"autocomplete": "email"})
    password = PasswordField(_l("Password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Sign in"))


class SignOutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), EmailAddress()],
                       render_kw={"autocomplete": "email"})
    submit = SubmitField(_l("E-mail me a reset link"))


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[InputRequired()],
                             description=_l("At least 12 characters."),
                             render_kw={"autocomplete": "new-password", "minlength": 12})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Set new password"))


class ProfileForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=NAME_CHARS)])
    locale = SelectField(_l("Language"), choices=[], validators=[Optional()])
    timezone = SelectField(_l("Time zone"), choices=[], validators=[DataRequired()],
                           description=_l("Deadlines are shown in this time zone."))
    submit = SubmitField(_l("Save profile"))

    def __init__(self, *args, languages=None, **kwargs):
        super().__init__(*args, **kwargs)
        from zoneinfo import available_timezones

        self.locale.choices = [("", _l("Browser default"))] + list((languages or {}).items())
        self.timezone.choices = [(tz, tz) for tz in sorted(available_timezones() | {"UTC"})]


class ReminderPreferencesForm(FlaskForm):
    optional_reminders = BooleanField(
        _l("E-mail me optional reminders"),
        description=_l("Deadlines a week and a day ahead, reviews due, milestones coming up. Payments waiting for "
                       "approval and overdue milestones are essential and always sent."))
    submit = SubmitField(_l("Save reminders"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    password = PasswordField(_l("New password"), validators=[InputRequired()],
                             render_kw={"autocomplete": "new-password", "minlength": 12})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])
    submit = SubmitField(_l("Change password"))


class OrganizationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_CHARS)])
    website = StringField(_l("Website"), validators=[Optional(), Length(max=WEBSITE_CHARS)])
    description = StringField(_l("Short description"), validators=[Optional(), Length(max=REASON_CHARS)])
    org_identifier = StringField(_l("Organisation identifier (org-id.guide, e.g. GB-CHC-1234567)"),
                                 validators=[Optional(), Length(max=ORG_IDENTIFIER_CHARS)])
    submit = SubmitField(_l("Save organisation"))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RolesForm(FlaskForm):
    roles = MultiCheckboxField(_l("Roles"), choices=[])
    submit = SubmitField(_l("Save roles"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.roles.choices = choices(Role)


class RevokeTokenForm(FlaskForm):
    submit = SubmitField(_l("Revoke"))


# --- two-step sign-in (accounts.mfa_views) -------------------------------------------------------

CODE_CHARS = 32  # a six-digit code or a recovery code, with spaces or a dash


class TwoStepStartForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired()],
                             description=_l("To turn two-step sign-in on, confirm it is you."),
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Continue"))


class CodeForm(FlaskForm):
    """One code: six digits from the authenticator app (or, where accepted, a recovery code)."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=CODE_CHARS)],
                       description=_l("The six-digit code your authenticator app shows now, or one of your "
                                      "recovery codes."),
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "off",
                                  "spellcheck": "false"})
    submit = SubmitField(_l("Confirm"))


class AppCodeForm(CodeForm):
    """Only a code from the app (turning enrolment on proves the app has the secret)."""

    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=CODE_CHARS)],
                       description=_l("The six digits your authenticator app shows for this account."),
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    submit = SubmitField(_l("Turn two-step sign-in on"))


class SecondStepForm(CodeForm):
    """The sign-in's second step; `email` repeats the pending account only so the rate limit counts it."""

    email = HiddenField()
    submit = SubmitField(_l("Sign in"))


class RecoveryCodesForm(CodeForm):
    submit = SubmitField(_l("Make new recovery codes"))


class TurnOffForm(CodeForm):
    submit = SubmitField(_l("Turn two-step sign-in off"))
