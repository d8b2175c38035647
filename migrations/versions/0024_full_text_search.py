"""search: full-text search over challenges and proposals, and indexed JSON-list filters

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 09:00:00.000000

PostgreSQL: a generated stored `search_vector` tsvector on `challenges` and `proposals` (title weight A,
summary B, body C: the description or the approach), `simple` configuration over the text with the
accents of Latin letters folded by `translate` (rows have no language, so no stemming; the `unaccent`
extension would need installing and is not immutable), each with a GIN index; GIN (jsonb_path_ops)
indexes on `CAST(sdg_targets AS jsonb)` and `CAST(beneficiary_groups AS jsonb)` for `@>` containment.

SQLite: FTS5 external-content tables `challenges_fts` and `proposals_fts` (unicode61 tokenizer,
diacritics removed) filled from the existing rows and kept in step by AFTER INSERT/UPDATE/DELETE
triggers. A later batch migration that rebuilds `challenges` or `proposals` on SQLite drops these
triggers with the old table and must create them again (`_sqlite_triggers`); on PostgreSQL, changing
the type of a column the vector reads means dropping `search_vector` and adding it again.

None of these objects is mapped by a model: `facility.core.search_schema.include_name` keeps Alembic's
comparison away from them. The names and the accent table are copied here, not imported, so that this
migration stays as it was when the application changes.
"""
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

SEARCH_COLUMNS = {
    "challenges": ("title", "summary", "description"),
    "proposals": ("title", "summary", "approach"),
}
JSON_LIST_INDEXES = {"ix_challenges_sdg_targets_gin": ("challenges", "sdg_targets"),
                     "ix_proposals_beneficiary_groups_gin": ("proposals", "beneficiary_groups")}
ACCENTED = (
    'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆ'
    'ćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐő'
    'ŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛ'
    'ǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯ'
    'ȰȱȲȳ'
)
FOLDED = (
    'AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaC'
    'cCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOo'
    'RrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuU'
    'uAaAaGgKkOoOojGgNnAaAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOo'
    'OoYy'
)


def _vector(columns):
    def part(column, weight):
        folded = f"translate(coalesce({column}, ''), '{ACCENTED}', '{FOLDED}')"
        return f"setweight(to_tsvector('simple'::regconfig, {folded}), '{weight}')"
    return " || ".join(part(column, weight) for column, weight in zip(columns, "ABC", strict=True))


def _sqlite_triggers(table, columns):
    fts = f"{table}_fts"
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    # Names from the constants above, never input.
    remove = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"  # noqa: S608
    add = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"  # noqa: S608
    op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {add} END")
    op.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {remove} END")
    op.execute(f"CREATE TRIGGER {fts}_update AFTER UPDATE OF id, {names} ON {table} BEGIN {remove} {add} END")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in SEARCH_COLUMNS.items():
            op.execute(f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
                       f"GENERATED ALWAYS AS ({_vector(columns)}) STORED")
            op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")
        for name, (table, column) in JSON_LIST_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {table} USING gin ((CAST({column} AS jsonb)) jsonb_path_ops)")
        return
    for table, columns in SEARCH_COLUMNS.items():
        fts = f"{table}_fts"
        op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({', '.join(columns)}, content='{table}', "
                   "content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")  # noqa: S608 - a constant name
        _sqlite_triggers(table, columns)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in JSON_LIST_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        for table in SEARCH_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_vector")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")
        return
    for table in SEARCH_COLUMNS:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{event}")
        op.execute(f"DROP TABLE IF EXISTS {table}_fts")
