"""Jobs every package uses: e-mail delivery."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from rq import Retry

from facility.core.models import utcnow
from facility.core.outbox import OutboundEmail
from facility.extensions import db
from facility.queue import job

log = logging.getLogger("facility.mail")


@job("emails", retry=Retry(max=5, interval=[10, 60, 300, 900, 3600]))
def deliver_email(email_id: int) -> None:
    """Send one stored e-mail, once; printed to the log when no MAIL_SERVER is set."""
    message = db.session.get(OutboundEmail, email_id)
    if message is None or message.sent_at is not None:
        return
    config = current_app.config
    message.attempts += 1
    if not config.get("MAIL_SERVER"):
        log.info("E-mail to %s\nSubject: %s\n\n%s", message.to_address, message.subject, message.body)
    else:
        email = EmailMessage()
        email["From"] = config["MAIL_DEFAULT_SENDER"]
        email["To"] = message.to_address
        email["Subject"] = message.subject
        email.set_content(message.body)
        try:
            with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
                if config.get("MAIL_USE_TLS"):
                    smtp.starttls()
                if config.get("MAIL_USERNAME"):
                    smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
                smtp.send_message(email)
        except (OSError, smtplib.SMTPException) as exc:
            message.last_error = str(exc)[:2000]
            db.session.commit()
            raise
    message.sent_at = utcnow()
    db.session.commit()
