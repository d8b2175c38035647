"""Who may do what with a tranche's indicators, and when (re-exported by `grants.policy`, so templates ask
`may("grants.report_reading", indicator)` like any other grants action).

- The grantee's innovators report a value for an indicator of a tranche of an active grant not yet paid, one
  reading awaiting verification at a time.
- A fund manager other than the reading's reporter verifies or rejects a submitted reading (separate duties).
- A fund manager makes an indicator a payment condition (or not) while its tranche is unpaid.
- Unverified readings are seen by the grantee, the challenge's city and the facility's staff; everyone else
  (the public pages, the open data) sees verified values only.
- `payment_condition(tranche)`: a tranche with a condition indicator is paid only once that indicator's
  latest verified reading reaches its target; `disbursements.policy.can_request` asks it.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import Role
from facility.accounts.policy import fund_manager_refusal, has_role, is_member_of, reads_everything, role_refusal
from facility.challenges.policy import is_city_official
from facility.core.policy import Decision, conflict, first, forbidden
from facility.grants.indicator_models import IndicatorReading, ReadingStatus, TrancheIndicator
from facility.grants.models import UNPAID_TRANCHE_STATUSES, Grant, GrantStatus, Tranche


def _grantee(user: Any, grant: Grant) -> bool:
    return is_member_of(user, grant.organization_id) and has_role(user, Role.INNOVATOR)


def can_see_unverified_readings(user: Any, grant: Grant) -> Decision:
    """The grantee organisation, the challenge's city officials and staff/auditors see readings not yet verified."""
    if reads_everything(user) or is_member_of(user, grant.organization_id) or is_city_official(user, grant.challenge):
        return None
    return forbidden(_("Only the grantee, the city and the facility's staff see values not yet verified."))


def can_measure(user: Any, grant: Grant) -> Decision:
    """The role part of reporting values: the grantee organisation's innovators."""
    return None if _grantee(user, grant) else role_refusal(
        user, _("Only the grantee organisation's innovators report indicator values."))


def can_verify_values(user: Any, _grant: Grant | None = None) -> Decision:
    """The role part of verifying values and setting payment conditions: fund managers."""
    return fund_manager_refusal(user, _("Only fund managers verify indicator values and set payment conditions."))


def can_report_reading(user: Any, indicator: TrancheIndicator) -> Decision:
    """The grantee's innovators report a measured value for an indicator of an unpaid tranche of an active grant,
    when no earlier reading of it awaits verification."""
    tranche = indicator.tranche
    return first(
        lambda: None if _grantee(user, tranche.grant) else role_refusal(
            user, _("Only the grantee organisation's innovators report indicator values.")),
        lambda: None if tranche.grant.status is GrantStatus.ACTIVE else conflict(
            _("Accept the grant agreement before reporting indicator values.")),
        lambda: None if tranche.status in UNPAID_TRANCHE_STATUSES else conflict(
            _("This tranche is paid or being paid; its indicators take no more values.")),
        lambda: None if indicator.pending_reading is None else conflict(
            _("A value of this indicator already awaits verification.")),
    )


def can_verify_reading(user: Any, reading: IndicatorReading) -> Decision:
    """A fund manager other than its reporter verifies or rejects a submitted reading, once."""
    return first(
        lambda: fund_manager_refusal(user, _("Only fund managers verify indicator values.")),
        lambda: None if reading.reported_by_id != getattr(user, "id", None) else forbidden(
            _("The person who reported a value does not verify it.")),
        lambda: None if reading.status is ReadingStatus.SUBMITTED else conflict(
            _("This value was already verified or rejected.")),
    )


def can_review_reading(user: Any, indicator: TrancheIndicator) -> Decision:
    """A fund manager verifies or rejects the indicator's value awaiting verification (`can_verify_reading`)."""
    return first(
        lambda: fund_manager_refusal(user, _("Only fund managers verify indicator values.")),
        lambda: None if indicator.pending_reading is not None else conflict(
            _("No value of this indicator awaits verification.")),
        lambda: can_verify_reading(user, indicator.pending_reading) if indicator.pending_reading else None,
    )


def can_set_condition(user: Any, indicator: TrancheIndicator) -> Decision:
    """A fund manager makes an indicator a payment condition of its tranche, or not, while the tranche is unpaid."""
    return first(
        lambda: fund_manager_refusal(user, _("Only fund managers set payment conditions.")),
        lambda: None if indicator.tranche.status in UNPAID_TRANCHE_STATUSES else conflict(
            _("This tranche is paid or being paid: its payment conditions can no longer change.")),
    )


def payment_condition(tranche: Tranche) -> Decision:
    """Rule: a tranche whose payment depends on an indicator is requested only once that indicator's latest
    verified reading reaches its target (at or above it to increase, at or below it to decrease)."""
    for indicator in tranche.indicators:
        if not indicator.is_condition:
            continue
        latest = indicator.latest_verified
        if latest is None:
            return conflict(_("This tranche is paid when %(code)s reaches its target: no value of it is verified yet.",
                              code=indicator.code))
        if not indicator.direction.reached(latest.value, indicator.target):
            return conflict(_("This tranche is paid when %(code)s reaches its target of %(target)s; its latest "
                              "verified value is %(value)s.", code=indicator.code, target=indicator.target,
                              value=latest.value))
    return None
