"""API: challenges."""
from __future__ import annotations

from facility.api import api_blueprint

blp = api_blueprint("api_challenges", __name__, "Challenges")
