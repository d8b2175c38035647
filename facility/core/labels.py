"""Every enum's translated label, declared beside the enum, and one way to show a status.

    @labelled({"offered": _l("Offered: agreement to accept"), "active": _l("Active"), ...},
              tones={"active": "good", "cancelled": "bad"})
    class GrantStatus(str, enum.Enum): ...

`label(member)` gives the label in the viewer's language; templates use the `label` filter
and the `status_badge(status)` macro (templates/_macros.html), which shows the label with a
colour that never carries the meaning alone. No raw enum value reaches a page: a test checks
that every enum in `facility` is labelled for every member.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

E = TypeVar("E", bound=type[enum.Enum])

TONES = ("neutral", "waiting", "good", "bad")
_LABELS: dict[type[enum.Enum], dict[str, Any]] = {}
_TONES: dict[type[enum.Enum], dict[str, str]] = {}


def labelled(labels: Mapping[str, Any], *, tones: Mapping[str, str] | None = None) -> Callable[[E], E]:
    """Class decorator: register `labels` (value -> lazily translated text) and badge `tones` for an enum."""

    def register(enum_class: E) -> E:
        values = {member.value for member in enum_class}
        missing, unknown = values - set(labels), set(labels) - values
        if missing or unknown:
            raise ValueError(f"{enum_class.__name__}: labels missing for {missing or '-'}, unknown {unknown or '-'}")
        bad_tones = {tone for tone in (tones or {}).values() if tone not in TONES}
        if bad_tones:
            raise ValueError(f"{enum_class.__name__}: unknown tones {bad_tones}")
        _LABELS[enum_class] = dict(labels)
        _TONES[enum_class] = dict(tones or {})
        return enum_class

    return register


def is_labelled(enum_class: type[enum.Enum]) -> bool:
    return enum_class in _LABELS


def label(value: Any) -> Any:
    """The translated label of an enum member; other values are returned as they are."""
    if isinstance(value, enum.Enum) and type(value) in _LABELS:
        return _LABELS[type(value)][value.value]
    return value


def tone(value: Any) -> str:
    """The badge tone of an enum member ("neutral" unless declared)."""
    if isinstance(value, enum.Enum):
        return _TONES.get(type(value), {}).get(value.value, "neutral")
    return "neutral"


def choices(enum_class: type[enum.Enum], *, only: Any = None) -> list[tuple[str, Any]]:
    """`(value, label)` pairs for a form's select, radio or checkbox field, in the enum's order."""
    members = [member for member in enum_class if only is None or member in only]
    return [(member.value, _LABELS[enum_class][member.value]) for member in members]
