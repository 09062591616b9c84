"""Configuration: defaults here, overridden by instance/config.py, then by the environment.

Everything a deployment changes comes from the environment (or instance/config.py):
SECRET_KEY, DATABASE_URL, REDIS_URL, YINHUI_ENV, HTTPS, HELP_HOTLINE, GEOCODER, GEOCODER_*,
BASE_URL, MAIL_*, SMS_*, JOBS_REDIS_URL, JOBS_QUEUE_NAME, RATELIMIT_KEY_PREFIX, JOBS_STALE_SECONDS,
EXPORT_DIR, IMPORT_DIR, PROOF_FONT, BACKUP_DIR, BACKUP_KEEP_DAYS, PG_BIN_DIR, LOG_FORMAT, LOG_LEVEL,
SLOW_QUERY_MS, METRICS_ALLOW, QUEUE_STUCK_SECONDS, PROXY_FIX_X_FOR, ALLOW_SQLITE_IN_PRODUCTION.
What production requires of them is in app/production.py.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    YINHUI_ENV = "development"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # default: SQLite file in the instance folder
    # hide_parameters: an SQL error's message never carries values (phone numbers, names) into logs.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    SQLITE_BUSY_TIMEOUT_MS = 10_000

    # Sessions are kept server-side (app/accounts/sessions.py); the cookie holds a random id.
    SESSION_COOKIE_NAME = "yinhui_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_IDLE_DAYS = 7          # a signed-in session unused this long ends
    SESSION_MAX_DAYS = 30          # and none lives longer than this
    ANONYMOUS_SESSION_HOURS = 24

    # Slow typists never lose a form to an expired token.
    WTF_CSRF_TIME_LIMIT = None
    WTF_CSRF_SSL_STRICT = True
    WTF_I18N_ENABLED = False  # WTForms' own zh translations, see app/forms.py

    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    # With several hosts the limits live in Redis (REDIS_URL). When Redis cannot be reached, each
    # process counts in its own memory (the same limits) and logs a warning, rather than
    # answering 500; a failure halfway through a request is logged and swallowed likewise.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    RATELIMIT_KEY_PREFIX = "yinhui"   # with JOBS_QUEUE_NAME, what keeps two deployments on one Redis apart
    # Failed sign-ins slow down whoever is guessing, not the owner (app/accounts/views.py): a number
    # tried from one address, and one address across numbers, are limited; a number's own ceiling
    # counts failures from everywhere and is high, so a stranger cannot lock its owner out, while
    # 100 guesses a day stay far too few against passwords of 8+ characters with the common ones
    # refused. The owner is told after LOGIN_ALERT_AFTER failures in a day, and can always get in
    # with a code by SMS, which the ceiling does not stop.
    LOGIN_LIMIT_PER_PHONE_IP = "5 per 5 minutes"
    LOGIN_LIMIT_PER_IP = "30 per 10 minutes"
    LOGIN_LIMIT_PER_ACCOUNT = "100 per day"
    LOGIN_ALERT_AFTER = 10
    CLAIM_LIMIT_PER_CODE = "5 per 5 minutes"    # claiming a record registered by proxy, per claim code
    REGISTER_LIMIT_PER_IP = "10 per hour"
    # Getting back in (app/accounts/recovery.py): asking for a code texts a phone, so both the asker
    # and the number are limited; checking codes is limited per IP and per number and IP (each code
    # also dies after 5 wrong tries).
    RECOVERY_REQUEST_LIMIT_PER_IP = "10 per hour"
    RECOVERY_REQUEST_LIMIT_PER_PHONE = "5 per hour"
    RECOVERY_CHECK_LIMIT_PER_IP = "30 per 10 minutes"
    RECOVERY_CHECK_LIMIT_PER_PHONE_IP = "10 per 10 minutes"
    VERIFY_LIMIT_PER_IP = "60 per 10 minutes"   # proof numbers looked up and not found
    PROXY_FIX_X_FOR = 0  # number of trusted proxies in front of the app
    ALLOW_SQLITE_IN_PRODUCTION = False   # a one-machine production on the embedded database, on purpose

    PASSWORD_HASH_PARAMS: dict = {}  # argon2-cffi defaults (argon2id, RFC 9106 low-memory)

    # Watching it run (app/ops): logs, readiness, metrics, the slow-query log.
    LOG_FORMAT = "json"             # "json", "text" (a terminal) or "none" (leave logging alone)
    LOG_LEVEL = "INFO"
    SLOW_QUERY_MS = 200             # statements slower than this are logged by name
    METRICS_ALLOW = "127.0.0.0/8,::1"   # who may read /metrics (comma-separated networks); others get 404
    QUEUE_STUCK_SECONDS = 900       # /readyz fails when a watched queue's oldest due item waited longer

    HELP_HOTLINE = "0371-6000 0000"
    HELP_HOURS = "工作日 8:30–17:30"
    POOL_REVIEW_DAYS = 15           # what members are told a county pool review takes (working days)
    SERVICE_NAME = "银晖"
    HOME_PROVINCE = "410000"

    GEOCODER: str | None = None     # e.g. "nominatim"; unset: the shipped gazetteer only
    GEOCODER_OPTIONS: dict = {}     # keyword arguments for the geopy geocoder class
    GEOCODER_CRS = "wgs84"          # "gcj02" or "bd09" for Chinese providers
    GEOCODER_TIMEOUT = 3

    HSTS = False
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024   # uploads: a 20,000-row roster is about 1.5 MB

    # Background jobs (app/jobs): SqliteHuey in instance/ unless JOBS_REDIS_URL or REDIS_URL is set.
    JOBS_IMMEDIATE = False          # run jobs in the caller's thread at once (tests)
    JOBS_QUEUE_NAME = "yinhui"
    JOBS_REDIS_URL: str | None = None
    JOBS_SQLITE_PATH: str | None = None     # default: instance/jobs-queue.db
    JOBS_STALE_SECONDS = 120        # a running job without a heartbeat this long: its worker died
    JOBS_HEARTBEAT_SECONDS = 15
    JOBS_MAX_ATTEMPTS = 3           # runs of a job the sweeper may start again after a crash
    EXPORT_DIR: str | None = None   # default: instance/exports
    IMPORT_DIR: str | None = None   # default: instance/imports (rosters staged between import steps)
    EXPORT_KEEP_DAYS = 7

    # The CJK font that draws a proof of service as an image (app/proofs/image.py): a file on this
    # server, never downloaded. None: the first of the Debian fonts there is (fonts-noto-cjk,
    # fonts-wqy-microhei, fonts-wqy-zenhei); with none, the proof page offers no image.
    PROOF_FONT: str | None = None

    # Email (optional): notifications are queued in the outbox and sent by the worker every minute
    # (app/jobs/schedule.py) or by `flask outbox send`.
    BASE_URL = "http://127.0.0.1:5000"   # for links in emails
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_SENDER = "noreply@yinhui.local"
    MAIL_SENDER_NAME = "银晖"
    MAIL_TIMEOUT = 10

    # Text messages (app/notifications/sms.py): "log" writes them to the log (development); "aliyun"
    # sends them through Alibaba Cloud SMS with the AccessKey, the approved signature and the code
    # Aliyun gave each template (SMS_TEMPLATE_CODES, e.g. {"login_code": "SMS_123", "notice": "SMS_456"}).
    SMS_BACKEND = "log"
    SMS_ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
    SMS_ALIYUN_REGION = "cn-hangzhou"
    SMS_ALIYUN_ACCESS_KEY_ID: str | None = None
    SMS_ALIYUN_ACCESS_KEY_SECRET: str | None = None
    SMS_SIGN_NAME = "银晖"
    SMS_TEMPLATE_CODES: dict = {}
    SMS_TIMEOUT = 10
    SMS_MAX_ATTEMPTS = 8            # then the message is given up (the in-app notification stays)
    SMS_DAILY_CAP = 10              # messages per number per Beijing day
    SMS_QUIET_START = 21            # 21:00–8:00 Beijing time only sign-in codes are sent
    SMS_QUIET_END = 8

    # Backups (`flask backup create`): where, for how long, and where pg_dump lives if not on PATH.
    BACKUP_DIR: str | None = None   # default: instance/backups; relative paths are under instance/
    BACKUP_KEEP_DAYS = 14
    PG_BIN_DIR: str | None = None


class ProductionConfig(Config):
    YINHUI_ENV = "production"
    SESSION_COOKIE_SECURE = True
    HSTS = True


class TestConfig(Config):
    YINHUI_ENV = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production-000000"
    PASSWORD_HASH_PARAMS = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    SERVER_NAME = None
    JOBS_IMMEDIATE = True


def load(app: Flask, config: dict | type | None) -> None:
    """Fill app.config: class defaults, instance/config.py, environment, explicit overrides."""
    env = (config.get("YINHUI_ENV") if isinstance(config, dict) else None) or os.environ.get("YINHUI_ENV", "development")
    base: type = {"production": ProductionConfig, "test": TestConfig}.get(env, Config)
    if isinstance(config, type):
        base, config = config, None
    app.config.from_object(base)
    app.config.from_pyfile("config.py", silent=True)

    for key in ("SECRET_KEY", "REDIS_URL", "HELP_HOTLINE", "HELP_HOURS", "GEOCODER", "GEOCODER_CRS",
                "BASE_URL", "MAIL_SERVER", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_SENDER", "BACKUP_DIR", "PG_BIN_DIR"):
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    if os.environ.get("BACKUP_KEEP_DAYS"):
        app.config["BACKUP_KEEP_DAYS"] = int(os.environ["BACKUP_KEEP_DAYS"])
    for key in ("SMS_BACKEND", "SMS_ALIYUN_ENDPOINT", "SMS_ALIYUN_REGION", "SMS_ALIYUN_ACCESS_KEY_ID",
                "SMS_ALIYUN_ACCESS_KEY_SECRET", "SMS_SIGN_NAME"):
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    if os.environ.get("SMS_TEMPLATE_CODES"):
        app.config["SMS_TEMPLATE_CODES"] = json.loads(os.environ["SMS_TEMPLATE_CODES"])
    for key in ("SMS_DAILY_CAP", "SMS_MAX_ATTEMPTS"):
        if os.environ.get(key):
            app.config[key] = int(os.environ[key])
    for key in ("JOBS_REDIS_URL", "JOBS_SQLITE_PATH", "JOBS_QUEUE_NAME", "RATELIMIT_KEY_PREFIX", "EXPORT_DIR",
                "IMPORT_DIR", "PROOF_FONT"):
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    for key in ("JOBS_STALE_SECONDS", "JOBS_HEARTBEAT_SECONDS"):
        if os.environ.get(key):
            app.config[key] = float(os.environ[key])
    if os.environ.get("MAIL_PORT"):
        app.config["MAIL_PORT"] = int(os.environ["MAIL_PORT"])
    for key in ("MAIL_USE_TLS", "MAIL_USE_SSL"):
        if os.environ.get(key):
            app.config[key] = _env_bool(key)
    if os.environ.get("DATABASE_URL") and app.config["YINHUI_ENV"] != "test":
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if os.environ.get("TEST_DATABASE_URL") and app.config["YINHUI_ENV"] == "test":
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["TEST_DATABASE_URL"]
    if os.environ.get("GEOCODER_USER_AGENT"):
        app.config["GEOCODER_OPTIONS"] = {**app.config["GEOCODER_OPTIONS"],
                                          "user_agent": os.environ["GEOCODER_USER_AGENT"]}
    for key in ("LOG_FORMAT", "LOG_LEVEL", "METRICS_ALLOW"):
        if key in os.environ:
            app.config[key] = os.environ[key]
    for key in ("SLOW_QUERY_MS", "QUEUE_STUCK_SECONDS"):
        if os.environ.get(key):
            app.config[key] = int(os.environ[key])
    if os.environ.get("PROXY_FIX_X_FOR"):
        app.config["PROXY_FIX_X_FOR"] = int(os.environ["PROXY_FIX_X_FOR"])
    if os.environ.get("ALLOW_SQLITE_IN_PRODUCTION"):
        app.config["ALLOW_SQLITE_IN_PRODUCTION"] = _env_bool("ALLOW_SQLITE_IN_PRODUCTION")
    if _env_bool("HTTPS", app.config["SESSION_COOKIE_SECURE"]):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["HSTS"] = True
    if config:
        app.config.update(config)

    if app.config.get("REDIS_URL") and app.config["RATELIMIT_STORAGE_URI"] == "memory://":
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]

    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'yinhui.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])

    # Production never makes up a secret: app/production.py refuses to start without one.
    if not app.config.get("SECRET_KEY") and app.config["YINHUI_ENV"] != "production":
        app.config["SECRET_KEY"] = _development_secret(instance)


def settings() -> Flask:
    """The configuration a service started here would have (environment, instance/config.py),
    loaded into a bare Flask object: no database, no extensions, none of the application."""
    bare = Flask("yinhui", instance_path=str(ROOT / "instance"), instance_relative_config=True)
    load(bare, None)
    return bare


def _development_secret(instance: Path) -> str:
    """A random secret generated once into instance/, so development restarts keep sessions."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
