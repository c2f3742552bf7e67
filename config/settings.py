"""Trunkline settings, read from the environment (see README, "Configuration")."""

import contextlib
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TRUNKLINE_VAR_DIR", BASE_DIR / "var"))
# The var directory holds the SQLite database, the secret key and the switch's routing file: its owner's only.
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
with contextlib.suppress(PermissionError):  # a directory another user owns keeps the modes that user gave it
    VAR_DIR.chmod(0o700)


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_flag("DEBUG")
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8000"))
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h] or [
    "127.0.0.1",
    "localhost",
    "[::1]",
    HOST,
]

# SQLite's stand-in for row locks and a busy server: every connection, whether SQLite is the default or comes
# from a `sqlite:///path` DATABASE_URL, takes the write lock up front (IMMEDIATE) and waits for it (timeout)
# instead of failing with "database is locked" when it meets the worker; WAL lets readers go on meanwhile.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    # A 64 MiB page cache and memory-mapped reads: board scans over 100k customers ran ~30% faster.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; "
                    "PRAGMA mmap_size=268435456;",
}

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "trunkline.sqlite3"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
    # Tests on SQLite use a file, not Django's shared-cache memory database: several threads writing at once
    # (the concurrency tests) must meet SQLite's real locking and busy timeout, as the server does.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}


def _private_database_file(name: object) -> None:
    """The SQLite file holds password hashes, API tokens and SMTP secrets: made 0600 before SQLite first opens it
    (SQLite gives its -wal and -shm files the database file's mode)."""
    path = Path(str(name))
    if str(name) in ("", ":memory:") or str(name).startswith("file:") or not path.parent.is_dir():
        return
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # SQLite takes an empty file as a new database
    with contextlib.suppress(PermissionError):
        path.chmod(0o600)


if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _private_database_file(DATABASES["default"]["NAME"])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "trunkline.core",
    "trunkline.audit",
    "trunkline.notifications",
    "trunkline.customers",
    "trunkline.routing",
    "trunkline.sipauth",
    "trunkline.ledger",
    "trunkline.cdrs",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "trunkline.core.middleware.ChangeContextMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the login page with the lockout message.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): after TRUNKLINE_LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is refused for TRUNKLINE_LOGIN_COOLOFF_MINUTES, even with the right password. Only the login
# form authenticates with a password; API tokens and signed-in sessions are not affected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("TRUNKLINE_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("TRUNKLINE_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "trunkline.core.views.pages.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "trunkline.core.middleware.client_ip"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "trunkline.core.navigation.navigation",
            ],
        },
    }
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Served straight from the apps' static folders: no collectstatic step before `make run`.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

# The largest file an import accepts (bytes; the API answers 413 past it, the panel says so on the form).
TRUNKLINE_UPLOAD_LIMIT = int(os.environ.get("TRUNKLINE_UPLOAD_LIMIT", str(50 * 1024 * 1024)))
# CSV pasted into the panel (or sent back by Import after Preview) is a form field, which Django caps at
# 2.5 MB by default; the same limit as a file applies instead. Uploaded files go to disk past 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = TRUNKLINE_UPLOAD_LIMIT

# Kamailio's JSON-RPC (jsonrpcs over xhttp) that End Calls asks to end a dialog (dlg.end_dlg).
KAMAILIO_RPC_URL = os.environ.get("KAMAILIO_RPC_URL", "http://127.0.0.1:5071/RPC")
# The switch's Redis (shared counters); when set, the switch spools call events to its stream and the worker loads
# them from there (contracts.calls.SPOOL_STREAM) as well as from the spool files.
COUNTERS_URL = os.environ.get("COUNTERS_URL", "").strip()

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["trunkline.core.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "trunkline.core.api.pagination.LimitOffsetPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "trunkline.core.api.filters.FilterBackend",
        "trunkline.core.api.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "trunkline.core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "trunkline.core.api.exceptions.exception_handler",
    "DEFAULT_METADATA_CLASS": "trunkline.core.api.metadata.Metadata",
    "COERCE_DECIMAL_TO_STRING": True,
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Trunkline API",
    "DESCRIPTION": "Customer management, call control and billing for VoIP wholesale carriers.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "trunkline.core.api.schema.blank_or_pattern_as_any_of"],
    # Several models have a "status" with different choices: name each enum after its choices, not a hash.
    "ENUM_NAME_OVERRIDES": {
        "CliDirectionEnum": "trunkline.routing.choices.CliDirection",
        "CustomerStatusEnum": "trunkline.customers.choices.CustomerStatus",
        "DeliveryStatusEnum": "trunkline.customers.choices.DeliveryStatus",
        "DirectionEnum": "trunkline.sipauth.choices.Direction",
        "JobStatusEnum": "trunkline.core.models.Job.Status",
        "KindEnum": "trunkline.routing.choices.RateCardKind",
        "ProviderStatusEnum": "trunkline.routing.choices.ProviderStatus",
        "RateStatusEnum": "trunkline.routing.choices.RateStatus",
        "SimulateAuthKindEnum": ["ip", "sip_user"],
        "TransportEnum": "trunkline.routing.choices.Transport",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Behind a TLS-terminating proxy (README, "Running behind HTTPS"): TRUNKLINE_HTTPS=1 trusts the proxy's
# X-Forwarded-Proto, redirects plain HTTP, sends cookies only over HTTPS and asks browsers for HTTPS only (HSTS).
TRUNKLINE_BEHIND_PROXY = _env_flag("TRUNKLINE_HTTPS")  # also: the client's address is the proxy's X-Forwarded-For
if TRUNKLINE_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("TRUNKLINE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_flag("TRUNKLINE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading is a promise to browser vendors that is slow to take back: the operator's choice, so the
    # reminder that it is off (security.W021) is silenced unless they opt in.
    SECURE_HSTS_PRELOAD = _env_flag("TRUNKLINE_HSTS_PRELOAD")
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Origins a form may be posted from when the proxy changes the Host header, e.g. https://panel.example.net.
CSRF_TRUSTED_ORIGINS = [origin for origin in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if origin]
