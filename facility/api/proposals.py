"""API: proposals, their submission and attachments."""
from __future__ import annotations

from facility.api import api_blueprint

blp = api_blueprint("api_proposals", __name__, "Proposals")
