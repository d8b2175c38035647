"""Countries as people read them: the stored value is the ISO 3166-1 alpha-3 code, pages and forms show
the country's name in the reader's language (Babel's territory names)."""
from __future__ import annotations

import pycountry
from flask_babel import get_locale


def country_name(alpha3: str | None) -> str:
    """A country's name in the viewer's language (Babel's territory names) for its ISO alpha-3 code:
    pages show names, never codes. An unknown code is shown as given."""
    found = pycountry.countries.get(alpha_3=(alpha3 or "").upper()) if alpha3 else None
    if found is None:
        return alpha3 or "—"
    locale = get_locale()
    return str((locale.territories.get(found.alpha_2) if locale else None) or found.name)
