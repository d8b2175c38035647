"""Full-text search and JSON-list filters, the one place that knows the database's dialect.

`narrow(query, table=..., id_column=..., q=...)` keeps the rows of a searchable table (see
`search_schema.SEARCH_COLUMNS`) that match every word of `q` and gives the rank to order by first:
PostgreSQL matches the vector of the visitor's language (`search_schema.CONFIGURATIONS`, `VECTORS`)
`@@ plainto_tsquery(configuration, q)` (GIN index; stems, and stop words left out) ranked by `ts_rank`;
SQLite matches the FTS5 table with every word quoted as a string (so FTS syntax in `q` is only text)
ranked by `bm25`. Both weigh a hit in the title above one in the summary, above one in the body.

A search keeps at most `MATCH_LIMIT` + 1 rows of the list (those the list's own filters keep): the
first ones the index gives, then ranked. A frequent word matches most of a large table, and ranking and
counting every match is what made a page slow; a list of more than `MATCH_LIMIT` rows says "more than
1,000 results" (`is_cut`, the `pager` macro) instead of a count.
"""
from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from flask import has_request_context
from flask_babel import get_locale
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

from facility.core.search_schema import CONFIGURATIONS, SEARCH_COLUMNS, VECTORS, fold_accents, fts_table
from facility.extensions import db

S = TypeVar("S", bound=sa.Select[Any])

BM25_WEIGHTS = (10.0, 4.0, 2.0)
"""SQLite: title, summary, body; in the ratio of PostgreSQL's default ts_rank weights A, B and C (1, 0.4, 0.2)."""
MATCH_LIMIT = 1000
"""A search keeps this many rows and one more (the candidates that are ranked, the largest total a search
list counts), so that a list of more than MATCH_LIMIT rows shows it was cut."""

API_NOTE = (f"; words are stemmed in the caller's language (their account's, else Accept-Language); at most "
            f"{MATCH_LIMIT + 1:,} matches are kept, so a `total` above {MATCH_LIMIT:,} means more than {MATCH_LIMIT:,}")
"""What the OpenAPI document says of every `q` parameter, after its own description."""


def is_cut(total: int) -> bool:
    """A searched list of `total` rows has more matches than it keeps (`MATCH_LIMIT`)."""
    return total > MATCH_LIMIT


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


def configuration(language: str | None = None) -> str:
    """The PostgreSQL text search configuration for `language` (by default the visitor's: the request's
    locale, English outside a request): `search_schema.CONFIGURATIONS`, `english` for any other."""
    if language is None:
        language = str(get_locale() or "en") if has_request_context() else "en"
    return CONFIGURATIONS.get(language.split("_")[0].lower(), "english")


def _tsquery(terms: list[str], config: str) -> Any:
    if config not in VECTORS:  # the configuration is written into the SQL: only the known ones
        raise ValueError(f"{config} is not a search configuration")
    return sa.func.plainto_tsquery(sa.literal_column(f"'{config}'::regconfig"), " ".join(terms))


def _fts_hits(table: str, terms: list[str]) -> sa.Subquery:
    """SQLite: (id, rank) of the rows of `table` whose FTS5 entry holds every term; a lower rank is better."""
    name = fts_table(table)
    fts = sa.table(name, sa.column("rowid"))
    whole: sa.ColumnElement[Any] = sa.literal_column(name)
    select = sa.select(fts.c.rowid.label("id"), sa.func.bm25(whole, *BM25_WEIGHTS).label("rank"))
    return select.where(whole.bool_op("MATCH")(fts5_query(terms))).subquery(f"{table}_hits")


def narrow(query: S, *, table: str, id_column: Any, q: str | None,
           language: str | None = None) -> tuple[S, list[sa.ColumnElement[Any]]]:
    """`query` kept to the rows whose `id_column` is a row of `table` matching `q`, at most `MATCH_LIMIT`
    + 1 of them, and the ORDER BY terms to put before the list's usual order (best match first). An empty
    `q` changes nothing; a `q` without a word to look for (or, on PostgreSQL, only stop words) keeps nothing.
    `language`: the words' language (`configuration`), by default the visitor's.

    The matches are those `query` keeps joined to `table` where the vector matches (on PostgreSQL, when
    `id_column` is `table`'s own id, the condition is on that table: its GIN index); the first
    `MATCH_LIMIT` + 1 of them (in the index's order: the list's filters applied, nothing ranked yet) are
    the candidates, and only those are ranked, by `ts_rank` or `bm25`."""
    if table not in SEARCH_COLUMNS:
        raise ValueError(f"{table} is not searchable")
    if not q or not q.strip():
        return query, []
    terms = words(q)
    if not terms:
        return query.where(sa.false()), []
    if _dialect() == "postgresql":
        config = configuration(language)
        column, tsquery = VECTORS[config], _tsquery(terms, config)
        own = getattr(id_column, "table", None)
        if isinstance(own, sa.Table) and own.name == table and id_column.key == "id":
            joined, vector = query, sa.literal_column(f"{table}.{column}", TSVECTOR)
        else:
            rows = sa.table(table, sa.column("id"), sa.column(column, TSVECTOR)).alias(f"{table}_hits")
            joined, vector = query.join(rows, rows.c.id == id_column), rows.c[column]
        matched, rank = joined.where(vector.bool_op("@@")(tsquery)), sa.func.ts_rank(vector, tsquery).desc()
    else:
        found = _fts_hits(table, terms)
        joined = matched = query.join(found, found.c.id == id_column)
        rank = found.c.rank.asc()
    candidates = matched.with_only_columns(id_column, maintain_column_froms=True).order_by(None).limit(MATCH_LIMIT + 1)
    return joined.where(id_column.in_(candidates)), [rank]


def json_list_contains(column: Any, value: str) -> sa.ColumnElement[bool]:
    """The JSON list in `column` holds the string `value`. PostgreSQL: `CAST(column AS jsonb) @> '[value]'`,
    which the GIN indexes of migration 0024 serve; SQLite: an exact match among `json_each`'s values."""
    if _dialect() == "postgresql":
        return sa.cast(column, JSONB).contains([value])
    items = sa.func.json_each(column).table_valued("value").alias("items")
    return sa.exists(sa.select(1).select_from(items).where(items.c.value == value))
