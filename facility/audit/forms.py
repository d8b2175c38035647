"""The audit page's search form: a plain GET form (no CSRF: it changes nothing).

`AuditSearchForm.criteria(args)` reads the query string; a bad value is reported on its field and
left out of the search, so the page always answers (never a 500) and says what was wrong.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import DateField, StringField, SubmitField
from wtforms.validators import Length, Optional

from facility.audit.queries import Criteria
from facility.core.inputs import MAX_ID, bounded_int, unstorable

ACTOR_CHARS = 320  # an e-mail address at most (audit_events.actor_label)
ACTION_CHARS = 80  # audit_events.action
OBJECT_TYPE_CHARS = 60  # audit_events.object_type
OBJECT_ID_CHARS = 60  # audit_events.object_id


class AuditSearchForm(FlaskForm):
    """Search the trail by actor, object, action and a range of UTC dates."""

    class Meta:
        csrf = False

    actor = StringField(_l("Actor (user id or e-mail address)"), validators=[Optional(), Length(max=ACTOR_CHARS)])
    action = StringField(_l("Action code (e.g. disbursement.approved for a payment approved)"),
                         validators=[Optional(), Length(max=ACTION_CHARS)])
    object_type = StringField(_l("Object type (e.g. Disbursement)"),
                              validators=[Optional(), Length(max=OBJECT_TYPE_CHARS)])
    object_id = StringField(_l("Object id"), validators=[Optional(), Length(max=OBJECT_ID_CHARS)])
    date_from = DateField(_l("From (UTC date)"), validators=[Optional()])
    date_to = DateField(_l("To (UTC date, included)"), validators=[Optional()])
    submit = SubmitField(_l("Search"))


def _text(form: AuditSearchForm, name: str) -> str | None:
    field = form[name]
    text = " ".join(str(field.data or "").split())
    if not text or field.errors:
        return None
    if unstorable(text):
        field.errors = [*field.errors, _l("This contains characters that cannot be searched for.")]
        return None
    return text


def _actor(form: AuditSearchForm) -> tuple[int | None, str | None]:
    """A user id (digits) or an e-mail address (with an @); anything else is an error on the field."""
    text = _text(form, "actor")
    if text is None:
        return None, None
    if text.isdecimal():
        user_id = bounded_int(text, minimum=1, maximum=MAX_ID)
        if user_id is None:
            form.actor.errors = [_l("No user has this id.")]
        return user_id, None
    if "@" in text:
        return None, text.lower()
    form.actor.errors = [_l("Give a user id (a number) or an e-mail address.")]
    return None, None


def _date(form: AuditSearchForm, name: str) -> date | None:
    field = form[name]
    return field.data if field.data and not field.errors else None


def criteria(args: Mapping[str, Any]) -> tuple[Criteria, AuditSearchForm]:
    """The valid criteria in `args` and the form to show, with an error on each bad value."""
    form = AuditSearchForm(args if hasattr(args, "getlist") else MultiDict(args))
    form.validate()
    actor_id, actor_email = _actor(form)
    date_from, date_to = _date(form, "date_from"), _date(form, "date_to")
    if date_from and date_to and date_to < date_from:
        form.date_to.errors = [_l("The end date is before the start date.")]
        date_to = None
    found = Criteria(actor_id=actor_id, actor_email=actor_email, action=_text(form, "action"),
                     object_type=_text(form, "object_type"), object_id=_text(form, "object_id"),
                     date_from=date_from, date_to=date_to)
    return found, form
