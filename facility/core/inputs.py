"""What the database can hold, enforced where input comes in (pages and the API alike).

PostgreSQL refuses what SQLite lets through: ids beyond its `integer` columns, amounts beyond
`bigint`, NUL characters in text. Each would surface as a 500 deep in a query; here they are
refused at the door with a clear answer instead:

- `IdConverter` replaces Flask's `int` URL converter: an id the database cannot hold matches
  no route (404), like any other id that does not exist.
- `refuse_unstorable_text` refuses NUL characters (and unpaired UTF-16 surrogates from JSON
  escapes) in the query string, form fields, file names and JSON bodies: 422 with the fields.
- `page_arg` and `id_arg` read query and form values into bounded integers.
- `clean_text` and the `*_CHARS` limits: one limit per kind of field, the same in the form, the
  API schema and the service; longer input is refused with a message, never cut short.
- `date_in_range`: dates and times people give (deadlines, rounds, due dates) lie in the years
  MIN_YEAR..MAX_YEAR; `9999-12-31T23:59:59-12:00` would overflow when turned into UTC (a 500).
- `refuse_deep_json`: a JSON body nested deeper than MAX_JSON_DEPTH is refused (400) before
  anything parses it (Python's parsers, and walks like `_walk_json`, recurse: 5,000 levels
  would be a RecursionError, a 500); `DepthLimitedJSON` makes `request.get_json` refuse it too.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.routing import IntegerConverter, Map

from facility.core.errors import DomainError, ValidationFailed

MAX_ID = 2**31 - 1
"""Ids are PostgreSQL `integer` columns (serial)."""
MAX_CENTS = 10**15
"""USD 10 trillion: far beyond any real amount, and sums of many still fit a `bigint`."""
MIN_YEAR = 1900
MAX_YEAR = 2999
"""Dates and times people give: any real deadline or due date, far from Python's limits (years 1..9999),
which converting a time zone (up to a day either way) would otherwise cross."""
MAX_JSON_DEPTH = 64
"""Arrays and objects inside one another: no request of ours needs more than a handful."""
MAX_PAGE = 1_000_000
"""Beyond any real list; keeps OFFSET = (page - 1) * per_page well inside `bigint`."""

# Length limits, in characters, by kind of field. A form's Length validator, the API schema's
# validate.Length and the service's clean_text all use the same constant.
NAME_CHARS = 200
"""Names and titles: a person, an organisation, a city, a challenge, a proposal, a tranche."""
REFERENCE_CHARS = 120
"""Bank and provider references."""
REASON_CHARS = 2000
"""Reasons, notes and short comments (a cancellation, a decision note, a returned report)."""
COMMENT_CHARS = 10_000
"""Longer free text: a review's comment, a milestone report, a clarification."""


class IdConverter(IntegerConverter):
    """`<int:...>` bounded to the ids the database can hold; larger numbers match no route (404)."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def page_arg(name: str = "page") -> int:
    """The list page asked for in the query string: 1 when missing or not a number, at most MAX_PAGE."""
    return bounded_int(request.args.get(name), minimum=1, maximum=MAX_PAGE) or 1


def id_arg(values: Any, name: str) -> int | None:
    """An id from a form or query (`request.form`, `request.args`): None unless a storable id."""
    return bounded_int(values.get(name), minimum=1, maximum=MAX_ID)


def bounded_int(text: str | None, *, minimum: int, maximum: int) -> int | None:
    """`text` as an int within [minimum, maximum], else None (not a number, out of range)."""
    text = (text or "").strip()
    if not text or len(text) > len(str(maximum)) + 1 or not text.removeprefix("-").isdecimal():
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def clean_text(value: Any, field: str, *, limit: int, required: bool = False, multiline: bool = False) -> str:
    """`value` as text with its white space tidied: runs of spaces folded (and, unless `multiline`,
    line breaks too), ends stripped.

    ValidationFailed naming `field` when it is required and empty, or longer than `limit`
    characters: input is refused with a message, never silently truncated.
    """
    raw = "" if value is None else str(value)
    if multiline:
        text = "\n".join(" ".join(line.split()) for line in raw.strip().splitlines()).strip()
    else:
        text = " ".join(raw.split())
    if required and not text:
        message = _("This is required.")
        raise ValidationFailed(message, errors={field: [message]})
    if len(text) > limit:
        message = _("At most %(n)s characters; this has %(got)s.", n=f"{limit:,}", got=f"{len(text):,}")
        raise ValidationFailed(message, errors={field: [message]})
    return text


# --- dates --------------------------------------------------------------------------------------------

def date_in_range(value: date | datetime | None) -> bool:
    """Whether a given date or time (as given, before any time-zone conversion) is within MIN_YEAR..MAX_YEAR."""
    return value is None or MIN_YEAR <= value.year <= MAX_YEAR


def date_range_message() -> str:
    return str(_("Give a date between the years %(first)s and %(last)s.", first=MIN_YEAR, last=MAX_YEAR))


# --- JSON nested too deeply ------------------------------------------------------------------------

# A JSON string (skipped whole, escapes and all) or one bracket: scanned by the regex engine, no recursion.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


def json_depth_exceeds(data: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text `data` nests arrays and objects more than `limit` deep (a loop, not recursion;
    text that is not JSON is left for the parser to refuse)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for match in _JSON_TOKEN.finditer(raw):
        token = match.group()
        if len(token) == 1:
            if token[0] in _OPENERS:
                depth += 1
                if depth > limit:
                    return True
            else:
                depth = max(depth - 1, 0)
    return False


def too_deep() -> DomainError:
    return DomainError(ngettext("The JSON is nested more than %(n)s level deep.",
                                "The JSON is nested more than %(n)s levels deep.", MAX_JSON_DEPTH, n=MAX_JSON_DEPTH))


def refuse_deep_json() -> None:
    """Refuse (400) a JSON request body nested deeper than MAX_JSON_DEPTH, before anything parses it."""
    if request.is_json and json_depth_exceeds(request.get_data(cache=True)):
        raise too_deep()


class DepthLimitedJSON(DefaultJSONProvider):
    """The app's JSON: `loads` refuses text nested deeper than MAX_JSON_DEPTH (a ValueError, so that
    `request.get_json` answers 400, or None when `silent`) instead of recursing into it."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if json_depth_exceeds(s):
            raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
        return super().loads(s, **kwargs)


# --- text the database cannot store ------------------------------------------------------------

def unstorable(text: str) -> bool:
    """A NUL character (PostgreSQL text refuses it) or an unpaired surrogate (not UTF-8)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _walk_json(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if unstorable(value):
            yield path or "_schema"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and unstorable(key):
                yield path or "_schema"
            else:
                yield from _walk_json(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_json(item, f"{path}.{index}" if path else str(index))


def _unstorable_fields() -> list[str]:
    fields: list[str] = []
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            if unstorable(key) or unstorable(value):
                fields.append(key if not unstorable(key) else "_schema")
    for key, upload in request.files.items(multi=True):
        if unstorable(upload.filename or ""):
            fields.append(key)
    for key, value in (request.view_args or {}).items():
        if isinstance(value, str) and unstorable(value):
            fields.append(key)
    if request.is_json:
        fields.extend(_walk_json(request.get_json(silent=True), ""))
    return list(dict.fromkeys(fields))


def refuse_unstorable_text() -> None:
    """Refuse (422) input with NUL characters or broken Unicode, naming the fields."""
    fields = _unstorable_fields()
    if fields:
        message = _("Contains a NUL character or invalid Unicode, which cannot be stored; remove it.")
        raise ValidationFailed(_("Some of what you sent cannot be stored: %(fields)s.", fields=", ".join(fields)),
                               errors={name: [message] for name in fields})


def register(app: Flask, *, checked_elsewhere: str) -> None:
    """Install the bounded `int` converter, the JSON depth limit (every path, first of all) and the
    text guard (for paths not under `checked_elsewhere`, whose requests call `refuse_unstorable_text`
    themselves, after authentication).

    Call before any blueprint is registered: rules are bound to the converter in force then.
    """
    app.url_map.converters["int"] = IdConverter
    app.json = DepthLimitedJSON(app)
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_deep_json)

    @app.before_request
    def _refuse_unstorable_text() -> None:
        if not request.path.startswith(checked_elsewhere):
            refuse_unstorable_text()
