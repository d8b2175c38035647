"""The one filter every portfolio, results and register view takes: country, region, country group,
city size class, focus area and SDG target (DESIGN.md section 1: the facility's policy, measurable).

`PortfolioFilter.from_args(request.args)` reads the query string through `FilterForm` (GET, no CSRF).
A bad value is reported on the form and ignored, so the page still answers (never a 500), and
`apply(query)` narrows any select that joins `City` and `Challenge`. Country groups and regions are
facts of the project's UN data copy (`cities.countries`), not columns, so they become `country IN (...)`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import Length, Optional

from facility.challenges.models import Challenge, FocusArea
from facility.challenges.queries import has_sdg_target
from facility.challenges.sdg import is_target
from facility.cities import countries
from facility.cities.models import City, SizeClass
from facility.cities.queries import countries_with_cities
from facility.cities.services import valid_country
from facility.core.forms import country_choices
from facility.core.labels import choices

SelectT = TypeVar("SelectT", bound=sa.Select[Any])

GROUP_CHOICES = (("LDC", _l("Least developed countries (LDC)")),
                 ("LLDC", _l("Landlocked developing countries (LLDC)")),
                 ("SIDS", _l("Small island developing States (SIDS)")),
                 ("global_south", _l("Global South")))
REGION_CHOICES = (("Africa", _l("Africa")), ("Americas", _l("Americas")), ("Asia", _l("Asia")),
                  ("Europe", _l("Europe")), ("Oceania", _l("Oceania")))

# Population bounds of each size class, [low, high) (cities.models.size_class_for, in SQL).
SIZE_BOUNDS: dict[SizeClass, tuple[int, int | None]] = {
    SizeClass.SMALL: (0, 500_000), SizeClass.MEDIUM: (500_000, 1_000_000),
    SizeClass.LARGE: (1_000_000, 5_000_000), SizeClass.VERY_LARGE: (5_000_000, 10_000_000),
    SizeClass.MEGACITY: (10_000_000, None),
}


class FilterForm(FlaskForm):
    """The portfolio filters, as a plain GET form."""

    class Meta:
        csrf = False

    country = SelectField(_l("Country"), validators=[Optional()], choices=[], validate_choice=False)
    region = SelectField(_l("Region"), validators=[Optional()], choices=[("", _l("Any")), *REGION_CHOICES])
    country_group = SelectField(_l("Country group"), validators=[Optional()],
                                choices=[("", _l("Any")), *GROUP_CHOICES])
    size_class = SelectField(_l("City size"), validators=[Optional()], choices=[])
    focus_area = SelectField(_l("Focus area"), validators=[Optional()], choices=[])
    sdg_target = StringField(_l("SDG target"), validators=[Optional(), Length(max=5)])
    submit = SubmitField(_l("Filter"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices(_l("Any"), only=countries_with_cities(self.country.data))
        self.size_class.choices = [("", _l("Any")), *choices(SizeClass)]
        self.focus_area.choices = [("", _l("Any")), *choices(FocusArea)]


@dataclass(frozen=True)
class PortfolioFilter:
    country: str | None = None
    region: str | None = None
    country_group: str | None = None
    size_class: str | None = None
    focus_area: str | None = None
    sdg_target: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> tuple[PortfolioFilter, FilterForm]:
        """The valid filters in `args`, and the form to show (with an error on each bad value)."""
        form = FilterForm(args if hasattr(args, "getlist") else MultiDict(args))
        form.validate()
        values: dict[str, str] = {}
        for name in ("region", "country_group", "size_class", "focus_area"):
            field = getattr(form, name)
            if field.data and not field.errors:
                values[name] = field.data
        if form.country.data and not form.country.errors:
            country = valid_country(form.country.data)
            if country:
                values["country"] = country
            else:
                form.country.errors = [_l("Choose a country from the list.")]
        if form.sdg_target.data and not form.sdg_target.errors:
            if is_target(form.sdg_target.data.strip()):
                values["sdg_target"] = form.sdg_target.data.strip()
            else:
                form.sdg_target.errors = [_l("Give an SDG target code, e.g. 11.2.")]
        return cls(**values), form

    @property
    def is_active(self) -> bool:
        return any(asdict(self).values())

    def args(self) -> dict[str, str]:
        """The filters as query-string arguments (for links that keep them: pages, CSV, XLSX)."""
        return {k: v for k, v in asdict(self).items() if v}

    def conditions(self, *, city: Any = City, challenge: Any = Challenge) -> list[sa.ColumnElement[bool]]:
        """The WHERE clauses, over the given City and Challenge entities (or aliases)."""
        out: list[sa.ColumnElement[bool]] = []
        if self.country:
            out.append(city.country == self.country)
        if self.region:
            out.append(city.country.in_(countries.codes_where(region=self.region)))
        if self.country_group == "global_south":
            out.append(city.country.in_(countries.codes_where(global_south=True)))
        elif self.country_group:
            out.append(city.country.in_(countries.codes_where(group=self.country_group)))
        if self.size_class:
            low, high = SIZE_BOUNDS[SizeClass(self.size_class)]
            out.append(city.population >= low)
            if high is not None:
                out.append(city.population < high)
        if self.focus_area:
            out.append(challenge.focus_area == FocusArea(self.focus_area))
        if self.sdg_target:
            out.append(has_sdg_target(self.sdg_target, challenge.sdg_targets))
        return out

    def apply(self, query: SelectT, *, city: Any = City, challenge: Any = Challenge) -> SelectT:
        """`query` (which must already join City and Challenge) narrowed by these filters."""
        conditions = self.conditions(city=city, challenge=challenge)
        return query.where(*conditions) if conditions else query
