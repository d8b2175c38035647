"""Payment rails: how a disbursement's money reaches the grantee.

Two rails, one interface (`Rail.pay(PaymentRequest) -> RailResult`):

- `StripeRail`: a Stripe Connect transfer to the grantee's connected account,
  through `stripe_gateway` (look-up first, then an idempotent create);
- `ManualRail`: a bank or mobile-money transfer made by staff. It pays nothing
  itself; it answers `awaiting_confirmation` with a payment instruction, and a
  fund manager later confirms the transfer with its bank reference. Stripe does
  not reach many of the facility's countries, so this is a first-class path.

How the disbursement job is meant to use a rail (the job lives with the
disbursement model; this is the contract it relies on):

1. Lock the disbursement; go on only if it is `queued` or `retrying`. Set it
   `processing` and commit, so a crash leaves a state the periodic sweep sees.
2. `result = rail_for(d.rail).pay(PaymentRequest(...))`, passing
   `attempt=<times it was re-queued after failing>` (0 at first).
3. By `result.status`, in one transaction with the ledger posting and audit record:
   - `paid`: store `result.provider_reference`; commitment => disbursed.
   - `awaiting_confirmation`: store `result.instruction`; tell the fund managers.
   - `retryable`: the outcome may be unknown (time-out, dropped connection).
     Count the try; if `RETRY_POLICY.gives_up(tries)` mark it `failed`, else mark it
     `retrying` and enqueue the job again after
     `RETRY_POLICY.delay_seconds(tries, result.retry_after_seconds)`.
     The next run calls `pay()` again, which looks the transfer up at Stripe
     before creating one, so a transfer that did go through is found, not repeated.
     Never "retry" by calling Stripe any other way.
   - `failed`: Stripe said no (`result.message` is its reason); show it. A fund
     manager may fix the account and re-queue (attempt + 1).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from facility.core.labels import labelled
from facility.disbursements import stripe_gateway
from facility.disbursements.stripe_gateway import Received, StripeGateway, TransferStatus


@labelled({"paid": _l("Paid"), "awaiting_confirmation": _l("Awaiting bank confirmation"),
           "retryable": _l("To be tried again"), "failed": _l("Failed")},
          tones={"paid": "good", "awaiting_confirmation": "waiting", "retryable": "waiting", "failed": "bad"})
class PaymentStatus(StrEnum):
    PAID = "paid"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    RETRYABLE = "retryable"
    FAILED = "failed"


@dataclass(frozen=True)
class PaymentRequest:
    """One tranche to pay, in plain values."""

    disbursement_id: int
    amount_cents: int
    payee_name: str
    account: str  # the Stripe connected account id (stripe) or the bank / mobile-money account (manual)
    reference: str  # the grant's reference, quoted to the payee and on the bank transfer
    currency: str = "usd"
    attempt: int = 0  # times re-queued after `failed`
    bank_name: str | None = None
    country: str | None = None  # ISO 3166 alpha-3


@dataclass(frozen=True)
class RailResult:
    status: PaymentStatus
    provider_reference: str | None = None  # e.g. the Stripe transfer id
    message: str = ""
    code: str | None = None
    retry_after_seconds: float | None = None
    instruction: dict[str, Any] | None = None  # manual rail: what staff must pay, and to whom
    found_existing: bool = False
    received: Received | None = None  # Stripe: what the connected account received, in its currency


class Rail(Protocol):
    name: str

    def pay(self, request: PaymentRequest) -> RailResult:
        """Pay (or prepare to pay) one disbursement. Never raises for the provider's errors."""
        ...


@dataclass
class StripeRail:
    """Stripe Connect transfers; `gateway` defaults to the current app's."""

    gateway: StripeGateway | None = None
    name: str = "stripe"

    def pay(self, request: PaymentRequest) -> RailResult:
        gateway = self.gateway or stripe_gateway.get_gateway()
        result = gateway.transfer_for_disbursement(
            disbursement_id=request.disbursement_id, amount_cents=request.amount_cents, destination=request.account,
            grant_reference=request.reference, currency=request.currency, attempt=request.attempt,
        )
        status = {TransferStatus.PAID: PaymentStatus.PAID, TransferStatus.RETRYABLE: PaymentStatus.RETRYABLE,
                  TransferStatus.FAILED: PaymentStatus.FAILED}[result.status]
        return RailResult(status, provider_reference=result.transfer_id, message=result.message, code=result.code,
                          retry_after_seconds=result.retry_after_seconds, found_existing=result.found_existing,
                          received=result.received)


def mask_account(account: str) -> str:
    """Only the last four characters of an account number are shown; short numbers are hidden whole."""
    compact = "".join(account.split())
    if len(compact) <= 4:
        return "••••"
    return f"•••• {compact[-4:]}"


@dataclass
class ManualRail:
    """Staff pay by bank or mobile money; the disbursement waits for their bank reference."""

    name: str = "manual"

    def pay(self, request: PaymentRequest) -> RailResult:
        if request.amount_cents <= 0:
            raise ValueError("amount_cents must be positive")
        instruction = {
            "disbursement_id": request.disbursement_id,
            "payee": request.payee_name,
            "account": mask_account(request.account),
            "bank_name": request.bank_name,
            "country": request.country,
            "amount_cents": request.amount_cents,
            "currency": request.currency.upper(),
            "reference": request.reference,
        }
        return RailResult(PaymentStatus.AWAITING_CONFIRMATION, instruction=instruction,
                          message=_("To be paid by bank or mobile-money transfer, then confirmed with the bank's "
                                    "reference."))


RAIL_NAMES = ("stripe", "manual")


def rail_for(name: str) -> Rail:
    """The rail called `name` ("stripe" or "manual")."""
    if name == "stripe":
        return StripeRail()
    if name == "manual":
        return ManualRail()
    raise ValueError(f"unknown payment rail {name!r}; expected one of {RAIL_NAMES}")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for `retryable` outcomes: 30 s, 1 min, 2 min ... up to an hour."""

    max_tries: int = 8
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    jitter: float = 0.2  # +-20%, so disbursements that failed together do not retry together
    _rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay_seconds(self, tries: int, hint: float | None = None) -> float:
        """How long to wait after the `tries`-th unsuccessful try (1 = the first); never less than the provider's hint."""
        if tries < 1:
            raise ValueError("tries counts from 1")
        exponential = self.base_seconds * 2 ** min(tries - 1, 32)
        spread = exponential * self._rng.uniform(1 - self.jitter, 1 + self.jitter)
        return min(self.cap_seconds, max(spread, hint or 0.0))

    def gives_up(self, tries: int) -> bool:
        """After this many unsuccessful tries the disbursement is marked failed (visible, can be re-queued)."""
        return tries >= self.max_tries


RETRY_POLICY = RetryPolicy()
