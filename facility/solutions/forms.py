"""Forms of the solutions pages: the library's filters and the replication form (the challenge form,
pre-filled from the solution's challenge)."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SubmitField

from facility.challenges.forms import ChallengeForm
from facility.challenges.models import FocusArea
from facility.cities.queries import countries_with_cities
from facility.core.forms import country_choices
from facility.core.labels import choices


class LibraryFilterForm(FlaskForm):
    """The library's filters (GET, no CSRF): a bad value is shown as an error and ignored."""

    class Meta:
        csrf = False

    focus_area = SelectField(_l("Focus area"), choices=[])
    country = SelectField(_l("Country of the piloting city"), choices=[], validate_choice=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.focus_area.choices = [("", _l("Any")), *choices(FocusArea)]
        self.country.choices = country_choices(_l("Any"), only=countries_with_cities(self.country.data))


class ReplicationForm(ChallengeForm):
    """The challenge form, pre-filled from the solution (`fill_from_fields`); the official adapts it."""

    submit = SubmitField(_l("Save the replication draft"))

    def fill_from_fields(self, fields: dict[str, Any], timezone: str) -> None:
        """Fill the form from `replication.prefill`'s fields, shown in the official's time zone."""
        criteria = [SimpleNamespace(**criterion) for criterion in fields["criteria"]]
        self.fill_from(SimpleNamespace(**{**fields, "focus_area": FocusArea(fields["focus_area"]),
                                          "criteria": criteria}), timezone)
