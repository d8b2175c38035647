"""The Stripe gateway: the only module that talks to Stripe.

It uses the official `stripe` package (a `StripeClient` built from the app's
config) and takes plain values, so the disbursement and contribution code can
call it without Stripe leaking into their models.

Settings (app config): `STRIPE_API_KEY`, `STRIPE_WEBHOOK_SECRET`,
`STRIPE_API_BASE` (tests point it at the fake server),
`STRIPE_TIMEOUT_SECONDS` (default 15) and `STRIPE_WEBHOOK_TOLERANCE`
(seconds, default 300). Every write call first waits its turn in the workers' shared bucket (`stripe_pace`).

Paying a grantee at most once per tranche rests on two things here:

1. `transfer_for_disbursement` first looks for a transfer already made for the
   disbursement (transfer group `disbursement-<id>`, metadata
   `disbursement_id`). After an unknown outcome (a time-out, a dropped
   connection) a retry therefore finds the transfer instead of paying again.
2. The create call carries an idempotency key derived from the disbursement id,
   so two workers racing past the look-up still make one transfer.

A transfer in US dollars to a connected account whose default currency is another one is converted
by Stripe. Once a transfer is made (or found), `received_by_destination` reads what the account
received: the transfer's `destination_payment` on the connected account, and its balance
transaction's `amount`, `currency` and `exchange_rate`. That read is best effort: the transfer is
made whatever it answers, so an error there leaves the result paid, without the local figures.

The Stripe client never retries by itself (`max_network_retries=0`): retries are
the disbursement job's, with backoff, and always start with the look-up.
Provider errors are never raised from `transfer_for_disbursement`; they come
back classified as `paid`, `retryable` or `failed`.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

import stripe
from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from facility.core.labels import labelled
from facility.disbursements.stripe_pace import PaceTimeout, WriteBucket, bucket_for, pace_fingerprint

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 15.0
DEFAULT_WEBHOOK_TOLERANCE = 300
# Suggested waits before the next attempt, by kind of trouble (the job's backoff may wait longer).
NETWORK_RETRY_AFTER = 30.0
SERVER_ERROR_RETRY_AFTER = 30.0
RATE_LIMIT_RETRY_AFTER = 60.0
IN_PROGRESS_RETRY_AFTER = 10.0
PACE_RETRY_AFTER = 10.0  # no write turn came free in time (a long queue of writes): soon, from the back
CHECKOUT_PRODUCT_NAME = "Contribution to the Urban Innovation Facility"


@labelled({"paid": _l("Transfer made"), "retryable": _l("Outcome unknown; to be looked up and tried again"),
           "failed": _l("Refused by Stripe")}, tones={"paid": "good", "retryable": "waiting", "failed": "bad"})
class TransferStatus(StrEnum):
    PAID = "paid"            # the transfer exists at Stripe (transfer_id)
    RETRYABLE = "retryable"  # outcome unknown or temporary trouble: look up, then try again later
    FAILED = "failed"        # Stripe refused it (decline, invalid request); retrying will not help


class Received(NamedTuple):
    """What a connected account received for a transfer, in its own currency (Stripe's balance transaction)."""

    currency: str  # ISO 4217, as Stripe writes it (lower case)
    amount_minor: int
    exchange_rate: Decimal | None  # units received per unit sent; None when nothing was converted


@dataclass(frozen=True)
class TransferResult:
    status: TransferStatus
    transfer_id: str | None = None
    message: str = ""
    code: str | None = None
    retry_after_seconds: float | None = None
    found_existing: bool = False  # the look-up found a transfer made by an earlier attempt
    request_id: str | None = None
    received: Received | None = None  # paid: what the connected account received (None if unknown)

    @property
    def paid(self) -> bool:
        return self.status is TransferStatus.PAID

    @property
    def retryable(self) -> bool:
        return self.status is TransferStatus.RETRYABLE

    @property
    def failed(self) -> bool:
        return self.status is TransferStatus.FAILED


class CheckoutSession(NamedTuple):
    session_id: str
    url: str


class GatewayError(Exception):
    """Stripe could not do what was asked (checkout); `retryable` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code


class GatewayNotConfigured(GatewayError):
    def __init__(self, setting: str) -> None:
        super().__init__(f"Stripe is not configured: {setting} is not set.", retryable=False, code="not_configured")


class WebhookRejected(Exception):
    """A webhook request that must not be trusted. `reason` is one of:
    missing_secret, missing_signature, bad_signature, stale_timestamp, malformed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def transfer_group_for(disbursement_id: int) -> str:
    return f"disbursement-{disbursement_id}"


def transfer_idempotency_key(disbursement_id: int, attempt: int = 0) -> str:
    """Attempt 0 is the disbursement's first run and all its retries; a re-queue after `failed` uses attempt 1, 2..."""
    key = f"disbursement-{disbursement_id}-transfer"
    return key if attempt == 0 else f"{key}-{attempt}"


def checkout_idempotency_key(contribution_id: int) -> str:
    return f"contribution-{contribution_id}-checkout"


def _require_id(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


def _metadata(obj: stripe.StripeObject) -> dict[str, Any]:
    # StripeObject is not a dict in stripe 16 (no .get()).
    if "metadata" not in obj or obj["metadata"] is None:
        return {}
    return obj["metadata"].to_dict()


class StripeGateway:
    """Stripe calls with the facility's settings; build one with `get_gateway()`."""

    def __init__(self, *, api_key: str | None, api_base: str | None = None,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, webhook_secret: str | None = None,
                 webhook_tolerance: int = DEFAULT_WEBHOOK_TOLERANCE, pace: WriteBucket | None = None) -> None:
        self.api_key = api_key
        self.pace = pace  # the shared bucket of write turns; None: writes go out unpaced
        self.webhook_secret = webhook_secret
        self.webhook_tolerance = webhook_tolerance
        self.client: stripe.StripeClient | None = None
        if api_key:
            self.client = stripe.StripeClient(
                api_key,
                base_addresses={"api": api_base} if api_base else None,
                max_network_retries=0,  # retries are the job's: look up first, then retry with backoff
                http_client=stripe.RequestsClient(timeout=timeout_seconds),
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StripeGateway:
        return cls(**_settings(config))

    # -- transfers (disbursements over the Stripe rail) --
    def find_transfer_for_disbursement(self, disbursement_id: int) -> stripe.Transfer | None:
        """The transfer an earlier attempt made for this disbursement and that was not reversed in full.

        Raises `stripe.StripeError` when Stripe cannot be asked."""
        _require_id("disbursement_id", disbursement_id)
        client = self._client()
        page = client.v1.transfers.list(params={"transfer_group": transfer_group_for(disbursement_id), "limit": 100})
        for transfer in page.auto_paging_iter():
            if _metadata(transfer).get("disbursement_id") == str(disbursement_id) and not transfer.reversed:
                return transfer
        return None

    def transfer_for_disbursement(self, *, disbursement_id: int, amount_cents: int, destination: str,
                                  grant_reference: str, currency: str = "usd", attempt: int = 0) -> TransferResult:
        """Pay a disbursement to a connected account, at most once: look up, then create idempotently.

        Never raises for Stripe's errors; the result says paid, retryable (with a suggested wait) or failed.
        `attempt` > 0 is for re-queueing a disbursement that failed (a new idempotency key; the look-up
        still guards against paying twice)."""
        _require_id("disbursement_id", disbursement_id)
        _require_id("amount_cents", amount_cents)
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
            raise ValueError(f"attempt must be a non-negative integer, not {attempt!r}")
        if self.client is None:
            return TransferResult(TransferStatus.FAILED, message=_("Stripe is not set up here; the grantee gives bank details."),
                                  code="not_configured")
        if not destination:
            return TransferResult(TransferStatus.FAILED, code="no_destination",
                                  message=_("The grantee has no Stripe account to pay into."))
        paid_transfer: stripe.Transfer | None = None
        try:
            existing = self.find_transfer_for_disbursement(disbursement_id)
            if existing is not None:
                result = self._existing_result(existing, disbursement_id, amount_cents, destination, currency)
                paid_transfer = existing
            else:
                self._wait_turn("transfers")
                transfer = self._client().v1.transfers.create(
                    params={
                        "amount": amount_cents,
                        "currency": currency.lower(),
                        "destination": destination,
                        "transfer_group": transfer_group_for(disbursement_id),
                        "description": f"Grant {grant_reference}, disbursement {disbursement_id}",
                        "metadata": {"disbursement_id": str(disbursement_id), "grant_reference": grant_reference,
                                     "attempt": str(attempt)},
                    },
                    options={"idempotency_key": transfer_idempotency_key(disbursement_id, attempt)},
                )
                response = transfer.last_response
                request_id = response.request_id if response else None
                if response is not None and response.headers.get("Idempotent-Replayed") == "true":
                    # Stripe replayed an earlier answer (a snapshot); the look-up did not find that transfer
                    # live, so see whether it has been reversed since.
                    transfer = self._client().v1.transfers.retrieve(transfer.id)
                if transfer.reversed:
                    result = TransferResult(
                        TransferStatus.FAILED, transfer_id=transfer.id, code="transfer_reversed", request_id=request_id,
                        message=_("Stripe transfer %(id)s was taken back; queue the payment again.", id=transfer.id))
                else:
                    result = TransferResult(TransferStatus.PAID, transfer_id=transfer.id, request_id=request_id)
                    paid_transfer = transfer
        except stripe.StripeError as exc:
            result = _classify(exc)
        except PaceTimeout as exc:  # nothing was sent: the next attempt looks up first, as after any retryable
            result = TransferResult(TransferStatus.RETRYABLE, message=str(exc), code="pace_timeout",
                                    retry_after_seconds=PACE_RETRY_AFTER)
        if result.paid and paid_transfer is not None:
            payment = getattr(paid_transfer, "destination_payment", None)
            result = replace(result, received=self.received_by_destination(payment, destination))
        log.info("stripe transfer for disbursement %s (%s cents to %s): %s%s%s", disbursement_id, amount_cents,
                 destination, result.status.value, f" {result.transfer_id}" if result.transfer_id else "",
                 f" [{result.code}] {result.message}" if result.message else "")
        return result

    def received_by_destination(self, destination_payment: Any, destination: str) -> Received | None:
        """What the connected account received for a transfer (its currency, amount and the rate), read from the
        transfer's destination payment and its balance transaction; None when Stripe cannot say (never raises)."""
        try:
            client = self._client()
            payment_id = destination_payment
            if payment_id is not None and not isinstance(payment_id, str):
                payment_id = payment_id.id
            if not payment_id:
                return None
            payment = client.v1.charges.retrieve(payment_id, params={"expand": ["balance_transaction"]},
                                                 options={"stripe_account": destination})
            txn = payment.balance_transaction
            if isinstance(txn, str):
                txn = client.v1.balance_transactions.retrieve(txn, options={"stripe_account": destination})
            if txn is None:
                return None
            amount, currency = txn["amount"], txn["currency"]
            rate = txn["exchange_rate"] if "exchange_rate" in txn else None  # noqa: SIM401 - no .get() in stripe 16
            if isinstance(amount, bool) or not isinstance(amount, int) or not isinstance(currency, str):
                return None
            return Received(currency.lower(), amount, Decimal(str(rate)) if rate is not None else None)
        except (stripe.StripeError, GatewayError, KeyError, AttributeError, TypeError, InvalidOperation) as exc:
            log.warning("stripe payment %s: what %s received could not be read: %s", destination_payment, destination,
                        exc)
            return None

    @staticmethod
    def _existing_result(transfer: stripe.Transfer, disbursement_id: int, amount_cents: int, destination: str,
                         currency: str) -> TransferResult:
        if (transfer.amount, transfer.destination, transfer.currency) != (amount_cents, destination, currency.lower()):
            # Money already went out, differently from what is asked now: never pay again, let a person look.
            log.error("stripe transfer %s for disbursement %s does not match the disbursement", transfer.id,
                      disbursement_id)
            return TransferResult(
                TransferStatus.FAILED, transfer_id=transfer.id, code="transfer_mismatch", found_existing=True,
                message=_("Stripe already has transfer %(id)s for this payment, for another amount or account; it "
                          "does not match and needs review before anything more is paid.", id=transfer.id))
        return TransferResult(TransferStatus.PAID, transfer_id=transfer.id, found_existing=True)

    # -- checkout (card contributions) --
    def create_checkout_session(self, *, contribution_id: int, amount_cents: int, donor_email: str,
                                success_url: str, cancel_url: str) -> CheckoutSession:
        """A Stripe Checkout session for a card contribution, once per contribution (idempotency key).

        Raises `GatewayError` (with `retryable`) when Stripe refuses or cannot be reached."""
        _require_id("contribution_id", contribution_id)
        _require_id("amount_cents", amount_cents)
        client = self._client()
        metadata = {"contribution_id": str(contribution_id)}
        try:
            self._wait_turn("checkout_sessions")
            session = client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "line_items": [{
                        "price_data": {"currency": "usd", "unit_amount": amount_cents,
                                       "product_data": {"name": CHECKOUT_PRODUCT_NAME}},
                        "quantity": 1,
                    }],
                    "customer_email": donor_email,
                    "client_reference_id": str(contribution_id),
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                },
                options={"idempotency_key": checkout_idempotency_key(contribution_id)},
            )
        except stripe.StripeError as exc:
            result = _classify(exc)
            log.warning("stripe checkout for contribution %s: %s [%s] %s", contribution_id, result.status.value,
                        result.code, result.message)
            raise GatewayError(result.message, retryable=result.retryable, code=result.code) from exc
        except PaceTimeout as exc:
            raise GatewayError(str(exc), retryable=True, code="pace_timeout") from exc
        if not session.url:
            raise GatewayError("Stripe returned a checkout session without a payment page.", retryable=True)
        log.info("stripe checkout session %s for contribution %s", session.id, contribution_id)
        return CheckoutSession(session.id, session.url)

    def retrieve_checkout_session(self, session_id: str) -> stripe.checkout.Session:
        """The session as Stripe has it now (status, payment_status, amount_total, client_reference_id)."""
        try:
            return self._client().v1.checkout.sessions.retrieve(session_id)
        except stripe.StripeError as exc:
            result = _classify(exc)
            raise GatewayError(result.message, retryable=result.retryable, code=result.code) from exc

    # -- webhooks --
    def verify_webhook(self, payload: bytes, signature_header: str | None) -> stripe.Event:
        """The event in a webhook request, only if Stripe signed it recently with our endpoint secret.

        Raises `WebhookRejected` otherwise (missing secret or signature, bad signature, a timestamp older
        than the tolerance or further ahead than it, a body that is not an event). Stripe's own check
        only looks back; a signature dated in the future would stay replayable until then."""
        if not self.webhook_secret:
            raise WebhookRejected("missing_secret", "Stripe webhooks are not configured: STRIPE_WEBHOOK_SECRET is not set.")
        if not signature_header:
            raise WebhookRejected("missing_signature", "The request has no Stripe-Signature header.")
        try:
            text = payload.decode("utf-8") if isinstance(payload, bytes | bytearray) else str(payload)
        except UnicodeDecodeError as exc:
            raise WebhookRejected("malformed", "The webhook body is not UTF-8 text.") from exc
        try:
            event = stripe.Webhook.construct_event(text, signature_header, self.webhook_secret,
                                                   tolerance=self.webhook_tolerance, api_key=self.api_key)
        except stripe.SignatureVerificationError as exc:
            raise self._signature_rejection(text, signature_header) from exc
        except (ValueError, TypeError, AttributeError) as exc:  # signed, but not a JSON event
            raise WebhookRejected("malformed", "The webhook body is not a Stripe event.") from exc
        self._refuse_future_timestamp(signature_header)
        data = event.to_dict()
        obj = data.get("data")
        if not (isinstance(data.get("id"), str) and data["id"].startswith("evt_") and isinstance(data.get("type"), str)
                and isinstance(obj, dict) and isinstance(obj.get("object"), dict)):
            raise WebhookRejected("malformed", "The webhook body is not a Stripe event.")
        return event

    def _refuse_future_timestamp(self, header: str) -> None:
        # Read as Stripe reads it (`t=` in the header), against the same clock (`time.time()`).
        stamps = [item.split("=", 1)[1] for item in header.split(",") if item.split("=", 1)[0] == "t" and "=" in item]
        try:
            stamp = int(stamps[0].strip())
        except (IndexError, ValueError):
            raise WebhookRejected("malformed", "The Stripe-Signature header has no timestamp.") from None
        if stamp > time.time() + self.webhook_tolerance:
            log.warning("stripe webhook refused: timestamp more than %s seconds ahead", self.webhook_tolerance)
            raise WebhookRejected("future_timestamp",
                                  f"The webhook timestamp is more than {self.webhook_tolerance} seconds ahead.")

    def _signature_rejection(self, text: str, header: str) -> WebhookRejected:
        # Checked again without the time limit, only to say which check failed.
        try:
            stripe.WebhookSignature.verify_header(text, header, self.webhook_secret, tolerance=None)
        except stripe.SignatureVerificationError:
            log.warning("stripe webhook refused: bad signature")
            return WebhookRejected("bad_signature", "The Stripe-Signature header does not match the payload.")
        log.warning("stripe webhook refused: timestamp older than %s seconds", self.webhook_tolerance)
        return WebhookRejected("stale_timestamp",
                               f"The webhook timestamp is older than {self.webhook_tolerance} seconds (a replay?).")

    def _wait_turn(self, endpoint: str) -> None:  # before a write call; raises `PaceTimeout`
        if self.pace is not None:
            self.pace.acquire(endpoint)

    def _client(self) -> stripe.StripeClient:
        if self.client is None:
            raise GatewayNotConfigured("STRIPE_API_KEY")
        return self.client


def _classify(exc: stripe.StripeError) -> TransferResult:
    """Sort Stripe's errors into retryable (temporary or unknown outcome) and failed (Stripe said no)."""
    body: dict[str, Any] = exc.json_body if isinstance(exc.json_body, dict) else {}
    error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
    code = getattr(exc, "code", None) or error.get("code")
    status = exc.http_status
    request_id = exc.request_id
    message = exc.user_message or error.get("message") or ""

    def retry(message: str, after: float) -> TransferResult:
        return TransferResult(TransferStatus.RETRYABLE, message=message, code=code, retry_after_seconds=after,
                              request_id=request_id)

    if isinstance(exc, stripe.APIConnectionError):
        # The request may or may not have reached Stripe: the next attempt looks the transfer up first.
        return retry(_("Stripe could not be reached; whether it paid is unknown until it is asked again."), NETWORK_RETRY_AFTER)
    if isinstance(exc, stripe.RateLimitError) or status == 429 or code == "rate_limit":
        return retry(message or _("Stripe asked us to slow down."), _retry_after_header(exc) or RATE_LIMIT_RETRY_AFTER)
    if code == "idempotency_key_in_use" or (status == 409 and error.get("type") == "idempotency_error"):
        return retry(message or _("Stripe is still working on an earlier request for this payment."), IN_PROGRESS_RETRY_AFTER)
    if code == "lock_timeout" or status is None or status >= 500 or status == 409:
        return retry(message or _("Stripe had a temporary problem."), SERVER_ERROR_RETRY_AFTER)
    # Declines, invalid requests, key or permission problems, a reused key with other parameters.
    return TransferResult(TransferStatus.FAILED, message=message or _("Stripe refused the payment."), code=code,
                          request_id=request_id)


def _retry_after_header(exc: stripe.StripeError) -> float | None:
    try:
        value = (exc.headers or {}).get("Retry-After")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "api_key": config.get("STRIPE_API_KEY") or None,
        "api_base": config.get("STRIPE_API_BASE") or None,
        "timeout_seconds": float(config.get("STRIPE_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS),
        "webhook_secret": config.get("STRIPE_WEBHOOK_SECRET") or None,
        # A tolerance must exist: without one a captured webhook could be replayed forever.
        "webhook_tolerance": max(1, int(config.get("STRIPE_WEBHOOK_TOLERANCE") or DEFAULT_WEBHOOK_TOLERANCE)),
    }


def get_gateway(app: Flask | None = None) -> StripeGateway:
    """The app's gateway, rebuilt when its Stripe settings change (tests switch them)."""
    app = app or current_app
    settings = _settings(app.config)
    fingerprint = json.dumps([settings, pace_fingerprint(app.config)], sort_keys=True)
    cached = app.extensions.get("stripe_gateway")
    if cached is None or cached[0] != fingerprint:
        cached = (fingerprint, StripeGateway(**settings, pace=bucket_for(app) if settings["api_key"] else None))
        app.extensions["stripe_gateway"] = cached
    return cached[1]


# Module-level shortcuts with the current app's settings.

def transfer_for_disbursement(*, disbursement_id: int, amount_cents: int, destination: str, grant_reference: str,
                              currency: str = "usd", attempt: int = 0) -> TransferResult:
    """See `StripeGateway.transfer_for_disbursement`: look up, then create once; never raises for Stripe's errors."""
    return get_gateway().transfer_for_disbursement(disbursement_id=disbursement_id, amount_cents=amount_cents,
                                                   destination=destination, grant_reference=grant_reference,
                                                   currency=currency, attempt=attempt)


def find_transfer_for_disbursement(disbursement_id: int) -> stripe.Transfer | None:
    """See `StripeGateway.find_transfer_for_disbursement`."""
    return get_gateway().find_transfer_for_disbursement(disbursement_id)


def create_checkout_session(*, contribution_id: int, amount_cents: int, donor_email: str, success_url: str,
                            cancel_url: str) -> CheckoutSession:
    """See `StripeGateway.create_checkout_session`: one session per contribution; raises `GatewayError`."""
    return get_gateway().create_checkout_session(contribution_id=contribution_id, amount_cents=amount_cents,
                                                 donor_email=donor_email, success_url=success_url,
                                                 cancel_url=cancel_url)


def retrieve_checkout_session(session_id: str) -> stripe.checkout.Session:
    return get_gateway().retrieve_checkout_session(session_id)


def verify_webhook(payload: bytes, signature_header: str | None) -> stripe.Event:
    """See `StripeGateway.verify_webhook`: the verified event, or `WebhookRejected`."""
    return get_gateway().verify_webhook(payload, signature_header)
