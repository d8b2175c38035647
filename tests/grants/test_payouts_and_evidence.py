"""Payout accounts (encrypted, masked, re-confirmed) and milestone evidence."""
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from facility.audit.models import AuditEvent
from facility.core import crypto
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.extensions import db
from facility.grants import awards, milestones, payouts
from facility.grants.models import MilestoneReport, PayoutAccount, ReportStatus, TrancheStatus
from tests.conftest import PASSWORD
from tests.factories.grants import NO_SPENDING

ACCOUNT = "GB82WEST12345698765432"  # a valid example IBAN


def _manual(grant, grantee, **extra):
    data = dict(rail="manual", account_holder="WaterWatch Collective", bank_name="Dutch-Bangla Bank",
                iban=ACCOUNT, swift="DBBLBDDH")
    data.update(extra)
    return payouts.set_payout_account(grant=grant, actor=grantee, **data)


def test_bank_details_encrypted_at_rest_and_masked(app, grant_setup):
    grant, _, grantee = grant_setup
    account = _manual(grant, grantee)
    db.session.commit()
    raw = db.session.execute(sa.text("SELECT * FROM payout_accounts")).mappings().one()
    assert ACCOUNT not in " ".join(str(v) for v in raw.values())
    assert "5432" not in (raw["encrypted_details"] or "")
    assert account.masked_account == "•••• 5432" and account.swift_masked == "DBBL••••"
    assert payload_of(account) == {"iban": ACCOUNT, "swift": "DBBLBDDH"}
    audit = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "payout_account.set")).scalar_one()
    assert ACCOUNT not in str(audit.details)


def payload_of(account):
    return crypto.decrypt_json(account.encrypted_details)


def test_payout_details_for_is_the_decrypting_path(app, grant_setup):
    grant, _, grantee = grant_setup
    with pytest.raises(Conflict):
        payouts.payout_details_for(grant)
    account = _manual(grant, grantee, iban=None, account_number="0123-4567-89", swift=None)
    db.session.commit()
    assert payouts.payout_details_for(grant) == {
        "rail": "manual", "payout_account_id": account.id, "account_holder": "WaterWatch Collective",
        "bank_name": "Dutch-Bangla Bank", "account_number": "0123456789", "swift": None}


def test_changing_needs_password_and_supersedes(app, grant_setup, stripe_on):
    grant, _, grantee = grant_setup
    first = _manual(grant, grantee)
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe", stripe_account_id="acct_1AbCdEfGh")
    assert "confirm_password" in caught.value.errors
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe", stripe_account_id="acct_1AbCdEfGh",
                                    confirm_password="wrong-password-123")
    db.session.rollback()
    second = payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe",
                                         stripe_account_id="acct_1AbCdEfGh", confirm_password=PASSWORD)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(PayoutAccount, first.id).superseded_at is not None
    assert grant.payout_account.id == second.id
    assert payouts.payout_details_for(grant)["stripe_account_id"] == "acct_1AbCdEfGh"
    actions = db.session.execute(sa.select(AuditEvent.action)).scalars().all()
    assert "payout_account.changed" in actions


def test_payout_validation_and_permissions(app, grant_setup, make_user, make_org, stripe_on):
    grant, manager, grantee = grant_setup
    with pytest.raises(ValidationFailed) as caught:
        _manual(grant, grantee, account_holder="", iban="GB00WEST12345698765432", swift="XX")
    assert {"account_holder", "iban", "swift"} <= set(caught.value.errors)
    db.session.rollback()
    with pytest.raises(ValidationFailed) as caught:
        payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe", stripe_account_id="nope")
    assert "stripe_account_id" in caught.value.errors
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        _manual(grant, manager)
    with pytest.raises(PermissionDenied):
        _manual(grant, make_user("innovator", organization=make_org(name="Elsewhere")))
    assert db.session.execute(sa.select(sa.func.count(PayoutAccount.id))).scalar_one() == 0


def test_configured_key_is_used(app, grant_setup, monkeypatch):
    grant, _, grantee = grant_setup
    key = Fernet.generate_key()
    monkeypatch.setitem(app.config, "PAYOUT_ENCRYPTION_KEY", key.decode())
    account = _manual(grant, grantee)
    assert "iban" in Fernet(key).decrypt(account.encrypted_details.encode()).decode()


def test_production_needs_payout_key(tmp_path, monkeypatch):
    from facility import create_app

    monkeypatch.setenv("SECRET_KEY", "prod-secret")
    monkeypatch.delenv("PAYOUT_ENCRYPTION_KEY", raising=False)
    with pytest.raises(RuntimeError, match="PAYOUT_ENCRYPTION_KEY"):
        create_app("production", SQLALCHEMY_DATABASE_URI="postgresql+psycopg://u@h/d", INSTANCE_PATH=str(tmp_path))
    with pytest.raises(RuntimeError, match="Fernet"):
        create_app("production", SQLALCHEMY_DATABASE_URI="postgresql+psycopg://u@h/d", INSTANCE_PATH=str(tmp_path),
                   PAYOUT_ENCRYPTION_KEY="not-a-key")


# --- evidence ----------------------------------------------------------------------

def test_evidence_flow(app, grant_setup):
    grant, manager, grantee = grant_setup
    tranche = grant.tranches[0]
    with pytest.raises(Conflict, match="Accept"):
        milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="Done", spending=NO_SPENDING)
    awards.accept_grant(grant=grant, actor=grantee)
    report = milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="Pilot running in 3 wards",
                                                spending=NO_SPENDING,
                                              kpi_values={"households": 120}, files=[("report.pdf", b"%PDF-1.4 x")])
    db.session.commit()
    assert tranche.status == TrancheStatus.EVIDENCE_SUBMITTED
    assert report.files[0].content_type == "application/pdf" and len(report.files[0].sha256) == 64
    with pytest.raises(Conflict):
        milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="Again", spending=NO_SPENDING)
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        milestones.return_milestone_report(report=report, actor=manager, comment=" ")
    db.session.rollback()
    milestones.return_milestone_report(report=report, actor=manager, comment="Add the ward-level data.")
    db.session.commit()
    assert tranche.status == TrancheStatus.PENDING and report.status == ReportStatus.RETURNED
    second = milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="With ward data", spending=NO_SPENDING)
    db.session.commit()
    with pytest.raises(PermissionDenied):
        milestones.accept_milestone_report(report=second, actor=grantee)
    milestones.accept_milestone_report(report=second, actor=manager)
    db.session.commit()
    assert tranche.status == TrancheStatus.ACCEPTED and second.status == ReportStatus.ACCEPTED
    with pytest.raises(Conflict):
        milestones.accept_milestone_report(report=second, actor=manager)
    actions = db.session.execute(sa.select(AuditEvent.action)).scalars().all()
    assert {"milestone.reported", "milestone.returned", "milestone.accepted"} <= set(actions)


def test_evidence_validation(app, grant_setup):
    grant, _, grantee = grant_setup
    awards.accept_grant(grant=grant, actor=grantee)
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        milestones.submit_milestone_report(tranche=grant.tranches[0], actor=grantee, text="",
                                         kpi_values={"x": "many"}, files=[("evil.exe", b"MZ\x90\x00\x03")],
                                         spending={"personnel_cents": -1})
    assert {"text", "kpi_values", "files", "spending.personnel_cents", "spending.travel_cents"} <= set(
        caught.value.errors)
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count(MilestoneReport.id))).scalar_one() == 0


