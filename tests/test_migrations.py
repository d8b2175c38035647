"""The migrations are the schema: one head, and they match the models exactly."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate

from facility.extensions import db


def test_single_head(app):
    config = app.extensions["migrate"].migrate.get_config()
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"


def test_models_and_migrations_agree(app):
    assert isinstance(app.extensions["migrate"].migrate, Migrate)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={**app.extensions["migrate"].configure_args})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from the migrated schema: {diff}"


def test_downgrade_and_upgrade_again(app, backend):
    from flask_migrate import downgrade, upgrade

    downgrade(revision="base")
    upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={**app.extensions["migrate"].configure_args})
        assert compare_metadata(context, db.metadata) == []
