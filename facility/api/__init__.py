"""The JSON API (v1): flask-smorest blueprints, bearer tokens, RFC 9457 problem JSON.

Each endpoint declares its input and output with marshmallow schemas; the
same declarations validate requests, serialise responses and produce the
OpenAPI document at /api/v1/openapi.json.
"""
from __future__ import annotations

from flask_smorest import Api, Blueprint

API_PREFIX = "/api/v1"


class FacilityApi(Api):
    def _register_error_handlers(self):
        # Errors are answered by facility.api.problems for API paths and by the
        # HTML error pages elsewhere; see facility.errors.register.
        pass


api = FacilityApi()


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    """A blueprint under /api/v1 whose requests are authenticated by bearer token only."""
    from facility.api.auth import load_bearer_user

    blp = Blueprint(name, import_name, url_prefix=API_PREFIX, description=description)
    blp.before_request(load_bearer_user)
    return blp
