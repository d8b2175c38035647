"""seed-demo shows the reminders: event e-mails in the outbox, a reminder sent once (recorded), an opt-out."""
import sqlalchemy as sa

from facility.accounts.models import User
from facility.core.mail import OutboundEmail
from facility.core.reminders import SentReminder
from facility.demo import seed
from facility.disbursements.jobs import approval_reminders
from facility.extensions import db


def _subjects() -> list[str]:
    return list(db.session.execute(sa.select(OutboundEmail.subject)).scalars())


def test_the_demo_outbox_holds_event_e_mails_and_a_reminder_sent_once(app):
    said: list[str] = []
    seed(echo=said.append)
    assert said[-1] == "Reminders sent: 2"  # both fund managers who may approve: the second and the finance officer
    subjects = _subjects()
    for start in ("Proposals to review", "Milestone report to review", "Payment "):
        assert any(s.startswith(start) for s in subjects), start
    reminders = list(db.session.execute(sa.select(SentReminder)).scalars())
    assert {reminder.kind for reminder in reminders} == {"disbursements.approval_waiting"}
    second = db.session.execute(sa.select(User).where(User.email == "fund.manager2@demo.facility")).scalar_one()
    finance = db.session.execute(sa.select(User).where(User.email == "finance@demo.facility")).scalar_one()
    assert second.optional_reminders is False  # essential: sent all the same
    assert sorted(reminder.user_id for reminder in reminders) == sorted([second.id, finance.id])
    db.session.commit()
    assert approval_reminders() == 0  # the worker's next run sends nothing new
