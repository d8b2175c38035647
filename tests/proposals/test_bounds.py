"""The same field has the same length limit in the page's form, the API schema and the service."""
from __future__ import annotations

import pytest
from wtforms.validators import Length

from facility.accounts import forms as account_forms
from facility.accounts import services as account_services
from facility.api import accounts as account_api
from facility.api import challenges as challenge_api
from facility.api import cities as city_api
from facility.api import proposals as proposal_api
from facility.challenges import forms as challenge_forms
from facility.challenges import services as challenge_services
from facility.cities import forms as city_forms
from facility.core.inputs import NAME_CHARS, REASON_CHARS
from facility.proposals import forms as proposal_forms
from facility.proposals import services as proposal_services


def _form_max(form_class, name):
    field = getattr(form_class, name)
    return next(v.max for v in field.kwargs["validators"] if isinstance(v, Length))


def _schema_max(schema_class, name):
    import marshmallow as ma

    validators = schema_class._declared_fields[name].validators
    return next(v.max for v in validators if isinstance(v, ma.validate.Length))


@pytest.mark.parametrize("form, schema, name, limit", [
    (challenge_forms.ChallengeForm, challenge_api.ChallengeFieldsSchema, "title", NAME_CHARS),
    (challenge_forms.ChallengeForm, challenge_api.ChallengeFieldsSchema, "summary", challenge_services.SUMMARY_CHARS),
    (challenge_forms.ChallengeForm, challenge_api.ChallengeFieldsSchema, "description",
     challenge_services.DESCRIPTION_CHARS),
    (challenge_forms.QuestionForm, challenge_api.QuestionInSchema, "question", challenge_services.QUESTION_CHARS),
    (challenge_forms.AnswerForm, challenge_api.AnswerInSchema, "answer", challenge_services.ANSWER_CHARS),
    (challenge_forms.ReturnForm, challenge_api.ReasonSchema, "reason", REASON_CHARS),
    (challenge_forms.ExtendDeadlineForm, challenge_api.ExtensionInSchema, "reason", REASON_CHARS),
    (city_forms.CityForm, city_api.CityInSchema, "name", NAME_CHARS),
    (proposal_forms.ProposalForm, proposal_api.ProposalPatchSchema, "title", proposal_services.LIMITS["title"]),
    (proposal_forms.ProposalForm, proposal_api.ProposalPatchSchema, "summary", proposal_services.LIMITS["summary"]),
    (proposal_forms.ProposalForm, proposal_api.ProposalPatchSchema, "approach", proposal_services.LIMITS["approach"]),
    (proposal_forms.ProposalForm, proposal_api.ProposalPatchSchema, "team", proposal_services.LIMITS["team"]),
    (proposal_forms.ProposalForm, proposal_api.ProposalPatchSchema, "privacy_impact",
     proposal_services.LIMITS["privacy_impact"]),
    (proposal_forms.MilestoneForm, proposal_api.MilestoneInSchema, "title", proposal_services.LIMITS["milestones.title"]),
    (proposal_forms.MilestoneForm, proposal_api.MilestoneInSchema, "deliverable",
     proposal_services.LIMITS["milestones.deliverable"]),
    (account_forms.SignUpForm, account_api.SignUpSchema, "name", NAME_CHARS),
])
def test_form_schema_and_service_agree(form, schema, name, limit):
    assert _form_max(form, name) == _schema_max(schema, name) == limit


def test_account_limits_agree():
    assert _form_max(account_forms.OrganizationForm, "name") == _schema_max(account_api.OrganizationInSchema,
                                                                           "name") == NAME_CHARS
    assert _form_max(account_forms.OrganizationForm, "website") == account_services.WEBSITE_CHARS
    assert _schema_max(account_api.TokenRequestSchema, "name") == account_services.TOKEN_NAME_CHARS


def test_over_the_limit_is_refused_by_the_service_not_cut(app):
    from facility.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        challenge_services.clean_challenge_fields({"title": "x" * (NAME_CHARS + 1)})
    assert "title" in refused.value.errors
