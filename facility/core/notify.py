"""Notifications in one place: `notify(recipients, "grants/awarded", **context)`.

Each e-mail is a template `templates/emails/<name>.txt` with two blocks:

    {% block subject %}{{ _("Your proposal “%(title)s” has been awarded", title=proposal.title) }}{% endblock %}
    {% block body %}...{% endblock %}

It is rendered once per recipient in that person's language (`force_locale`), with
`external_url(endpoint, **values)` for links: absolute, built from `BASE_URL`, also in
jobs and commands where there is no request. The messages go to the outbox and are
delivered by a job after the commit (`core.mail.send_mail`).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale

from facility.core.mail import OutboundEmail, send_mail


class Recipient(Protocol):
    email: str


@dataclass(frozen=True)
class Address:
    """Someone without an account yet (an invited reviewer): an address and a language."""

    email: str
    locale: str | None = None


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link to `endpoint` under the configured `BASE_URL`, with or without a request."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    return adapter.build(endpoint, values, force_external=True)


def _language(recipient: Any) -> str:
    languages = current_app.config["LANGUAGES"]
    locale = getattr(recipient, "locale", None)
    return str(locale if locale in languages else current_app.config.get("BABEL_DEFAULT_LOCALE", "en"))


def render_email(name: str, recipient: Any, **context: Any) -> tuple[str, str]:
    """`(subject, body)` of `templates/emails/<name>.txt` in the recipient's language."""
    template = current_app.jinja_env.get_template(f"emails/{name}.txt")
    with force_locale(_language(recipient)):
        variables = {"recipient": recipient, "external_url": external_url, **context}
        rendered = template.new_context(variables)
        subject = " ".join("".join(template.blocks["subject"](rendered)).split())
        body = "".join(template.blocks["body"](rendered)).strip() + "\n"
    return subject, body


def notify(recipients: Iterable[Recipient], name: str, **context: Any) -> list[OutboundEmail]:
    """Queue the e-mail `name` to each recipient (once per address), each in their own language."""
    sent: list[OutboundEmail] = []
    seen: set[str] = set()
    for recipient in recipients:
        address = recipient.email.strip().lower()
        if not address or address in seen:
            continue
        seen.add(address)
        subject, body = render_email(name, recipient, **context)
        sent.append(send_mail(to=recipient.email, subject=subject, body=body))
    return sent
