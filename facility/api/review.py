"""API: evaluation panels, conflicts, assignment, reviews and the ranking."""
from __future__ import annotations

from facility.api import api_blueprint

blp = api_blueprint("api_review", __name__, "Evaluation panels and reviews")
