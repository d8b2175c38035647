"""How every package answers "may this user do this to this object now?".

Each domain package has a `policy.py` with one `can_<action>(user, obj) -> Refusal | None`
per action. `None` means allowed; a `Refusal` says why not, in words a person can act on,
and which kind of error it becomes (403 when the role or the person is wrong, 409 when the
object's state is, 404 when the caller may not know the object exists).

The same function serves everyone who asks:
- a service calls it first, on the locked row, and raises its refusal (`require`);
- a view or API handler calls it to decide what to do, or lets the service refuse;
- a template asks through the one Jinja helper `may("<package>.<action>", obj)`, which
  shows, hides or explains an action.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from facility.core.errors import Conflict, DomainError, NotFound, PermissionDenied


@dataclass(frozen=True)
class Refusal:
    """Why an action is not allowed now, and the error it becomes when someone tries anyway."""

    reason: str
    error: type[DomainError] = PermissionDenied

    def raise_(self) -> NoReturn:
        raise self.error(self.reason)

    @property
    def is_state(self) -> bool:
        """True when the person may act but not yet (or no longer): the page explains instead of hiding."""
        return self.error is Conflict


Decision = Refusal | None


def forbidden(reason: str) -> Refusal:
    """The wrong role, organisation or person (403)."""
    return Refusal(reason, PermissionDenied)


def conflict(reason: str) -> Refusal:
    """The right person, the wrong moment: the object's state does not allow it (409)."""
    return Refusal(reason, Conflict)


def hidden(reason: str) -> Refusal:
    """The caller may not know the object exists (404)."""
    return Refusal(reason, NotFound)


def first(*checks: Callable[[], Decision]) -> Decision:
    """The first refusal among `checks`, evaluated lazily in order (role before state)."""
    for check in checks:
        refusal = check()
        if refusal is not None:
            return refusal
    return None


def require(decision: Decision) -> None:
    """Raise the refusal, if there is one: the first line of every service."""
    if decision is not None:
        decision.raise_()


@dataclass(frozen=True)
class Answer:
    """What a template gets from `may(...)`: truthy when allowed, with the refusal's reason otherwise."""

    refusal: Refusal | None

    def __bool__(self) -> bool:
        return self.refusal is None

    @property
    def reason(self) -> str:
        return self.refusal.reason if self.refusal else ""

    @property
    def explain(self) -> bool:
        """Show the action disabled with its reason (a state refusal) rather than hide it (a role refusal)."""
        return self.refusal is not None and self.refusal.is_state


def policy_function(name: str) -> Callable[..., Decision]:
    """`"disbursements.approve"` -> `facility.disbursements.policy.can_approve`."""
    package, _, action = name.partition(".")
    if not package.isidentifier() or not action.isidentifier():
        raise ValueError(f"A policy name is '<package>.<action>', not {name!r}.")
    module = importlib.import_module(f"facility.{package}.policy")
    function = getattr(module, f"can_{action}")
    return function  # type: ignore[no-any-return]


def may(user: Any, name: str, *args: Any) -> Answer:
    """Ask the package's policy function `name` about `args` for `user` (the Jinja helper's body)."""
    return Answer(policy_function(name)(user, *args))
