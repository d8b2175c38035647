"""Stripe's write pace: one token bucket in Redis shared by every worker, per Stripe endpoint.

Stripe answers 429 above about 25 write requests per second per endpoint in live mode. Every
worker takes a token from the same bucket (`<QUEUE_PREFIX>stripe:writes:<endpoint>`, a Redis hash)
before a write call (a transfer, a checkout session), so together they stay at the configured pace
instead of each learning about the limit from a 429 and a retry.

The bucket holds at most `burst` tokens and gains `rate` tokens a second. Taking one is a Lua
script (atomic in Redis): it refills the bucket for the time since it last looked, takes a token if
there is one and otherwise says how long until there will be. `acquire()` sleeps that long and asks
again, until a token is taken or its time-out would pass: then it raises `PaceTimeout`, which the
gateway turns into its usual retryable outcome (nothing was sent to Stripe).

In any one second the workers together send at most `rate + burst - 1` writes to one endpoint, and
`rate` a second over longer spans; keep that within Stripe's limit (the defaults: 25 a second, a
burst of 1, so 25 in any second; a margin below it absorbs the network's jitter).

Settings: `STRIPE_WRITES_PER_SECOND` (default 25), `STRIPE_WRITES_BURST` (default 1) and
`STRIPE_WRITES_WAIT_SECONDS` (how long a write may wait for a token, default 10). A rate of 0
turns the pacing off.

The bucket's clock is Redis's (`TIME`), the same for every worker; tests inject `clock` and `sleep`
to run the arithmetic without waiting. If Redis cannot be reached, the write goes ahead (logged): a
429 then is harmless, it is Stripe refusing before doing anything, and the job retries it.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis
from flask import Flask

from facility.queue import get_redis

log = logging.getLogger(__name__)

DEFAULT_WRITES_PER_SECOND = 25.0
DEFAULT_BURST = 1.0
DEFAULT_WAIT_SECONDS = 10.0

# KEYS[1]: the bucket. ARGV: rate (tokens a second), burst (most tokens held), now (seconds; "" = Redis's clock).
# Returns the seconds to wait before asking again, "0" when a token was taken (a string: Lua numbers
# would come back as integers).
TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = burst
  stamp = now
end
if now > stamp then
  tokens = math.min(burst, tokens + (now - stamp) * rate)
  stamp = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'stamp', string.format('%.17g', stamp))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


class PaceTimeout(Exception):
    """No write token came free within the wait allowed; nothing was sent to Stripe."""

    def __init__(self, endpoint: str, waited: float) -> None:
        super().__init__(f"Stripe's write pace for {endpoint}: no turn within {waited:.1f} seconds.")
        self.endpoint = endpoint
        self.waited = waited


class WriteBucket:
    """The shared bucket of Stripe write tokens; `acquire(endpoint)` before each write call."""

    def __init__(self, connection: redis.Redis, *, prefix: str = "", rate: float = DEFAULT_WRITES_PER_SECOND,
                 burst: float = DEFAULT_BURST, wait_seconds: float = DEFAULT_WAIT_SECONDS,
                 clock: Callable[[], float] | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        self.connection = connection
        self.prefix = prefix
        self.rate = float(rate)
        self.burst = float(burst)
        self.wait_seconds = float(wait_seconds)
        self.clock = clock  # None: Redis's clock for the bucket, time.monotonic for the time-out
        self.sleep = sleep
        self._take = connection.register_script(TAKE_SCRIPT)

    @classmethod
    def from_config(cls, connection: redis.Redis, config: Mapping[str, Any]) -> WriteBucket | None:
        """The bucket the settings describe; None when pacing is off (a rate of 0)."""
        rate, burst, wait = pace_settings(config)
        if rate <= 0:
            return None
        return cls(connection, prefix=str(config.get("QUEUE_PREFIX") or ""), rate=rate, burst=burst,
                   wait_seconds=wait)

    def key(self, endpoint: str) -> str:
        return f"{self.prefix}stripe:writes:{endpoint}"

    def try_take(self, endpoint: str) -> float:
        """Take a token if one is free (0.0), else the seconds until one will be (nothing taken)."""
        now = "" if self.clock is None else repr(float(self.clock()))
        answer = self._take(keys=[self.key(endpoint)], args=[repr(self.rate), repr(self.burst), now])
        return float(answer.decode() if isinstance(answer, bytes) else answer)

    def acquire(self, endpoint: str) -> float:
        """Wait for a token for `endpoint` (e.g. "transfers"); the seconds waited.

        Raises `PaceTimeout` when the next turn would come after `wait_seconds`. Redis errors do not
        stop the write (logged)."""
        monotonic = self.clock or time.monotonic
        started = monotonic()
        while True:
            try:
                wait = self.try_take(endpoint)
            except redis.RedisError as exc:
                log.warning("stripe write pace for %s not checked (Redis: %s); sending anyway", endpoint, exc)
                return monotonic() - started
            waited = monotonic() - started
            if wait <= 0:
                return waited
            if waited + wait > self.wait_seconds:
                raise PaceTimeout(endpoint, waited)
            self.sleep(wait)


def pace_settings(config: Mapping[str, Any]) -> tuple[float, float, float]:
    """(rate, burst, wait seconds) from the app's config."""
    rate = config.get("STRIPE_WRITES_PER_SECOND")
    burst = config.get("STRIPE_WRITES_BURST")
    wait = config.get("STRIPE_WRITES_WAIT_SECONDS")
    return (float(DEFAULT_WRITES_PER_SECOND if rate is None else rate),
            max(1.0, float(DEFAULT_BURST if burst is None else burst)),
            float(DEFAULT_WAIT_SECONDS if wait is None else wait))


def pace_fingerprint(config: Mapping[str, Any]) -> list[Any]:
    """What the bucket depends on, for rebuilding the gateway when a setting changes (tests switch them)."""
    return [*pace_settings(config), config.get("QUEUE_PREFIX"), config.get("REDIS_URL")]


def bucket_for(app: Flask) -> WriteBucket | None:
    """The app's shared bucket (on its Redis), or None when pacing is off."""
    if pace_settings(app.config)[0] <= 0:
        return None
    return WriteBucket.from_config(get_redis(app), app.config)
