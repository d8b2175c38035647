"""Full-text search and JSON-list filters, the one place that knows the database's dialect.

`narrow(query, table=..., id_column=..., q=...)` joins the rows of a searchable table (see
`search_schema.SEARCH_COLUMNS`) that match every word of `q` and gives the rank to order by first:
PostgreSQL matches `search_vector @@ plainto_tsquery('simple', q)` (GIN index) ranked by `ts_rank`;
SQLite matches the FTS5 table with every word quoted as a string (so FTS syntax in `q` is only text)
ranked by `bm25`. Both weigh a hit in the title above one in the summary, above one in the body.
"""
from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

from facility.core.search_schema import SEARCH_COLUMNS, VECTOR_COLUMN, fold_accents, fts_table
from facility.extensions import db

S = TypeVar("S", bound=sa.Select[Any])

BM25_WEIGHTS = (10.0, 4.0, 2.0)
"""SQLite: title, summary, body; in the ratio of PostgreSQL's default ts_rank weights A, B and C (1, 0.4, 0.2)."""


def _dialect() -> str:
    return str(db.session.get_bind().dialect.name)


def words(q: str) -> list[str]:
    """The words of `q` as the search sees them: split on spaces, accents of Latin letters folded, NUL and
    lone surrogates dropped (no database accepts them), chunks without a letter or digit left out."""
    text = fold_accents(q.replace("\x00", " ")).encode("utf-8", "ignore").decode("utf-8")
    return [chunk for chunk in text.split() if any(ch.isalnum() for ch in chunk)]


def fts5_query(terms: list[str]) -> str:
    """An FTS5 query matching every term: each one a quoted string (quotes doubled), so no term is syntax."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _tsquery(terms: list[str]) -> Any:
    return sa.func.plainto_tsquery(sa.literal_column("'simple'::regconfig"), " ".join(terms))


def hits(table: str, q: str) -> sa.Subquery:
    """(id, rank) of the rows of `table` that match every word of `q`; a lower rank is a better match."""
    terms = words(q)
    if _dialect() == "postgresql":
        rows = sa.table(table, sa.column("id"), sa.column(VECTOR_COLUMN, TSVECTOR))
        vector, query = rows.c[VECTOR_COLUMN], _tsquery(terms)
        select = sa.select(rows.c.id.label("id"), (-sa.func.ts_rank(vector, query)).label("rank"))
        return select.where(vector.bool_op("@@")(query) if terms else sa.false()).subquery(f"{table}_hits")
    name = fts_table(table)
    fts = sa.table(name, sa.column("rowid"))
    whole: sa.ColumnElement[Any] = sa.literal_column(name)
    select = sa.select(fts.c.rowid.label("id"), sa.func.bm25(whole, *BM25_WEIGHTS).label("rank"))
    return select.where(whole.bool_op("MATCH")(fts5_query(terms)) if terms else sa.false()).subquery(f"{table}_hits")


def narrow(query: S, *, table: str, id_column: Any, q: str | None) -> tuple[S, list[sa.ColumnElement[Any]]]:
    """`query` kept to the rows whose `id_column` is a row of `table` matching `q`, and the ORDER BY
    terms to put before the list's usual order (best match first). An empty `q` changes nothing.

    On PostgreSQL, when `id_column` is `table`'s own id, the match is a condition on that table (its GIN
    index, the stored vector for the rank); otherwise, and on SQLite, a join to `hits`."""
    if table not in SEARCH_COLUMNS:
        raise ValueError(f"{table} is not searchable")
    if not q or not q.strip():
        return query, []
    own = getattr(id_column, "table", None)
    if _dialect() == "postgresql" and isinstance(own, sa.Table) and own.name == table and id_column.key == "id":
        terms = words(q)
        vector = sa.literal_column(f"{table}.{VECTOR_COLUMN}", TSVECTOR)
        tsquery = _tsquery(terms)
        return (query.where(vector.bool_op("@@")(tsquery) if terms else sa.false()),
                [sa.func.ts_rank(vector, tsquery).desc()])
    found = hits(table, q)
    return query.join(found, found.c.id == id_column), [found.c.rank.asc()]


def json_list_contains(column: Any, value: str) -> sa.ColumnElement[bool]:
    """The JSON list in `column` holds the string `value`. PostgreSQL: `CAST(column AS jsonb) @> '[value]'`,
    which the GIN indexes of migration 0024 serve; SQLite: an exact match among `json_each`'s values."""
    if _dialect() == "postgresql":
        return sa.cast(column, JSONB).contains([value])
    items = sa.func.json_each(column).table_valued("value").alias("items")
    return sa.exists(sa.select(1).select_from(items).where(items.c.value == value))
