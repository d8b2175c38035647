"""Flask extensions, created unbound and initialised by `create_app`."""
from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_caching import Cache
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from facility.core.models import Base
from facility.core.search_schema import include_name

db = SQLAlchemy(model_class=Base)
# `include_name`: the full-text search objects of migration 0024 are not mapped; comparisons leave them alone.
migrate = Migrate(render_as_batch=True, compare_type=True, include_name=include_name)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
compress = Compress()
public_cache = Cache()  # anonymous public pages and API answers (facility.core.public_cache)


def client_address() -> str:
    """The client's address: `request.remote_addr`, which `TRUSTED_PROXIES` (ProxyFix) sets from the proxies'
    `X-Forwarded-For`; never a header a client could send past an untrusted hop."""
    return get_remote_address() or request.remote_addr or "unknown"


limiter = Limiter(key_func=client_address)
