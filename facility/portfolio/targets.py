"""The results framework's targets, kept as configuration data in `data/targets.json`.

Each target has a key, a value, a unit (`cents` for money, `count` for engagement), a deadline, the
source that set it, and the id of its definition: the sentence a reader sees saying what counts. The
sentences live here, wrapped for translation (a JSON file cannot be translated); the file says which
one applies. The file also holds the policy thresholds the results page measures against (what a
"large informal settlement" share is).

The file is validated when it is loaded: a missing key, a wrong unit, a bad date or an unknown
definition stops the loader with a message naming the problem, never a wrong page.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

DATA_FILE = Path(__file__).parent / "data" / "targets.json"
UNITS = ("cents", "count")
# The results page needs each of these; the file may add more.
REQUIRED = ("capital_raised", "national_governments", "city_governments", "technology_companies")

DEFINITIONS: dict[str, Any] = {
    "capital_raised": _l("Capital raised is the money contributions have brought into the facility, as booked "
                         "in its ledger when it arrives (a pledge counts once the money is received)."),
    "national_government_engaged": _l("A national government is engaged when at least one city of its country "
                                      "is verified by the facility and has published a challenge."),
    "city_government_engaged": _l("A city government is engaged when its city is verified by the facility and "
                                  "has published a challenge."),
    "technology_company_engaged": _l("A technology company is an innovator organisation of type start-up or "
                                     "small or medium-sized enterprise with a submitted proposal still in the "
                                     "competition (submitted, shortlisted, declined or awarded; not withdrawn)."),
}


class TargetsError(ValueError):
    """The targets file is not as this module expects; the message says where."""


@dataclass(frozen=True)
class Target:
    key: str
    value: int
    unit: str
    deadline: date
    source: str
    definition_id: str

    @property
    def definition(self) -> Any:
        """The translated sentence saying what counts towards this target."""
        return DEFINITIONS[self.definition_id]


@dataclass(frozen=True)
class ResultsConfig:
    targets: dict[str, Target]
    large_informal_settlements_min_pct: int

    def target(self, key: str) -> Target:
        return self.targets[key]


def _target(raw: Any, index: int) -> Target:
    where = f"targets[{index}]"
    if not isinstance(raw, dict):
        raise TargetsError(f"{where}: an object is expected")
    missing = {"key", "value", "unit", "deadline", "source", "definition"} - raw.keys()
    if missing:
        raise TargetsError(f"{where}: missing {', '.join(sorted(missing))}")
    key, value, unit, source, definition = raw["key"], raw["value"], raw["unit"], raw["source"], raw["definition"]
    if not isinstance(key, str) or not key:
        raise TargetsError(f"{where}: key must be a non-empty string")
    # bool is an int in Python; a target of `true` is a typo, not a number.
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TargetsError(f"{where} ({key}): value must be a positive integer")
    if unit not in UNITS:
        raise TargetsError(f"{where} ({key}): unit must be one of {', '.join(UNITS)}")
    try:
        deadline = date.fromisoformat(str(raw["deadline"]))
    except ValueError as error:
        raise TargetsError(f"{where} ({key}): deadline must be an ISO date (YYYY-MM-DD)") from error
    if not isinstance(source, str) or not source.strip():
        raise TargetsError(f"{where} ({key}): source must be a non-empty string")
    if definition not in DEFINITIONS:
        raise TargetsError(f"{where} ({key}): unknown definition {definition!r}")
    return Target(key=key, value=value, unit=unit, deadline=deadline, source=source.strip(),
                  definition_id=definition)


def parse(data: Any) -> ResultsConfig:
    """The configuration in `data` (the file's JSON), validated."""
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
        raise TargetsError("the file must be an object with a list of targets")
    targets: dict[str, Target] = {}
    for index, raw in enumerate(data["targets"]):
        target = _target(raw, index)
        if target.key in targets:
            raise TargetsError(f"targets[{index}]: key {target.key!r} appears twice")
        targets[target.key] = target
    absent = [key for key in REQUIRED if key not in targets]
    if absent:
        raise TargetsError(f"missing targets: {', '.join(absent)}")
    if targets["capital_raised"].unit != "cents":
        raise TargetsError("capital_raised must be in cents")
    policy = data.get("policy")
    threshold = policy.get("large_informal_settlements_min_pct") if isinstance(policy, dict) else None
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 0 < threshold <= 100:
        raise TargetsError("policy.large_informal_settlements_min_pct must be an integer from 1 to 100")
    return ResultsConfig(targets=targets, large_informal_settlements_min_pct=threshold)


def load(path: Path = DATA_FILE) -> ResultsConfig:
    """The configuration in the file at `path`, validated."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TargetsError(f"{path.name}: not valid JSON ({error})") from error
    return parse(data)


@cache
def results_config() -> ResultsConfig:
    """The facility's configuration, read once per process."""
    return load()
