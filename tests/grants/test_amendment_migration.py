"""Migration 0020 gives every grant that existed before it version 1 of its agreement, as awarded."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from facility.extensions import db
from facility.grants.amendment_models import GrantAgreementVersion


def test_existing_grants_get_agreement_version_one(app, grant_setup):
    grant, _manager, _grantee = grant_setup
    grant_id, text, tranches = grant.id, grant.agreement_text, [(t.id, t.amount_cents) for t in grant.tranches]
    db.session.commit()
    config = app.extensions["migrate"].migrate.get_config()
    before = ScriptDirectory.from_config(config).get_revision("0020").down_revision
    db.session.remove()
    downgrade(revision=before)  # the versions table goes; the grant stays
    upgrade()
    version = db.session.execute(sa.select(GrantAgreementVersion).where(
        GrantAgreementVersion.grant_id == grant_id)).scalar_one()
    assert (version.version, version.agreement_text, version.amendment_id) == (1, text, None)
    assert version.total_cents == 3_000_000
    assert [(row["tranche_id"], row["amount_cents"]) for row in version.schedule] == tranches
    assert all(row["status"] == "pending" for row in version.schedule)
