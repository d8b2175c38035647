"""What migration 0024 adds for full-text search, by name: the models do not map these objects, so
Alembic's comparison and autogenerate leave them alone (`include_name`, given to Flask-Migrate).

PostgreSQL: a generated `search_vector` (tsvector) column and its GIN index per searchable table, and
GIN indexes on the JSON lists the filters look into. SQLite: an FTS5 external-content table per
searchable table (`<table>_fts`, with its shadow tables `<table>_fts_data` ...) kept in step by triggers.

Rows have no language, so PostgreSQL (since migration 0030) keeps one vector per text search
configuration a visitor's language maps to (`CONFIGURATIONS`): `search_vector` is `english` and
`simple` together (English stems and stop words, and every word as written, for the languages without
a PostgreSQL parser: Arabic and Chinese), `search_vector_french`, `_spanish` and `_russian` the stems of
those languages, each with its GIN index; a query is built with the configuration of its vector. Both
databases fold the accents of Latin letters first ("São" matches "sao"): PostgreSQL with
`translate(text, ACCENTED, FOLDED)` (the `unaccent` extension would need installing and is not
immutable, so a generated column cannot use it); SQLite with the `unicode61` tokenizer and
`remove_diacritics 2`, without stemming (the embedded default).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

SEARCH_COLUMNS: dict[str, tuple[str, str, str]] = {
    "challenges": ("title", "summary", "description"),
    "proposals": ("title", "summary", "approach"),
}
"""Searchable table -> its (title, summary, body) columns, weighted A, B and C."""

VECTOR_COLUMN = "search_vector"
CONFIGURATIONS: dict[str, str] = {"en": "english", "fr": "french", "es": "spanish", "ru": "russian",
                                  "ar": "simple", "zh": "simple"}
"""A visitor's language -> the PostgreSQL text search configuration their words are stemmed with
(PostgreSQL ships no Arabic or Chinese parser: `simple`, words as written); any other language: `english`."""
VECTORS: dict[str, str] = {"english": VECTOR_COLUMN, "simple": VECTOR_COLUMN, "french": "search_vector_french",
                           "spanish": "search_vector_spanish", "russian": "search_vector_russian"}
"""Configuration -> the generated column holding the rows' words in it (`english` and `simple` share one)."""
JSON_LIST_INDEXES = {"ix_challenges_sdg_targets_gin": ("challenges", "sdg_targets"),
                     "ix_proposals_beneficiary_groups_gin": ("proposals", "beneficiary_groups")}
"""PostgreSQL GIN indexes on `CAST(column AS jsonb)` (jsonb_path_ops), for `@>` containment."""


def vector_index(table: str, column: str = VECTOR_COLUMN) -> str:
    return f"ix_{table}_{column}"


def vector_indexes() -> set[str]:
    """Every GIN index on a search vector, by name."""
    return {vector_index(table, column) for table in SEARCH_COLUMNS for column in set(VECTORS.values())}


def fts_table(table: str) -> str:
    return f"{table}_fts"


def _accent_folding() -> tuple[str, str]:
    """The Latin letters (U+00C0-U+024F) that are a base letter plus combining marks, and those base letters."""
    accented, folded = [], []
    for code in range(0xC0, 0x250):
        decomposed = unicodedata.normalize("NFD", chr(code))
        base, marks = decomposed[0], decomposed[1:]
        if marks and base.isascii() and base.isalpha() and all(unicodedata.combining(m) for m in marks):
            accented.append(chr(code))
            folded.append(base)
    return "".join(accented), "".join(folded)


ACCENTED, FOLDED = _accent_folding()
_FOLD = str.maketrans(ACCENTED, FOLDED)


def fold_accents(text: str) -> str:
    """`text` with the accents of Latin letters removed, as the PostgreSQL index's `translate` does."""
    return text.translate(_FOLD)


def include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """Alembic's filter: False for the search objects above, which no model maps."""
    if type_ == "table":
        return not any(name == fts_table(t) or (name or "").startswith(fts_table(t) + "_") for t in SEARCH_COLUMNS)
    if type_ == "column":
        return not (name in VECTORS.values() and parent_names.get("table_name") in SEARCH_COLUMNS)
    if type_ == "index":
        return name not in JSON_LIST_INDEXES and name not in vector_indexes()
    return True
