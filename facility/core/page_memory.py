"""Each process's own copy of the public cache's recent entries (core.public_cache), kept exact by Redis.

A hit in Redis costs a round trip, most of what a hit costs; the copy answers a page this process served
from Redis before with none. It is only used while this process knows Redis's current generation:

- every bump is one script, `INCR` then `PUBLISH` of the new value on the key prefix's channel; the process
  that bumped takes the new value at once (its own next request never sees an old page);
- a thread in each process subscribes to the channel and takes each value it hears (the others, as soon as
  Redis delivers the message: well under a millisecond on one host, no timer involved);
- the thread re-reads the counter every `CHECK_SECONDS`, and at any doubt (a lost connection, a counter
  lower than the one it holds: Redis flushed, or a bump raced the read) the copy is forgotten until the
  thread has read the counter again: meanwhile every look-up goes to Redis, which is always exact.

The copy holds at most `MAX_ENTRIES` entries of at most `MAX_BODY` bytes; a new generation empties it.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import redis

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
MAX_ENTRIES = 256
MAX_BODY = 512 * 1024
# KEYS[1] the generation counter, ARGV[1] the channel: the new generation, published in the same step.
_BUMP = "local v = redis.call('INCR', KEYS[1]) redis.call('PUBLISH', ARGV[1], v) return v"


class PageMemory:
    def __init__(self, redis_url: str, counter_key: str) -> None:
        self.url = redis_url
        self.counter_key = counter_key
        self.channel = counter_key + ":bumped"
        self.generation: int | None = None  # None: not known, the copy is not used
        self.entries: dict[str, dict[str, Any]] = {}
        self._latest = 0  # the highest bump heard while the generation was not known
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._client: redis.Redis | None = None

    # --- what requests call ---------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        self._ensure_listening()
        generation, entry = self.generation, self.entries.get(key)
        return entry if generation is not None and entry is not None and entry["generation"] == generation else None

    def keep(self, key: str, entry: dict[str, Any]) -> None:
        if self.generation is None or entry["generation"] != self.generation or len(entry["body"]) > MAX_BODY:
            return
        with self._lock:
            if len(self.entries) >= MAX_ENTRIES:
                self.entries = {}
            self.entries[key] = entry

    def bump(self) -> int:
        """Redis's generation plus one, published to every process; this one takes it at once."""
        value = int(self._redis().eval(_BUMP, 1, self.counter_key, self.channel))
        self._saw(value)
        return value

    def forget(self) -> None:
        with self._lock:
            self.generation, self.entries, self._latest = None, {}, 0

    # --- the listener ---------------------------------------------------------------------------------

    def _redis(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client = redis.Redis.from_url(self.url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return self._client

    def _ensure_listening(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid, self._client = os.getpid(), None  # a forked process listens for itself
            self.generation, self.entries, self._latest = None, {}, 0
            threading.Thread(target=self._listen, name="page-memory", daemon=True).start()

    def _saw(self, value: int) -> None:
        with self._lock:
            self._latest = max(self._latest, value)
            if self.generation is not None and value > self.generation:
                self.generation, self.entries = value, {}

    def _check(self, value: int) -> None:
        with self._lock:
            if self.generation is None:
                self.generation, self.entries = max(value, self._latest), {}
            elif value > self.generation:
                self.generation, self.entries = value, {}
            elif value < self.generation:  # flushed, or a bump raced this read: Redis decides until the next read
                self.generation, self.entries, self._latest = None, {}, 0

    def _listen(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            pubsub = None
            try:
                client = redis.Redis.from_url(self.url, socket_timeout=CHECK_SECONDS * 2, socket_connect_timeout=1.0)
                pubsub = client.pubsub()
                pubsub.subscribe(self.channel)
                while self._pid == pid and (pubsub.get_message(timeout=1.0) or {}).get("type") != "subscribe":
                    pass  # only once subscribed does reading the counter leave no bump unheard
                checked = 0.0
                while self._pid == pid:
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self._saw(int(message["data"]))
                    if self.generation is None or time.monotonic() - checked >= CHECK_SECONDS:
                        self._check(int(client.get(self.counter_key) or 0))
                        checked = time.monotonic()
            except Exception:  # Redis away or restarting: forget, and try again in a second
                log.debug("page memory: listener restarting", exc_info=True)
                self.forget()
                time.sleep(1.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        log.debug("page memory: closing the subscription", exc_info=True)
