"""Schemas shared by every API module: pagination, problem documents."""
from __future__ import annotations

from functools import cache

import marshmallow as ma
from flask import current_app

from facility.core.inputs import MAX_CENTS, MAX_ID, MAX_PAGE


def id_field(**kwargs) -> ma.fields.Integer:
    """An id in a request body: an integer the database can hold (1..MAX_ID)."""
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


def cents_field(*, minimum: int = 1, **kwargs) -> ma.fields.Integer:
    """An amount in US cents: an integer from `minimum` up to MAX_CENTS (USD 10 trillion)."""
    kwargs.setdefault("metadata", {"description": "US cents"})
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=minimum, max=MAX_CENTS), **kwargs)


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


class ProblemSchema(ma.Schema):
    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))


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


def paginate(select, *, page: int, per_page: int) -> dict:
    """Run a SQLAlchemy select for one page; the count is one extra query, whatever the page size."""
    from facility.extensions import db

    per_page = min(per_page, current_app.config.get("API_PER_PAGE_MAX", 100))
    pagination = db.paginate(select, page=page, per_page=per_page, error_out=False)
    return {"items": pagination.items, "page": page, "per_page": per_page, "total": pagination.total}
