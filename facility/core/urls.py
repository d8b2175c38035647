"""Where a `next` parameter may send someone: this site only.

Browsers forgive a lot in a `Location` header: they drop tabs and newlines, read a backslash
as a slash, treat `//host` and `/\\host` as another site and `https:host` as an absolute URL.
`safe_next` therefore refuses anything but a plain path on this site, judged on the target as
typed *and* as it reads percent-decoded, and checks the parsed URL's scheme and host
against the request's.
"""
from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from flask import request

_MAX_CHARS = 2000
_DECODE_ROUNDS = 3


def _bad_char(ch: str) -> bool:
    return ch == "\\" or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def _names_another_host(text: str) -> bool:
    return not text.startswith("/") or text.startswith("//")


def _suspicious(text: str, *, typed: bool) -> bool:
    """Control or format characters, backslashes, a start that is not one slash; as typed, white space too."""
    if any(_bad_char(ch) or (typed and ch.isspace()) for ch in text):
        return True
    return _names_another_host(text)


def is_safe_next(target: str | None) -> bool:
    """True when `target` is a path on this site that every browser reads the same way."""
    if not target or len(target) > _MAX_CHARS:
        return False
    if _suspicious(target, typed=True):
        return False
    decoded = target
    for _round in range(_DECODE_ROUNDS):  # `%2F%2F`, `%5C`, `%09`, and double encodings of them
        decoded, previous = unquote(decoded), decoded
        if decoded == previous:
            break
        if _suspicious(decoded, typed=False):
            return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        # A relative path has neither; were one given, it must be exactly this site's.
        return parts.scheme == request.scheme and parts.netloc == request.host
    return True


def safe_next(target: str | None, fallback: str) -> str:
    """`target` when it is a path on this site (`is_safe_next`), else `fallback`.

    The one place a `next` parameter is followed: the language switch, sign-in, and any page
    that sends someone back where they came from."""
    return target if target is not None and is_safe_next(target) else fallback
