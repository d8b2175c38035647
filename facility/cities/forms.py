from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from facility.accounts.forms import country_choices
from facility.cities.models import ClimateRisk
from facility.cities.services import MAX_POPULATION
from facility.core.inputs import NAME_CHARS
from facility.core.labels import choices


class CityForm(FlaskForm):
    name = StringField(_l("City name"), validators=[DataRequired(), Length(max=NAME_CHARS)])
    country = SelectField(_l("Country"), validators=[DataRequired()], choices=[])
    population = IntegerField(_l("Population"), validators=[InputRequired(), NumberRange(min=1, max=MAX_POPULATION)],
                              description=_l("People living in the city (a whole number)."))
    informal_settlement_share_pct = IntegerField(
        _l("Share of people in informal settlements (%)"), validators=[InputRequired(), NumberRange(min=0, max=100)],
        description=_l("A whole percentage from 0 to 100."))
    climate_risk = SelectField(_l("Climate and environmental risk"), validators=[DataRequired()], choices=[])
    submit = SubmitField(_l("Save city profile"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()
        self.climate_risk.choices = choices(ClimateRisk)

    def data_for_service(self) -> dict:
        return {name: getattr(self, name).data for name in
                ("name", "country", "population", "informal_settlement_share_pct", "climate_risk")}


class ActionForm(FlaskForm):
    """A button that POSTs (CSRF-protected)."""

    submit = SubmitField(_l("Confirm"))
