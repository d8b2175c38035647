"""The indicator catalogue that milestones are set and measured with: the U4SSC key performance indicators
for smart sustainable cities and the SDG 11 targets and global indicators.

Codes and short names only (the full definitions, formulas and units are the publishers' texts):

- U4SSC: transcribed from *U4SSC, Collection Methodology for Key Performance Indicators for Smart Sustainable
  Cities* (2017), based on Recommendation ITU-T Y.4903/L.1603: 91 KPIs over the dimensions Economy (EC),
  Environment (EN) and Society and Culture (SC), each core ("C", the last letter of the code) or advanced
  ("A"). Codes are written as published: ``dimension: sub-dimension: category: number + C/A``.
- SDG 11: the ten targets 11.1-11.7, 11.a-11.c (their codes are `challenges.sdg.SDG11_TARGETS`) and their
  global indicators, from the *Global indicator framework for the SDGs (A/RES/71/313), as revised by the UN
  Statistical Commission (2025)*; names shortened.

A milestone names an indicator by its code (`is_indicator`); SDG targets group the SDG indicators and are
not themselves measured.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from facility.challenges.sdg import SDG11_TARGETS
from facility.core.labels import labelled


@labelled({"u4ssc": _l("U4SSC key performance indicators"), "sdg11": _l("SDG 11 indicators")})
class Framework(str, enum.Enum):
    U4SSC = "u4ssc"
    SDG11 = "sdg11"


@dataclass(frozen=True)
class Source:
    """Where a framework's codes and names were transcribed from, and the edition's date (year)."""

    title: str
    date: str


CATALOGUE_SOURCE: dict[Framework, Source] = {
    Framework.U4SSC: Source("U4SSC, Collection Methodology for Key Performance Indicators for Smart Sustainable "
                            "Cities (2017), based on Recommendation ITU-T Y.4903/L.1603", "2017"),
    Framework.SDG11: Source("Global indicator framework for the SDGs (A/RES/71/313), as revised by the UN "
                            "Statistical Commission (2025)", "2025"),
}


@dataclass(frozen=True)
class Indicator:
    """One measurable indicator: its code as published, short name, framework and group (the U4SSC
    sub-dimension code such as ``EC: ICT``, or the SDG target such as ``11.6``), core or advanced (U4SSC)."""

    code: str
    name: Any  # a lazy string: str(name) in the viewer's language
    framework: Framework
    group: str
    core: bool = True

    @property
    def group_name(self) -> Any:
        return GROUP_NAMES.get(self.group, self.group)


GROUP_NAMES: dict[str, Any] = {
    "EC: ICT": _l("Economy: information and communication technology"),
    "EC: P": _l("Economy: productivity"),
    "EC: I": _l("Economy: infrastructure"),
    "EN: EN": _l("Environment: environment"),
    "EN: E": _l("Environment: energy"),
    "SC: EH": _l("Society and culture: education, health and culture"),
    "SC: SH": _l("Society and culture: safety, housing and social inclusion"),
    "11.1": _l("11.1 Safe and affordable housing; upgrade slums"),
    "11.2": _l("11.2 Safe, affordable and sustainable transport"),
    "11.3": _l("11.3 Inclusive and sustainable urbanization and planning"),
    "11.4": _l("11.4 Protect cultural and natural heritage"),
    "11.5": _l("11.5 Reduce deaths and losses from disasters"),
    "11.6": _l("11.6 Reduce cities' environmental impact"),
    "11.7": _l("11.7 Safe and inclusive green and public spaces"),
    "11.a": _l("11.a Links between urban, peri-urban and rural areas"),
    "11.b": _l("11.b Integrated policies and disaster risk reduction"),
    "11.c": _l("11.c Sustainable and resilient buildings in least developed countries"),
}
SDG11_TARGET_NAMES = {code: GROUP_NAMES[code] for code in SDG11_TARGETS}

_U4SSC: tuple[tuple[str, Any], ...] = (
    ("EC: ICT: ICT: 1C", _l("Household Internet Access")),
    ("EC: ICT: ICT: 2C", _l("Fixed Broadband Subscriptions")),
    ("EC: ICT: ICT: 3C", _l("Wireless Broadband Subscriptions")),
    ("EC: ICT: ICT: 4C", _l("Wireless Broadband Coverage")),
    ("EC: ICT: ICT: 5A", _l("Availability of WIFI in Public Areas")),
    ("EC: ICT: WS: 1A", _l("Smart Water Meters")),
    ("EC: ICT: WS: 2A", _l("Water Supply ICT Monitoring")),
    ("EC: ICT: WS: 3A", _l("Drainage / Storm Water System ICT Monitoring")),
    ("EC: ICT: ES: 1A", _l("Smart Electricity Meters")),
    ("EC: ICT: ES: 2A", _l("Electricity Supply ICT Monitoring")),
    ("EC: ICT: ES: 3A", _l("Demand Response Penetration")),
    ("EC: ICT: T: 1A", _l("Dynamic Public Transport Information")),
    ("EC: ICT: T: 2A", _l("Traffic Monitoring")),
    ("EC: ICT: T: 3A", _l("Intersection Control")),
    ("EC: ICT: PS: 1A", _l("Open Data")),
    ("EC: ICT: PS: 2A", _l("e-Government")),
    ("EC: ICT: PS: 3A", _l("Public Sector e-Procurement")),
    ("EC: P: IN: 1C", _l("R&D Expenditure")),
    ("EC: P: IN: 2A", _l("Patents")),
    ("EC: P: IN: 3C", _l("Small and Medium-Sized Enterprises")),
    ("EC: P: EM: 1C", _l("Unemployment Rate")),
    ("EC: P: EM: 2C", _l("Youth Unemployment Rate")),
    ("EC: P: EM: 3C", _l("Tourism Industry Employment")),
    ("EC: P: EM: 4C", _l("ICT Sector Employment")),
    ("EC: I: WS: 1C", _l("Basic Water Supply")),
    ("EC: I: WS: 2C", _l("Potable Water Supply")),
    ("EC: I: WS: 3C", _l("Water Supply Loss")),
    ("EC: I: WS: 4C", _l("Wastewater Collection")),
    ("EC: I: WS: 5C", _l("Household Sanitation")),
    ("EC: I: WA: 1C", _l("Solid Waste Collection")),
    ("EC: I: ES: 1C", _l("Electricity System Outage Frequency")),
    ("EC: I: ES: 2C", _l("Electricity System Outage Time")),
    ("EC: I: ES: 3C", _l("Access to Electricity")),
    ("EC: I: T: 1C", _l("Public Transport Network")),
    ("EC: I: T: 2A", _l("Public Transport Network Convenience")),
    ("EC: I: T: 3C", _l("Bicycle Network")),
    ("EC: I: T: 4A", _l("Transportation Mode Share")),
    ("EC: I: T: 5A", _l("Travel Time Index")),
    ("EC: I: T: 6A", _l("Shared Bicycles")),
    ("EC: I: T: 7A", _l("Shared Vehicles")),
    ("EC: I: T: 8A", _l("Low-Carbon Emission Passenger Vehicles")),
    ("EC: I: B: 1A", _l("Public Building Sustainability")),
    ("EC: I: B: 2A", _l("Integrated Building Management Systems in Public Buildings")),
    ("EC: I: UP: 1A", _l("Pedestrian Infrastructure")),
    ("EC: I: UP: 2A", _l("Urban Development and Spatial Planning")),
    ("EN: EN: AQ: 1C", _l("Air Pollution")),
    ("EN: EN: AQ: 2C", _l("GHG Emissions")),
    ("EN: EN: WS: 1C", _l("Drinking Water Quality")),
    ("EN: EN: WS: 2C", _l("Water Consumption")),
    ("EN: EN: WS: 3C", _l("Freshwater Consumption")),
    ("EN: EN: WS: 4C", _l("Wastewater Treatment")),
    ("EN: EN: WA: 1C", _l("Solid Waste Treatment")),
    ("EN: EN: EQ: 1C", _l("EMF Exposure")),
    ("EN: EN: EQ: 2C", _l("Noise Exposure")),
    ("EN: EN: PN: 1C", _l("Green Areas")),
    ("EN: EN: PN: 2A", _l("Green Area Accessibility")),
    ("EN: EN: PN: 3A", _l("Protected Natural Areas")),
    ("EN: EN: PN: 4A", _l("Recreational Facilities")),
    ("EN: E: E: 1C", _l("Renewable Energy Consumption")),
    ("EN: E: E: 2C", _l("Electricity Consumption")),
    ("EN: E: E: 3C", _l("Residential Thermal Energy Consumption")),
    ("EN: E: E: 4C", _l("Public Building Energy Consumption")),
    ("SC: EH: ED: 1C", _l("Student ICT Access")),
    ("SC: EH: ED: 2C", _l("School Enrollment")),
    ("SC: EH: ED: 3C", _l("Higher Education Degrees")),
    ("SC: EH: ED: 4C", _l("Adult Literacy")),
    ("SC: EH: H: 1C", _l("Electronic Health Records")),
    ("SC: EH: H: 2C", _l("Life Expectancy")),
    ("SC: EH: H: 3C", _l("Maternal Mortality Rate")),
    ("SC: EH: H: 4C", _l("Physicians")),
    ("SC: EH: H: 5C", _l("In-Patient Hospital Beds")),
    ("SC: EH: H: 6A", _l("Health Insurance / Public Health Coverage")),
    ("SC: EH: C: 1C", _l("Cultural Expenditure")),
    ("SC: EH: C: 2A", _l("Cultural Infrastructure")),
    ("SC: SH: HO: 1C", _l("Informal Settlements")),
    ("SC: SH: HO: 2A", _l("Expenditure on Housing")),
    ("SC: SH: SI: 1C", _l("Gender Income Equity")),
    ("SC: SH: SI: 2C", _l("Gini Coefficient")),
    ("SC: SH: SI: 3C", _l("Poverty Share")),
    ("SC: SH: SI: 4C", _l("Voter Participation")),
    ("SC: SH: SI: 5C", _l("Child Care Availability")),
    ("SC: SH: SA: 1C", _l("Natural Disaster Related Deaths")),
    ("SC: SH: SA: 2C", _l("Disaster Related Economic Losses")),
    ("SC: SH: SA: 3A", _l("Resilience Plans")),
    ("SC: SH: SA: 4A", _l("Population Living in Disaster Prone Areas")),
    ("SC: SH: SA: 5C", _l("Emergency Service Response Time")),
    ("SC: SH: SA: 6C", _l("Police Service")),
    ("SC: SH: SA: 7C", _l("Fire Service")),
    ("SC: SH: SA: 8C", _l("Violent Crime Rate")),
    ("SC: SH: SA: 9C", _l("Traffic Fatalities")),
    ("SC: SH: FS: 1A", _l("Local Food Production")),
)

_SDG11: tuple[tuple[str, Any], ...] = (
    ("11.1.1", _l("Urban population living in slums, informal settlements or inadequate housing")),
    ("11.2.1", _l("Population with convenient access to public transport")),
    ("11.3.1", _l("Ratio of land consumption rate to population growth rate")),
    ("11.3.2", _l("Cities with direct participation of civil society in urban planning")),
    ("11.4.1", _l("Per capita expenditure on cultural and natural heritage")),
    ("11.5.1", _l("Deaths, missing and directly affected persons from disasters per 100,000 people")),
    ("11.5.2", _l("Direct economic loss from disasters")),
    ("11.5.3", _l("Damage to critical infrastructure and disruptions to basic services from disasters")),
    ("11.6.1", _l("Municipal solid waste collected and managed in controlled facilities")),
    ("11.6.2", _l("Annual mean levels of fine particulate matter (PM2.5 and PM10)")),
    ("11.7.1", _l("Share of built-up area that is open space for public use")),
    ("11.7.2", _l("Persons victim of physical or sexual harassment")),
    ("11.a.1", _l("National urban policies or regional development plans")),
    ("11.b.1", _l("National disaster risk reduction strategies in line with the Sendai Framework")),
    ("11.b.2", _l("Local governments with local disaster risk reduction strategies")),
)


def _u4ssc(code: str, name: Any) -> Indicator:
    parts = [part.strip() for part in code.split(":")]
    return Indicator(code, name, Framework.U4SSC, f"{parts[0]}: {parts[1]}", core=code.endswith("C"))


CATALOGUE: tuple[Indicator, ...] = (
    *(_u4ssc(code, name) for code, name in _U4SSC),
    *(Indicator(code, name, Framework.SDG11, code.rsplit(".", 1)[0]) for code, name in _SDG11),
)
_BY_CODE = {item.code: item for item in CATALOGUE}
MAX_CODE_CHARS = max(len(code) for code in _BY_CODE)


def is_indicator(code: Any) -> bool:
    """True for a catalogue code (exactly as published)."""
    return isinstance(code, str) and code in _BY_CODE


def indicator(code: str) -> Indicator:
    """The catalogue entry of `code` (KeyError for an unknown code: ask `is_indicator` first)."""
    return _BY_CODE[code]


def by_framework(framework: Framework) -> list[Indicator]:
    """The framework's indicators in the published order."""
    return [item for item in CATALOGUE if item.framework is framework]


def grouped() -> list[tuple[Framework, Source, list[tuple[str, Any, list[Indicator]]]]]:
    """The catalogue as the page shows it: per framework its source and its groups in order."""
    result = []
    for framework in Framework:
        groups: dict[str, list[Indicator]] = {}
        for item in by_framework(framework):
            groups.setdefault(item.group, []).append(item)
        result.append((framework, CATALOGUE_SOURCE[framework],
                       [(group, GROUP_NAMES.get(group, group), items) for group, items in groups.items()]))
    return result


def choices() -> list[tuple[str, str]]:
    """(code, "code — name") for a select field, in catalogue order."""
    return [(item.code, f"{item.code} — {item.name}") for item in CATALOGUE]
