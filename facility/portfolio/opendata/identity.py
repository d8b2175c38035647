"""Who publishes the open data and how its identifiers are built (config keys `OPENDATA_*`).

- the facility's organisation identifier (`OPENDATA_ORG_ID`, an org-id.guide identifier): the
  360Giving funding organisation and the IATI reporting organisation's `ref`;
- the 360Giving prefix (`OPENDATA_PREFIX`): grant ids are `360G-<prefix>-<grant id>`, and a grantee
  without an org-id is `360G-<prefix>-ORG-<organisation id>`;
- IATI activity identifiers are `<org id>-<grant id>` (prefixed by the reporting organisation's ref).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
LICENCE_NAME = "Creative Commons Attribution 4.0 International (CC BY 4.0)"
# IATI OrganisationType 40: multilateral; the facility is a trust fund of several donors.
FACILITY_ORG_TYPE = "40"


@dataclass(frozen=True)
class Publisher:
    org_id: str
    prefix: str
    name: str
    website: str

    def grant_id(self, grant_id: int) -> str:
        """The 360Giving grant id (no slashes: the prefix is checked when read from the config)."""
        return f"360G-{self.prefix}-{grant_id}"

    def activity_id(self, grant_id: int) -> str:
        """The IATI identifier: the reporting organisation's ref, then the grant's number."""
        return f"{self.org_id}-{grant_id}"

    def organisation_id(self, organisation_id: int, org_identifier: str | None) -> str:
        """The grantee's org-id when it gave one, else an id under the facility's 360Giving prefix."""
        return org_identifier or f"360G-{self.prefix}-ORG-{organisation_id}"

    def programme_code(self, challenge_id: int) -> str:
        return f"360G-{self.prefix}-CH-{challenge_id}"


def _clean(value: Any, default: str) -> str:
    # Identifiers go into URLs and IATI identifiers: / & | ? and spaces would break both (IATI 1.3.13).
    text = str(value or default).strip()
    return "".join(ch for ch in text if ch not in "/&|? ") or default


def publisher(config: Any) -> Publisher:
    """The publisher as configured (`config.py` documents the keys)."""
    return Publisher(org_id=_clean(config.get("OPENDATA_ORG_ID"), "XI-IATI-UIF"),
                     prefix=_clean(config.get("OPENDATA_PREFIX"), "UIF"),
                     name=str(config.get("OPENDATA_ORG_NAME") or "Urban Innovation Facility"),
                     website=str(config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/"))
