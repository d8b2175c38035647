"""Organisation identifiers as org-id.guide writes them: `<list prefix>-<identifier>`.

The list prefix is a country (or `XI`/`XM` for international lists) and a register code, e.g.
`GB-CHC-1234567` or `XI-IATI-EXAMPLE`. The open data (360Giving, IATI) names a grantee by this
identifier when its organisation gave one.

The rule here is stricter than org-id.guide in one way: IATI forbids `/ & | ?` in identifiers it
builds on (rule 1.3.13), so an identifier containing them is refused rather than published broken.
"""
from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import ngettext

ORG_IDENTIFIER_CHARS = 60
ORG_IDENTIFIER = re.compile(r"^[A-Z]{2}-[A-Z0-9]{2,12}-[A-Za-z0-9][A-Za-z0-9.\-_]*$")


def normalise_org_identifier(value: str | None) -> str:
    """The identifier without surrounding spaces, its list prefix in capitals ("" when none was given)."""
    text = (value or "").strip()
    parts = text.split("-", 2)
    if len(parts) == 3:
        text = f"{parts[0].upper()}-{parts[1].upper()}-{parts[2]}"
    return text


def org_identifier_problem(value: str) -> str | None:
    """Why `value` (normalised) is not an org-id, or None when it is one (the empty string is "none given")."""
    if not value:
        return None
    if len(value) > ORG_IDENTIFIER_CHARS:
        return str(ngettext("An organisation identifier has at most %(n)d character.",
                            "An organisation identifier has at most %(n)d characters.",
                            ORG_IDENTIFIER_CHARS, n=ORG_IDENTIFIER_CHARS))
    if not ORG_IDENTIFIER.match(value):
        return str(_("Write the identifier as org-id.guide gives it: list prefix and number, e.g. GB-CHC-1234567 "
                 "(letters, digits, dots and hyphens only)."))
    return None
