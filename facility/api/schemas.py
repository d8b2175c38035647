"""Schemas shared by every API module: ids, amounts, optional lists, pagination, problem documents."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import marshmallow as ma
from flask import current_app

from facility.core.inputs import MAX_CENTS, MAX_ID, MAX_PAGE, date_in_range, date_range_message
from facility.extensions import db


def id_field(**kwargs: Any) -> ma.fields.Integer:
    """An id in a request body: an integer the database can hold (1..MAX_ID)."""
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


def cents_field(*, minimum: int = 1, **kwargs: Any) -> ma.fields.Integer:
    """An amount in US cents: an integer from `minimum` up to MAX_CENTS (USD 10 trillion)."""
    kwargs.setdefault("metadata", {"description": "US cents"})
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=minimum, max=MAX_CENTS), **kwargs)


def _sane_date(value: Any) -> None:
    if not date_in_range(value):
        raise ma.ValidationError(date_range_message())


def datetime_field(**kwargs: Any) -> ma.fields.AwareDateTime:
    """A date and time in a request body: ISO 8601 with its offset, in the years `inputs.date_in_range` allows."""
    return ma.fields.AwareDateTime(validate=_sane_date, **kwargs)


def date_field(**kwargs: Any) -> ma.fields.Date:
    """A date in a request body: ISO 8601, in the years `inputs.date_in_range` allows."""
    return ma.fields.Date(validate=_sane_date, **kwargs)


class NullableList(ma.fields.List):
    """An optional list in a request body where `null` means none: it loads as `[]`.

    The API convention for every optional list field: a caller may send `null`, `[]` or leave
    the field out (which means what the field's `load_default` says, or "unchanged" in a PATCH).
    The document marks the field `nullable`. The list's own validators see `[]`.
    """

    def __init__(self, cls_or_instance: ma.fields.Field | type[ma.fields.Field], **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        super().__init__(cls_or_instance, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        return super().deserialize([] if value is None else value, attr, data, **kwargs)


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details: the body of every API error (media type application/problem+json)."""

    class Meta:
        unknown = ma.INCLUDE  # RFC 9457 lets a problem type add members of its own

    type = ma.fields.String(required=True, metadata={"description": "a URI naming the kind of problem"})
    title = ma.fields.String(required=True, metadata={"description": "short, the same for every problem of a type"})
    status = ma.fields.Integer(required=True, metadata={"description": "the HTTP status code"})
    detail = ma.fields.String(required=True, metadata={"description": "what went wrong, for a person"})
    instance = ma.fields.String(required=True, metadata={"description": "the path that was requested"})
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                            metadata={"description": "422: messages by field, nested fields as 'a.b.0.c'"})


@cache
def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The list envelope `{items, page, per_page, total}` around `item_schema`."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return type(name, (ma.Schema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema)),
        "page": ma.fields.Integer(),
        "per_page": ma.fields.Integer(),
        "total": ma.fields.Integer(),
    })


def page_of_items(items: Sequence[Any], args: dict[str, Any]) -> dict[str, Any]:
    """One page of a short list already in memory (built in Python, a fixed number of queries), in the same
    envelope as `paginate`: `args` are `PageArgs`."""
    page, per_page = args["page"], args["per_page"]
    start = (page - 1) * per_page
    return {"items": list(items[start:start + per_page]), "page": page, "per_page": per_page, "total": len(items)}


def paginate(select: Any, *, page: int, per_page: int, count: Callable[[], int] | None = None) -> dict[str, Any]:
    """Run a SQLAlchemy select for one page; the count is one extra query, whatever the page size: `count`
    when given (a leaner query for the same rows), else a count of `select`."""
    per_page = min(per_page, current_app.config.get("API_PER_PAGE_MAX", 100))
    pagination = db.paginate(select, page=page, per_page=per_page, error_out=False, count=count is None)
    total = pagination.total if count is None else count()
    return {"items": pagination.items, "page": page, "per_page": per_page, "total": total}
