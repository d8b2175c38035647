"""A small fake of the Stripe API for tests, served over real HTTP.

The official `stripe` package talks to it unchanged (point `STRIPE_API_BASE` or
`stripe.api_base` at `FakeStripe.url`), so tests exercise the real client:
form encoding, headers, idempotency keys, error classes and time-outs.

What it answers, like Stripe does:

- `POST /v1/transfers`, `GET /v1/transfers/{id}`, `GET /v1/transfers?transfer_group=`
  (newest first, `limit`/`starting_after` paging), `POST /v1/transfers/{id}/reversals`;
- `GET /v1/accounts/{id}` (preset connected accounts, see `PRESET_ACCOUNTS`), `POST /v1/accounts`;
- `GET /v1/charges/{id}` and `GET /v1/balance_transactions/{id}` on a connected account (`Stripe-Account`
  header): a transfer's `destination_payment` and what the account received. A transfer in another
  currency than the destination's `default_currency` is converted at `fx_rates` (local units per unit of
  the transfer's currency, rounded half-even to the account currency's minor unit), as Stripe does;
  `LOCAL_CURRENCY_ACCOUNTS` are preset accounts in other currencies, `set_account_currency()` and
  `set_exchange_rate()` change them;
- `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`.

POST requests honour `Idempotency-Key`: the same key with the same parameters
replays the first answer (header `Idempotent-Replayed: true`); with different
parameters it is refused (400 `idempotency_error`); while the first request is
still running a second one gets 409 `idempotency_key_in_use`.

Destinations: `acct_declined` exists but cannot receive transfers (400 with a
message), an unknown `acct_...` is 400 `resource_missing`.

Faults (`add_fault`, `set_fault_rate`) hit the next matching requests:

- `"500"`, `"429"`: answered with that error, nothing performed;
- `"timeout"`: hangs past the client's time-out, nothing performed;
- `"timeout_after_commit"`: hangs, then performs the request (the client has given up);
- `"lose_answer"`: performs the request, then drops the connection without an answer;
- `"delay"`: answers normally after `seconds` (to make concurrent requests overlap).

Stripe's rate limit (`set_rate_limit(n)`): above `n` requests (POST by default: Stripe's writes) to one
endpoint in any second, a request is answered 429 `rate_limit` with `Stripe-Should-Retry: true`, nothing
performed; `rate_limited` counts those answers (ids in a path are one endpoint: `/v1/transfers/{id}`).

Every request is recorded (`requests`) for assertions. State lives in memory
and is guarded by one lock; `reset()` clears it.

Run it as its own process for multi-process tests:

    python -m tests.fakes.stripe_server --port 0     # prints "listening on http://127.0.0.1:PORT"

and drive it over HTTP with `RemoteFakeStripe(url)` (`/_fake/...` endpoints).

Webhooks: `sign_payload()` builds a `Stripe-Signature` header the way Stripe
does, and `make_event()` / the `*_event()` builders give real event shapes.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import random
import re
import secrets
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from babel.numbers import get_currency_precision

API_VERSION = "2025-09-30.clover"
FAULT_KINDS = ("500", "429", "timeout", "timeout_after_commit", "lose_answer", "delay")
# Connected accounts that exist from the start. `acct_declined` and `acct_1Declined00` exist but cannot
# receive transfers. The `acct_1...` ids have the shape real ids have (the payout form checks it).
PRESET_ACCOUNTS = ("acct_ok_1", "acct_ok_2", "acct_ok_3", "acct_declined",
                   "acct_1Grantee01", "acct_1Grantee02", "acct_1Declined00")
DECLINING_ACCOUNTS = {"acct_declined", "acct_1Declined00"}
# Connected accounts whose default currency is not USD: transfers to them are converted.
LOCAL_CURRENCY_ACCOUNTS = {"acct_1GranteeKE": "kes", "acct_1GranteeUG": "ugx"}
DEFAULT_FX_RATES = {"kes": "129.25", "ugx": "3700.5", "eur": "0.9215"}  # units per US dollar
DECLINE_MESSAGE = ("Your destination account needs to have at least one of the following capabilities enabled: "
                   "transfers, crypto_transfers, legacy_payments")


# --- form decoding ---------------------------------------------------------

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def decode_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn Stripe's bracketed form keys (`metadata[a]`, `line_items[0][quantity]`) into nested values."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            root[key] = value
            continue
        parts = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node = root
        for index, part in enumerate(parts):
            if part == "":  # `expand[]=a&expand[]=b`
                part = str(len(node))
            if index == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return _listify(root, parent="")


def _listify(node: Any, parent: str) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _listify(value, key) for key, value in node.items()}
    if parent != "metadata" and items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def _error(status: int, type_: str, message: str, *, code: str | None = None,
           param: str | None = None) -> tuple[int, dict]:
    error: dict[str, Any] = {"type": type_, "message": message}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return status, {"error": error}


def _rate_limit_error() -> tuple[int, dict]:
    return _error(429, "invalid_request_error", "Request rate limit exceeded. You can learn more about rate limits "
                  "here https://stripe.com/docs/rate-limits.", code="rate_limit")


_ID_SEGMENT = re.compile(r"/[A-Za-z]+_[A-Za-z0-9_]*\d[A-Za-z0-9_]*")


def endpoint_of(path: str) -> str:
    """The endpoint a path belongs to, for the rate limit: `/v1/transfers/tr_1/reversals` -> `/v1/transfers/{id}/reversals`."""
    return _ID_SEGMENT.sub("/{id}", path)


def _missing(param: str) -> tuple[int, dict]:
    return _error(400, "invalid_request_error", f"Missing required param: {param}.",
                  code="parameter_missing", param=param)


def _no_such(kind: str, object_id: str, param: str | None = None) -> tuple[int, dict]:
    return _error(404 if param is None else 400, "invalid_request_error", f"No such {kind}: '{object_id}'",
                  code="resource_missing", param=param)


def _positive_int(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        number = int(value)
        return number if number > 0 else None
    return None


# --- state -----------------------------------------------------------------

@dataclass
class Fault:
    kind: str
    remaining: int = 1
    path: str | None = None
    method: str | None = None
    seconds: float | None = None
    retry_after: int | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path == path)


@dataclass
class _Idempotent:
    fingerprint: tuple
    in_progress: bool = True
    status: int = 0
    body: dict = field(default_factory=dict)


class FakeStripe:
    """The fake's state and its HTTP server (started with `start()`, in a thread)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, hang_seconds: float = 1.0) -> None:
        self.host = host
        self.port = port
        self.hang_seconds = hang_seconds
        self._lock = threading.RLock()
        self._generation = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle --
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeStripe:
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the `python -m` entry point)."""
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        print(f"listening on {self.url}", flush=True)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self._release.set()  # let hanging requests finish
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every object, recorded request, idempotency key and fault.

        Requests still hanging from before are released and then do nothing (a new generation)."""
        with self._lock:
            if hasattr(self, "_release"):
                self._release.set()
            self._release = threading.Event()
            self._generation += 1
            self.transfers: dict[str, dict] = {}
            self.reversals: dict[str, dict] = {}
            self.sessions: dict[str, dict] = {}
            self.accounts: dict[str, dict] = {acct: self._account(acct) for acct in PRESET_ACCOUNTS}
            for acct, currency in LOCAL_CURRENCY_ACCOUNTS.items():
                self.accounts[acct] = self._account(acct, default_currency=currency, country="KE")
            self.fx_rates: dict[str, Decimal] = {c: Decimal(r) for c, r in DEFAULT_FX_RATES.items()}
            self.charges: dict[str, dict] = {}  # destination payments, on the connected accounts
            self.balance_transactions: dict[str, dict] = {}  # theirs, keyed by id (each names its account)
            self.requests: list[dict] = []
            self._idempotency: dict[str, _Idempotent] = {}
            self._faults: list[Fault] = []
            self._fault_rate = 0.0
            self._fault_rng = random.Random(0)
            self._fault_kinds: tuple[str, ...] = ()
            self._fault_rate_path: str | None = None
            self._fault_rate_method: str | None = None
            self._ids = itertools.count(1)
            self._clock_offset = 0
            self._rate_limit: int | None = None
            self._rate_limit_method: str | None = "POST"
            self._rate_window: dict[tuple[str, str], deque[float]] = {}
            self.rate_limited = 0  # requests answered 429 by the rate limit (not by faults)

    # -- faults --
    def add_fault(self, kind: str, count: int = 1, *, path: str | None = None, method: str | None = None,
                  seconds: float | None = None, retry_after: int | None = None) -> None:
        """The next `count` requests matching `path`/`method` (None: any) suffer `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append(Fault(kind, count, path, method.upper() if method else None, seconds, retry_after))

    def set_fault_rate(self, rate: float, *, seed: int = 0, kinds: Iterable[str] = FAULT_KINDS[:5],
                       path: str | None = None, method: str | None = None) -> None:
        """Each matching request suffers a random fault from `kinds` with probability `rate` (seeded)."""
        kinds = tuple(kinds)
        if not all(kind in FAULT_KINDS for kind in kinds):
            raise ValueError(f"unknown fault in {kinds}")
        with self._lock:
            self._fault_rate = rate
            self._fault_rng = random.Random(seed)
            self._fault_kinds = kinds
            self._fault_rate_path = path
            self._fault_rate_method = method.upper() if method else None

    def set_rate_limit(self, per_second: int | None, *, method: str | None = "POST") -> None:
        """Refuse (429) a request to an endpoint that already had `per_second` accepted ones (of `method`, None:
        any) in the last second, as Stripe's rate limiter does; None lifts the limit. `reset()` lifts it too."""
        if per_second is not None and (isinstance(per_second, bool) or not isinstance(per_second, int)
                                       or per_second < 1):
            raise ValueError(f"per_second must be a positive integer or None, not {per_second!r}")
        with self._lock:
            self._rate_limit = per_second
            self._rate_limit_method = method.upper() if method else None
            self._rate_window.clear()

    def _over_rate_limit(self, method: str, path: str) -> bool:
        with self._lock:
            if self._rate_limit is None or self._rate_limit_method not in (None, method):
                return False
            now = time.monotonic()
            window = self._rate_window.setdefault((method, endpoint_of(path)), deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self._rate_limit:
                self.rate_limited += 1
                return True
            window.append(now)
            return False

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._fault_rate = 0.0

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
            rate_fault = Fault("", 1, self._fault_rate_path, self._fault_rate_method)
            if self._fault_rate and rate_fault.matches(method, path) and self._fault_rng.random() < self._fault_rate:
                rate_fault.kind = self._fault_rng.choice(self._fault_kinds)
                return rate_fault
        return None

    # -- queries for assertions --
    def requests_to(self, method: str, path: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["method"] == method.upper() and r["path"] == path]

    def transfers_in_group(self, transfer_group: str) -> list[dict]:
        with self._lock:
            return [t for t in self.transfers.values() if t["transfer_group"] == transfer_group]

    def complete_checkout_session(self, session_id: str) -> dict:
        """The donor paid: the session becomes complete/paid, as Stripe reports it."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="complete", payment_status="paid", payment_intent=self._new_id("pi"))
            return json.loads(json.dumps(session))

    def set_account_currency(self, account_id: str, currency: str) -> None:
        """The connected account's default currency (what transfers to it become)."""
        with self._lock:
            self.accounts[account_id]["default_currency"] = currency.lower()

    def set_exchange_rate(self, currency: str, rate: str | Decimal) -> None:
        """Units of `currency` per US dollar for the conversions from now on."""
        with self._lock:
            self.fx_rates[currency.lower()] = Decimal(str(rate))

    def advance_clock(self, seconds: int) -> None:
        """Shift the `created` timestamps the fake hands out."""
        with self._lock:
            self._clock_offset += seconds

    # -- request processing (called by the handler) --
    def _now(self) -> int:
        return int(time.time()) + self._clock_offset

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}{secrets.token_hex(6)}"

    def _wait(self, seconds: float) -> bool:
        """Hang for `seconds`; False when a reset or stop happened meanwhile (the request is void)."""
        with self._lock:
            release, generation = self._release, self._generation
        release.wait(seconds)
        with self._lock:
            return generation == self._generation and not release.is_set()

    def process(self, method: str, path: str, pairs: list[tuple[str, str]], key: str | None,
                hang: float = 0.0, account: str | None = None) -> tuple[int, dict, dict[str, str]]:
        """Answer one API request, with Stripe's idempotency semantics for POST; `account` is the
        `Stripe-Account` header (a request made on a connected account's behalf)."""
        params = decode_params(pairs)
        if account:
            params["_account"] = account
        headers: dict[str, str] = {}
        if method != "POST" or not key:
            if hang and not self._wait(hang):
                return (*_error(500, "api_error", "The fake was reset while this request hung."), headers)
            with self._lock:
                status, body = self._route(method, path, params)
            return status, body, headers
        headers["Idempotency-Key"] = key
        fingerprint = (method, path, tuple(sorted(pairs)))
        with self._lock:
            entry = self._idempotency.get(key)
            if entry is not None:
                if entry.fingerprint != fingerprint:
                    status, body = _error(
                        400, "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were first used "
                        f"with. Try using a key other than '{key}' if you meant to execute a different request.")
                    return status, body, headers
                if entry.in_progress:
                    status, body = _error(
                        409, "idempotency_error",
                        "There is currently another in-progress request using this Idempotent Key (that probably "
                        "means you submitted twice, and the other request is still going through): "
                        f"{key}. Please try again later.", code="idempotency_key_in_use")
                    return status, body, headers
                headers["Idempotent-Replayed"] = "true"
                return entry.status, json.loads(json.dumps(entry.body)), headers
            entry = self._idempotency[key] = _Idempotent(fingerprint)
        try:
            if hang and not self._wait(hang):
                return (*_error(500, "api_error", "The fake was reset while this request hung."), headers)
            with self._lock:
                status, body = self._route(method, path, params)
        except BaseException:
            with self._lock:
                self._idempotency.pop(key, None)
            raise
        with self._lock:
            if status >= 500 or status == 429:  # not saved: the endpoint never ran
                self._idempotency.pop(key, None)
            else:
                entry.in_progress, entry.status, entry.body = False, status, json.loads(json.dumps(body))
        return status, body, headers

    _ROUTES = (
        ("POST", re.compile(r"^/v1/transfers$"), "_create_transfer"),
        ("GET", re.compile(r"^/v1/transfers$"), "_list_transfers"),
        ("GET", re.compile(r"^/v1/transfers/(?P<id>[^/]+)$"), "_get_transfer"),
        ("POST", re.compile(r"^/v1/transfers/(?P<id>[^/]+)/reversals$"), "_reverse_transfer"),
        ("GET", re.compile(r"^/v1/accounts/(?P<id>[^/]+)$"), "_get_account"),
        ("GET", re.compile(r"^/v1/charges/(?P<id>[^/]+)$"), "_get_charge"),
        ("GET", re.compile(r"^/v1/balance_transactions/(?P<id>[^/]+)$"), "_get_balance_transaction"),
        ("POST", re.compile(r"^/v1/accounts$"), "_create_account"),
        ("POST", re.compile(r"^/v1/checkout/sessions$"), "_create_session"),
        ("GET", re.compile(r"^/v1/checkout/sessions/(?P<id>[^/]+)$"), "_get_session"),
    )

    def _route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        for route_method, pattern, handler in self._ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                return getattr(self, handler)(params, **match.groupdict())
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    # -- transfers --
    def _create_transfer(self, params: dict) -> tuple[int, dict]:
        for name in ("amount", "currency", "destination"):
            if not params.get(name):
                return _missing(name)
        amount = _positive_int(params["amount"])
        if amount is None:
            return _error(400, "invalid_request_error", "Invalid positive integer", code="parameter_invalid_integer",
                          param="amount")
        currency = str(params["currency"]).lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            return _error(400, "invalid_request_error", f"Invalid currency: {currency}.", param="currency")
        destination = params["destination"]
        if destination not in self.accounts:
            return _no_such("destination", destination, param="destination")
        if destination in DECLINING_ACCOUNTS:
            return _error(400, "invalid_request_error", DECLINE_MESSAGE, code="insufficient_capabilities_for_transfer",
                          param="destination")
        metadata = params.get("metadata") or {}
        if not isinstance(metadata, dict):
            return _error(400, "invalid_request_error", "Invalid object", param="metadata")
        transfer_id = self._new_id("tr")
        payment_id = self._destination_payment(transfer_id, destination, amount, currency)
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": self._new_id("txn"),
            "created": self._now(),
            "currency": currency,
            "description": params.get("description"),
            "destination": destination,
            "destination_payment": payment_id,
            "livemode": False,
            "metadata": dict(metadata),
            "reversals": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                          "url": f"/v1/transfers/{transfer_id}/reversals"},
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": params.get("transfer_group"),
        }
        self.transfers[transfer_id] = transfer
        return 200, transfer

    def _destination_payment(self, transfer_id: str, destination: str, amount: int, currency: str) -> str:
        """The payment the connected account receives (`py_...`) and its balance transaction, converted into
        the account's default currency when it is another one."""
        account_currency = str(self.accounts[destination].get("default_currency") or currency).lower()
        rate: Decimal | None = None
        received = amount
        if account_currency != currency and account_currency in self.fx_rates and currency == "usd":
            rate = self.fx_rates[account_currency]
            major = Decimal(amount) / 100 * rate
            scale = Decimal(10) ** get_currency_precision(account_currency.upper())
            received = int((major * scale).to_integral_value(rounding=ROUND_HALF_EVEN))
        else:
            account_currency = currency
        payment_id, txn_id = self._new_id("py"), self._new_id("txn")
        self.balance_transactions[txn_id] = {
            "id": txn_id, "object": "balance_transaction", "account": destination, "amount": received,
            "currency": account_currency, "exchange_rate": float(rate) if rate is not None else None,
            "fee": 0, "net": received, "type": "payment", "source": payment_id, "status": "pending",
            "created": self._now()}
        self.charges[payment_id] = {
            "id": payment_id, "object": "charge", "account": destination, "amount": received,
            "currency": account_currency, "balance_transaction": txn_id, "source_transfer": transfer_id,
            "paid": True, "status": "succeeded", "created": self._now()}
        return payment_id

    def _on_account(self, params: dict, store: dict, kind: str, id: str) -> tuple[int, dict]:
        found = store.get(id)
        if found is None or found["account"] != params.get("_account"):  # only on the account it belongs to
            return _no_such(kind, id)
        return 200, {k: v for k, v in found.items() if k != "account"}

    def _get_charge(self, params: dict, id: str) -> tuple[int, dict]:
        status, charge = self._on_account(params, self.charges, "charge", id)
        if status == 200 and "balance_transaction" in (params.get("expand") or []):
            charge["balance_transaction"] = self._on_account(
                params, self.balance_transactions, "balance_transaction", charge["balance_transaction"])[1]
        return status, charge

    def _get_balance_transaction(self, params: dict, id: str) -> tuple[int, dict]:
        return self._on_account(params, self.balance_transactions, "balance_transaction", id)

    def _list_transfers(self, params: dict) -> tuple[int, dict]:
        rows = sorted(self.transfers.values(), key=lambda t: (t["created"], t["id"]), reverse=True)
        if params.get("transfer_group"):
            rows = [t for t in rows if t["transfer_group"] == params["transfer_group"]]
        if params.get("destination"):
            rows = [t for t in rows if t["destination"] == params["destination"]]
        return self._page(rows, params, "/v1/transfers")

    def _page(self, rows: list[dict], params: dict, url: str) -> tuple[int, dict]:
        limit = _positive_int(params.get("limit", "10"))
        if limit is None or limit > 100:
            return _error(400, "invalid_request_error", "Invalid integer: limit must be between 1 and 100.",
                          param="limit")
        if params.get("starting_after"):
            ids = [row["id"] for row in rows]
            if params["starting_after"] not in ids:
                return _no_such("object", params["starting_after"], param="starting_after")
            rows = rows[ids.index(params["starting_after"]) + 1:]
        return 200, {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit, "url": url}

    def _get_transfer(self, params: dict, id: str) -> tuple[int, dict]:
        transfer = self.transfers.get(id)
        return (200, transfer) if transfer else _no_such("transfer", id)

    def _reverse_transfer(self, params: dict, id: str) -> tuple[int, dict]:
        transfer = self.transfers.get(id)
        if transfer is None:
            return _no_such("transfer", id)
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = _positive_int(params["amount"]) if "amount" in params else left
        if amount is None or amount > left:
            return _error(400, "invalid_request_error",
                          "Amount must be positive and no more than the amount not yet reversed.", param="amount")
        reversal = {"id": self._new_id("trr"), "object": "transfer_reversal", "amount": amount,
                    "created": self._now(), "currency": transfer["currency"], "transfer": id,
                    "metadata": dict(params.get("metadata") or {})}
        self.reversals[reversal["id"]] = reversal
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].insert(0, reversal)
        transfer["reversals"]["total_count"] += 1
        return 200, reversal

    # -- accounts --
    def _account(self, account_id: str, **extra: Any) -> dict:
        enabled = account_id not in DECLINING_ACCOUNTS
        return {"id": account_id, "object": "account", "type": "express", "country": "US",
                "default_currency": "usd", "charges_enabled": enabled, "payouts_enabled": enabled,
                "details_submitted": True,
                "capabilities": {"transfers": "active" if enabled else "inactive"}, **extra}

    def _get_account(self, params: dict, id: str) -> tuple[int, dict]:
        account = self.accounts.get(id)
        if account is None:
            return _error(403, "invalid_request_error",
                          "The provided key does not have access to account '%s' (or that account does not exist)." % id,
                          code="account_invalid")
        return 200, account

    def _create_account(self, params: dict) -> tuple[int, dict]:
        account_id = self._new_id("acct")
        account = self._account(account_id, type=params.get("type", "express"), email=params.get("email"),
                                country=params.get("country", "US"))
        self.accounts[account_id] = account
        return 200, account

    # -- checkout sessions --
    def _create_session(self, params: dict) -> tuple[int, dict]:
        if params.get("mode") != "payment":
            return _error(400, "invalid_request_error", "This fake supports only mode=payment.", param="mode")
        if not params.get("success_url"):
            return _missing("success_url")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            return _missing("line_items")
        total, currency = 0, None
        for index, item in enumerate(items):
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                return _missing(f"line_items[{index}][price_data]")
            unit = _positive_int(price.get("unit_amount"))
            quantity = _positive_int(item.get("quantity", "1"))
            if unit is None or quantity is None:
                return _error(400, "invalid_request_error", "Invalid positive integer",
                              param=f"line_items[{index}][price_data][unit_amount]")
            total += unit * quantity
            currency = str(price.get("currency", "")).lower() or None
        if not currency:
            return _missing("line_items[0][price_data][currency]")
        session_id = self._new_id("cs_test")
        now = self._now()
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "expires_at": now + 24 * 3600,
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"{self.url}/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return 200, session

    def _get_session(self, params: dict, id: str) -> tuple[int, dict]:
        session = self.sessions.get(id)
        return (200, session) if session else _no_such("checkout.session", id)

    # -- remote control (`/_fake/...`) --
    def control(self, method: str, path: str, body: dict) -> tuple[int, Any]:
        with self._lock:
            if method == "GET" and path == "/_fake/transfers":
                return 200, list(self.transfers.values())
            if method == "GET" and path == "/_fake/sessions":
                return 200, list(self.sessions.values())
            if method == "GET" and path == "/_fake/requests":
                return 200, self.requests
            if method == "GET" and path == "/_fake/stats":
                return 200, {"rate_limited": self.rate_limited}
            if method == "POST" and path == "/_fake/rate_limit":
                try:
                    self.set_rate_limit(**body)
                except (TypeError, ValueError) as exc:
                    return 400, {"error": str(exc)}
                return 200, {"ok": True}
            if method == "POST" and path == "/_fake/reset":
                self.reset()
                return 200, {"ok": True}
            if method == "POST" and path == "/_fake/faults":
                try:
                    self.add_fault(**body)
                except (TypeError, ValueError) as exc:
                    return 400, {"error": str(exc)}
                return 200, {"ok": True}
            if method == "POST" and path == "/_fake/fault_rate":
                try:
                    self.set_fault_rate(**body)
                except (TypeError, ValueError) as exc:
                    return 400, {"error": str(exc)}
                return 200, {"ok": True}
            if method == "POST" and path == "/_fake/account_currency":
                try:
                    self.set_account_currency(body["account"], body["currency"])
                except (KeyError, TypeError, AttributeError) as exc:
                    return 400, {"error": str(exc)}
                return 200, {"ok": True}
            if method == "POST" and path == "/_fake/exchange_rate":
                try:
                    self.set_exchange_rate(body["currency"], body["rate"])
                except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
                    return 400, {"error": str(exc)}
                return 200, {"ok": True}
            match = re.fullmatch(r"/_fake/checkout/sessions/([^/]+)/complete", path)
            if method == "POST" and match and match.group(1) in self.sessions:
                return 200, self.complete_checkout_session(match.group(1))
        return 404, {"error": f"no fake endpoint {method} {path}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeStripe


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the stripe client expects
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait for delayed ACKs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            # The client died while sending (a killed worker): like Stripe, act on no partial request.
            self.close_connection = True
            return
        if url.path.startswith("/_fake/"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send(400, {"error": "send a JSON object"})
                return
            status, payload = fake.control(method, url.path, body)
            self._send(status, payload)
            return

        pairs = parse_qsl(url.query, keep_blank_values=True)
        if raw:
            pairs += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        key = self.headers.get("Idempotency-Key")
        fault = fake._take_fault(method, url.path)
        limited = fault is None and fake._over_rate_limit(method, url.path)
        with fake._lock:
            fake.requests.append({
                "method": method, "path": url.path, "query": url.query, "headers": dict(self.headers.items()),
                "idempotency_key": key, "params": decode_params(pairs), "fault": fault.kind if fault else None,
                "rate_limited": limited, "at": time.time(),
            })
        kind = fault.kind if fault else None
        if limited:
            self._send(*_rate_limit_error(), {"Stripe-Should-Retry": "true"})
            return
        if kind == "500":
            self._send(*_error(500, "api_error", "An unknown error occurred"))
            return
        if kind == "429":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            self._send(*_rate_limit_error(), headers)
            return
        if kind == "timeout":
            fake._wait(fault.seconds or fake.hang_seconds)
            self._drop()
            return
        auth = self.headers.get("Authorization", "")
        if not re.fullmatch(r"Bearer sk_test_\S+", auth):
            self._send(*_error(401, "invalid_request_error",
                               "Invalid API Key provided. Use a test key (sk_test_...) with the fake."))
            return
        # Both hang while holding the idempotency key, as a slow request at Stripe does.
        hang = 0.0
        if kind == "timeout_after_commit":
            hang = fault.seconds or fake.hang_seconds
        elif kind == "delay":
            hang = fault.seconds or 0.2
        status, body, headers = fake.process(method, url.path, pairs, key, hang=hang,
                                             account=self.headers.get("Stripe-Account"))
        if kind in ("lose_answer", "timeout_after_commit"):
            self._drop()  # performed, but the caller never hears of it
            return
        self._send(status, body, headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(2)  # socket.SHUT_RDWR: the client sees the connection end, no answer
        except OSError:
            pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
            self.send_header("Stripe-Version", API_VERSION)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client went away (it timed out)
            self.close_connection = True


# --- remote control of a fake in another process ---------------------------

class RemoteFakeStripe:
    """Drive a fake started with `python -m tests.fakes.stripe_server` over its `/_fake` endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body or {}).encode() if method == "POST" else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,  # noqa: S310 - local fake
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    @property
    def transfers(self) -> list[dict]:
        return self._call("GET", "/_fake/transfers")

    @property
    def requests(self) -> list[dict]:
        return self._call("GET", "/_fake/requests")

    @property
    def sessions(self) -> list[dict]:
        return self._call("GET", "/_fake/sessions")

    def reset(self) -> None:
        self._call("POST", "/_fake/reset")

    def add_fault(self, kind: str, count: int = 1, **options: Any) -> None:
        self._call("POST", "/_fake/faults", {"kind": kind, "count": count, **options})

    def set_fault_rate(self, rate: float, **options: Any) -> None:
        self._call("POST", "/_fake/fault_rate", {"rate": rate, **options})

    def set_rate_limit(self, per_second: int | None, **options: Any) -> None:
        self._call("POST", "/_fake/rate_limit", {"per_second": per_second, **options})

    @property
    def rate_limited(self) -> int:
        return self._call("GET", "/_fake/stats")["rate_limited"]

    def complete_checkout_session(self, session_id: str) -> dict:
        return self._call("POST", f"/_fake/checkout/sessions/{session_id}/complete")

    def set_account_currency(self, account_id: str, currency: str) -> None:
        self._call("POST", "/_fake/account_currency", {"account": account_id, "currency": currency})

    def set_exchange_rate(self, currency: str, rate: str) -> None:
        self._call("POST", "/_fake/exchange_rate", {"currency": currency, "rate": str(rate)})


# --- webhooks --------------------------------------------------------------

def sign_payload(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def make_event(event_type: str, obj: dict, *, event_id: str | None = None, created: int | None = None,
               account: str | None = None) -> dict:
    """An event in Stripe's v1 snapshot shape."""
    event = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account:
        event["account"] = account  # Connect events name the connected account
    return event


def signed_event(event: dict, secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
    """The request body and `Stripe-Signature` header Stripe would POST for `event`."""
    payload = json.dumps(event, indent=2).encode()
    return payload, sign_payload(payload, secret, timestamp)


def checkout_session_completed_event(*, session_id: str | None = None, contribution_id: int | str = 1,
                                     amount_cents: int = 10_000, donor_email: str = "donor@example.org",
                                     session: dict | None = None, **event_options: Any) -> dict:
    session = session or {
        "id": session_id or f"cs_test_{secrets.token_hex(12)}",
        "object": "checkout.session",
        "amount_subtotal": amount_cents,
        "amount_total": amount_cents,
        "client_reference_id": str(contribution_id),
        "currency": "usd",
        "customer_email": donor_email,
        "metadata": {"contribution_id": str(contribution_id)},
        "mode": "payment",
        "payment_intent": f"pi_{secrets.token_hex(12)}",
        "payment_status": "paid",
        "status": "complete",
    }
    return make_event("checkout.session.completed", session, **event_options)


def checkout_session_expired_event(*, session: dict, **event_options: Any) -> dict:
    return make_event("checkout.session.expired", {**session, "status": "expired"}, **event_options)


def transfer_reversed_event(*, transfer: dict, **event_options: Any) -> dict:
    reversed_transfer = {**transfer, "amount_reversed": transfer["amount"], "reversed": True}
    return make_event("transfer.reversed", reversed_transfer, **event_options)


def payout_failed_event(*, account: str, amount_cents: int, failure_code: str = "account_closed",
                        failure_message: str = "The bank account has been closed.", **event_options: Any) -> dict:
    """A connected account's payout to its bank failed (Stripe's nearest thing to a failed transfer)."""
    payout = {"id": f"po_{secrets.token_hex(12)}", "object": "payout", "amount": amount_cents, "currency": "usd",
              "failure_code": failure_code, "failure_message": failure_message, "status": "failed"}
    return make_event("payout.failed", payout, account=account, **event_options)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Stripe API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--hang-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    FakeStripe(args.host, args.port, hang_seconds=args.hang_seconds).serve_forever()


if __name__ == "__main__":
    main()
