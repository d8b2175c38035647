"""search languages: PostgreSQL's search vectors stemmed per language, with stop words

Revision ID: 0030
Revises: 0027
Create Date: 2026-12-04 02:40:00.000000

PostgreSQL only (SQLite's FTS5 tables of 0024 stay as they are): `search_vector` on `challenges` and
`proposals` is made again as the `english` configuration together with `simple` (English stems and
stop words; every word as written, for Arabic and Chinese, which PostgreSQL has no parser for), and
`search_vector_french`, `search_vector_spanish` and `search_vector_russian` are added, each a generated
stored tsvector (title weight A, summary B, body C, over the text with the accents of Latin letters
folded as in 0024) with its GIN index. A visitor's words are stemmed with their language's
configuration and matched against its vector. The accent table is copied from 0024, not imported.
"""
from alembic import op

revision = '0030'
down_revision = '0027'
branch_labels = None
depends_on = None

SEARCH_COLUMNS = {
    "challenges": ("title", "summary", "description"),
    "proposals": ("title", "summary", "approach"),
}
VECTORS = {
    "search_vector": ("english", "simple"),
    "search_vector_french": ("french",),
    "search_vector_spanish": ("spanish",),
    "search_vector_russian": ("russian",),
}
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


def _vector(columns, configurations):
    def part(column, weight):
        folded = f"translate(coalesce({column}, ''), '{ACCENTED}', '{FOLDED}')"
        vectors = " || ".join(f"to_tsvector('{config}'::regconfig, {folded})" for config in configurations)
        return f"setweight({vectors}, '{weight}')"
    return " || ".join(part(column, weight) for column, weight in zip(columns, "ABC", strict=True))


def _simple(columns):
    return _vector(columns, ("simple",))


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in SEARCH_COLUMNS.items():
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_vector")
        op.execute(f"ALTER TABLE {table} DROP COLUMN search_vector")
        for column, configurations in VECTORS.items():
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} tsvector "
                       f"GENERATED ALWAYS AS ({_vector(columns, configurations)}) STORED")
            op.execute(f"CREATE INDEX ix_{table}_{column} ON {table} USING gin ({column})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in SEARCH_COLUMNS.items():
        for column in VECTORS:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}")
        op.execute(f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
                   f"GENERATED ALWAYS AS ({_simple(columns)}) STORED")
        op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")
