"""API: cities."""
from __future__ import annotations

from facility.api import api_blueprint

blp = api_blueprint("api_cities", __name__, "Cities")
