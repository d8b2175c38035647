"""The Urban Innovation Facility: `create_app()` builds the Flask application."""
from __future__ import annotations

import base64
import binascii
import importlib
import logging
import os
from typing import Any

from flask import Flask, g, request, session
from flask_babel import get_locale
from werkzeug.datastructures import LanguageAccept
from werkzeug.middleware.proxy_fix import ProxyFix

import config as config_module

# Domain packages in dependency order. Each may have models.py, views.py (bp),
# a dashboard panel and an API module under facility/api/.
DOMAIN_PACKAGES = ["core", "accounts", "audit", "ledger", "cities", "challenges", "proposals", "review", "grants",
                   "disbursements", "portfolio", "solutions"]  # portfolio's demo adds to every package's data;
# solutions (beside portfolio) reads grants and challenges, and its demo makes a solution of the portfolio's grant
API_MODULES = ["accounts", "users", "cities", "challenges", "proposals", "review", "affiliations", "appeals",
               "grants", "contributions", "amendments", "disbursements", "results", "stages", "indicators",
               "solutions"]


def create_app(config: Any = None, **overrides: Any) -> Flask:
    """Build the app. `config` is a name ('development', 'test', 'production'),
    a config class, or None for FACILITY_ENV; keyword overrides win over both."""
    if config is None or isinstance(config, str):
        config_class = config_module.config_for(config)
    else:
        config_class = config
    instance_path = overrides.pop("INSTANCE_PATH", None) or str(config_module.INSTANCE_DIR)
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder=str(config_module.BASE_DIR / "templates"),
        static_folder=str(config_module.BASE_DIR / "static"),
    )
    app.config.from_object(config_class)
    app.config.update(config_module.runtime_environment())
    app.config.update(overrides)
    _check_production(app)
    _trust_proxies(app)
    os.makedirs(app.instance_path, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("facility").setLevel(logging.INFO)

    _import_models()
    _init_extensions(app)
    _register_blueprints(app)
    _register_templating(app)
    _wire_hooks(app)
    from facility import errors, security

    errors.register(app)
    security.register(app)
    _register_public_cache(app)
    from facility.cli import facility_cli

    app.cli.add_command(facility_cli)
    return app


def _check_production(app: Flask) -> None:
    if app.config.get("ENV_NAME") != "production":
        return
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("Production needs SECRET_KEY set in the environment.")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise RuntimeError("Production needs DATABASE_URL pointing at PostgreSQL, not SQLite.")
    if not app.config.get("PAYOUT_ENCRYPTION_KEY"):
        raise RuntimeError("Production needs PAYOUT_ENCRYPTION_KEY (a Fernet key) to encrypt payout details.")
    from facility.core.crypto import check_keys

    check_keys(app.config)
    _check_secret_strength(app)
    _check_audit_key(app)


MIN_SECRET_BYTES = 32


def _check_secret_strength(app: Flask) -> None:
    """Production's keys are long and random: `SECRET_KEY` at least `MIN_SECRET_BYTES` bytes and not one
    character repeated (nor two or three: fewer than 8 different characters is no random key); each
    `PAYOUT_ENCRYPTION_KEY` a Fernet key, i.e. url-safe base64 of 32 bytes, and those bytes not all alike."""
    secret = str(app.config.get("SECRET_KEY") or "")
    hint = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
    if len(secret.encode()) < MIN_SECRET_BYTES or len(set(secret)) < 8:
        raise RuntimeError(f"Production needs SECRET_KEY of at least {MIN_SECRET_BYTES} random bytes; {hint}.")
    for part in str(app.config.get("PAYOUT_ENCRYPTION_KEY") or "").split(","):
        if not part.strip():
            continue
        try:
            raw = base64.urlsafe_b64decode(part.strip().encode())
        except (ValueError, binascii.Error) as exc:
            raise RuntimeError("PAYOUT_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes).") from exc
        if len(raw) != 32 or len(set(raw)) < 8:
            raise RuntimeError("PAYOUT_ENCRYPTION_KEY must be Fernet keys of 32 random bytes; generate one with: "
                               'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())".')


def _trust_proxies(app: Flask) -> None:
    """Behind `TRUSTED_PROXIES` reverse proxies (0: none), the client's address, scheme and host are the ones
    those proxies report (`X-Forwarded-For`, `-Proto`, `-Host`; ProxyFix takes the n-th value from the right,
    so a client cannot choose its own); rate limits and session records then see the real client."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops < 0:
        raise RuntimeError("TRUSTED_PROXIES is the number of reverse proxies in front of the app (0 or more).")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]



def _check_audit_key(app: Flask) -> None:
    """Production signs the audit trail with AUDIT_KEY: set, and every secret at least 32 random bytes."""
    from facility.audit.keys import check_production

    check_production(app.config)


def package_modules(name: str) -> list:
    """`facility.<package>.<name>` for every domain package that has one, in dependency order."""
    modules = []
    for package in DOMAIN_PACKAGES:
        try:
            modules.append(importlib.import_module(f"facility.{package}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"facility.{package}.{name}":
                raise  # a real import error inside the module
    return modules


def _import_models() -> None:
    package_modules("models")
    importlib.import_module("facility.core.mail")
    importlib.import_module("facility.core.reminders")


def _init_extensions(app: Flask) -> None:
    from facility.api import api
    from facility.core import hooks
    from facility.core.database import configure_engine
    from facility.extensions import babel, compress, csrf, db, limiter, login_manager, migrate
    from facility.queue import redis_url

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, synchronous=app.config.get("SQLITE_SYNCHRONOUS", "FULL"))
    migrate.init_app(app, db, directory=str(config_module.BASE_DIR / "migrations"))
    hooks.install()

    login_manager.init_app(app)
    login_manager.login_view = "accounts.signin"
    login_manager.session_protection = None  # sessions are server-side rows; see accounts.services
    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"

    csrf.init_app(app)
    _offer_translated_languages(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=_select_timezone)
    compress.init_app(app)
    from facility.core import static_files

    static_files.register(app)

    url = redis_url(app)
    if url.startswith("unix://"):
        url = "redis+unix://" + url[len("unix://"):]
    app.config.setdefault("RATELIMIT_STORAGE_URI", url)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    api.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from facility.api import API_PREFIX, api
    from facility.core import inputs
    from facility.extensions import csrf

    inputs.register(app, checked_elsewhere=API_PREFIX + "/")  # bounded <int:...> ids: before any route
    for module in package_modules("views"):
        app.register_blueprint(module.bp)
    app.register_blueprint(importlib.import_module("facility.accounts.passkey_views").bp)  # passkeys (WebAuthn)
    app.register_blueprint(importlib.import_module("facility.challenges.stage_views").bp)  # staged prizes
    app.register_blueprint(importlib.import_module("facility.review.affiliation_views").bp)  # reviewers' affiliations
    app.register_blueprint(importlib.import_module("facility.review.appeal_views").bp)  # appeals of decisions
    app.register_blueprint(importlib.import_module("facility.challenges.indicator_views").bp)  # /indicators
    importlib.import_module("facility.grants.amendment_views").register(app)  # amendments; its ledger check
    app.register_blueprint(importlib.import_module("facility.grants.stage_views").bp)  # invitations to a stage
    importlib.import_module("facility.grants.indicator_views").register(app)  # a grant's indicator forms
    importlib.import_module("facility.proposals.indicator_views").register(app)  # a draft's milestone indicators
    app.register_blueprint(importlib.import_module("facility.portfolio.results_views").bp)  # public /results
    app.register_blueprint(importlib.import_module("facility.portfolio.opendata.views").bp)  # public, no sign-in
    importlib.import_module("facility.portfolio.public_views").register_public(app)  # /grants, /facility/ledger
    for name in API_MODULES:
        module = importlib.import_module(f"facility.api.{name}")
        api.register_blueprint(module.blp)
        csrf.exempt(module.blp)


def _wire_hooks(app: Flask) -> None:
    """Every cross-package hook and registry, connected in this one place.

    A lower package offers a hook (`core.views.register_dashboard_panel`, `ledger.services.on_posted`,
    ...) and never imports the packages that use it; this is where they are connected, so that
    "who is told when X happens?" has one answer to read.
    """
    from functools import partial

    from facility.audit.services import record
    from facility.core import context, schedule
    from facility.ledger.services import on_posted

    context.register(app)  # services ask core.context for the request's client, never Flask's `request`
    on_posted(app, partial(record, "ledger.posted"))  # every posting is in the audit trail, same transaction

    # The packages' own `views.register(app)`: dashboard panels, ledger checks, grant extras, ...
    # Until each of those registrations is listed above, they are called from here, in package order.
    for module in package_modules("views"):
        if hasattr(module, "register"):
            module.register(app)

    # Periodic jobs kept as data: every package's `jobs.PERIODIC`, reconciled by each worker as it starts.
    schedule.declare(app, [periodic for module in package_modules("jobs") for periodic in getattr(module, "PERIODIC", ())])


def _register_public_cache(app: Flask) -> None:
    """Anonymous public pages and API answers shared through Redis (core.public_cache); registered last, as
    its look-up runs before every other before_request function and its storing after every after_request one.
    The session and token touches of signed-in requests show on no public page: they leave the cache alone."""
    from facility.accounts.models import ApiToken, UserSession
    from facility.core import public_cache
    from facility.queue import redis_url

    url = redis_url(app)
    public_cache.register(app, redis_url=url, language=_visitor_locale)
    public_cache.ignore_writes_to(app, UserSession.__tablename__, ApiToken.__tablename__)


def _select_locale() -> str | None:
    from flask import has_request_context
    from flask_login import current_user

    if not has_request_context():
        return None  # jobs and commands: the default locale
    languages = list(_languages())
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        locale: str = current_user.locale
        return locale
    return _visitor_locale(session.get("lang"), request.accept_languages, languages)


def _visitor_locale(chosen: str | None, accept: LanguageAccept, languages: list[str]) -> str:
    """The language of someone not signed in: the one they switched to, else their browser's best offered."""
    if chosen in languages:
        return str(chosen)
    return accept.best_match(languages) or "en"


def _offer_translated_languages(app: Flask) -> None:
    """Only languages that exist are offered: `LANGUAGES` keeps the default locale and each language
    with a compiled catalogue, so the switcher never offers a language whose pages would be English with
    a false `lang`."""
    folder = config_module.BASE_DIR / "translations"
    default = app.config.get("BABEL_DEFAULT_LOCALE", "en")
    app.config["LANGUAGES"] = {
        code: name for code, name in app.config["LANGUAGES"].items()
        if code == default or (folder / code / "LC_MESSAGES" / "messages.mo").exists()
    }


def _languages() -> dict[str, str]:
    from flask import current_app

    return dict(current_app.config["LANGUAGES"])


def _select_timezone() -> str | None:
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and current_user and getattr(current_user, "is_authenticated", False):
        zone: str | None = current_user.timezone
        return zone
    return None


def _register_templating(app: Flask) -> None:
    from facility.accounts.policy import shown_name_filter
    from facility.core import templating

    templating.register(app)
    app.jinja_env.filters["shown_name"] = shown_name_filter  # people by role, not name, outside the facility

    @app.context_processor
    def _layout_context() -> dict[str, Any]:
        locale = str(get_locale() or "en")
        return {
            "languages": app.config["LANGUAGES"],
            "current_locale": locale,
            "text_direction": "rtl" if templating.is_right_to_left() else "ltr",
            "csp_nonce": g.get("csp_nonce", ""),
        }
