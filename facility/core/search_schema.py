"""What migration 0024 adds for full-text search, by name: the models do not map these objects, so
Alembic's comparison and autogenerate leave them alone (`include_name`, given to Flask-Migrate).

PostgreSQL: a generated `search_vector` (tsvector) column and its GIN index per searchable table, and
GIN indexes on the JSON lists the filters look into. SQLite: an FTS5 external-content table per
searchable table (`<table>_fts`, with its shadow tables `<table>_fts_data` ...) kept in step by triggers.

No row has a language, so both databases index with one language-neutral rule: words split on
punctuation and spaces, lower-cased, the accents of Latin letters folded ("São" matches "sao"), no
stemming. PostgreSQL does it with the `simple` configuration over `translate(text, ACCENTED, FOLDED)`
(the `unaccent` extension would need installing and is not immutable, so a generated column cannot use
it); SQLite with the `unicode61` tokenizer and `remove_diacritics 2`.
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
JSON_LIST_INDEXES = {"ix_challenges_sdg_targets_gin": ("challenges", "sdg_targets"),
                     "ix_proposals_beneficiary_groups_gin": ("proposals", "beneficiary_groups")}
"""PostgreSQL GIN indexes on `CAST(column AS jsonb)` (jsonb_path_ops), for `@>` containment."""


def vector_index(table: str) -> str:
    return f"ix_{table}_search_vector"


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
        return not (name == VECTOR_COLUMN and parent_names.get("table_name") in SEARCH_COLUMNS)
    if type_ == "index":
        return name not in JSON_LIST_INDEXES and name not in {vector_index(t) for t in SEARCH_COLUMNS}
    return True
