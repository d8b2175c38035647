"""No raw enum value reaches a page: every enum a person can meet has a translated label for every member."""
from __future__ import annotations

import enum
import importlib
import inspect
from pathlib import Path

from facility.core.labels import is_labelled, label

ROOT = Path(__file__).resolve().parents[2] / "facility"

# Enums that never reach a page or an e-mail, with the reason.
INTERNAL = {
    "facility.disbursements.rails.PaymentStatus": "a rail's answer to the payment job",
    "facility.disbursements.stripe_gateway.TransferStatus": "Stripe's answer to the payment job",
}


def _facility_enums() -> dict[str, type[enum.Enum]]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        module = importlib.import_module(".".join(parts))
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, enum.Enum) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_enum_is_labelled(app):
    enums = _facility_enums()
    assert len(enums) > 20, "the scan found too few enums"
    missing = [name for name, cls in enums.items() if name not in INTERNAL and not is_labelled(cls)]
    assert not missing, "enums without labels (decorate them with core.labels.labelled): " + ", ".join(missing)


def test_labels_are_not_the_raw_value(app):
    raw = [f"{name}.{member.name}" for name, cls in _facility_enums().items() if name not in INTERNAL and is_labelled(cls)
           for member in cls if str(label(member)) == member.value and "_" in member.value]
    assert not raw, "labels that are the raw code: " + ", ".join(raw)
