"""The 169 SDG targets, as codes ("11.2", "11.a"); source: UN General Assembly resolution A/RES/70/1 (2015),
Transforming our world: the 2030 Agenda for Sustainable Development."""
from __future__ import annotations

import string

# goal -> (number of numbered targets, number of lettered "means of implementation" targets)
_TARGET_COUNTS = {
    1: (5, 2), 2: (5, 3), 3: (9, 4), 4: (7, 3), 5: (6, 3), 6: (6, 2), 7: (3, 2), 8: (10, 2), 9: (5, 3),
    10: (7, 3), 11: (7, 3), 12: (8, 3), 13: (3, 2), 14: (7, 3), 15: (9, 3), 16: (10, 2), 17: (19, 0),
}

SDG_TARGETS: tuple[str, ...] = tuple(
    f"{goal}.{target}"
    for goal, (numbered, lettered) in _TARGET_COUNTS.items()
    for target in [*range(1, numbered + 1), *string.ascii_lowercase[:lettered]]
)
SDG11_TARGETS = tuple(code for code in SDG_TARGETS if code.startswith("11."))
_KNOWN = frozenset(SDG_TARGETS)


def is_target(code: str) -> bool:
    return code in _KNOWN


def sort_key(code: str) -> tuple[int, int, str]:
    goal, _, target = code.partition(".")
    return (int(goal), int(target) if target.isdigit() else 100, target)
