"""Settings shared by every mode. Values come from the environment (django-environ).

With no environment at all the project runs in the embedded mode (docs/architecture.md,
"Modes"): SQLite under ``var/``, the in-memory channel layer, Celery eager and no graph
(relationships stay pending).
``DATABASE_URL``, ``REDIS_URL`` and ``NEO4J_BOLT_URL`` switch each part to the real service.
"""

from datetime import timedelta
from pathlib import Path

import environ
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("ECOSYSTEM_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

# An insecure default is fine for the embedded mode on loopback; production.py refuses it.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="embedded-insecure-key-do-not-deploy")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list(
    "DJANGO_CSRF_TRUSTED_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"]
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    # Swagger UI's files for /api/docs, served from here instead of a CDN.
    "drf_spectacular_sidecar",
    # django-csp: its checks refuse the 3.x CSP_* settings.
    "csp",
    "channels",
    "django_htmx",
    "django_neomodel",
    "corsheaders",
    # Lowest layer first; docs/architecture.md draws the layers.
    "eventlog",
    "characters",
    "relationships",
    "lore",
    "memories",
    "interactions",
    "scenarios",
    "worlds",
    "observatory",
]

MIDDLEWARE = [
    "core.middleware.ServerTimingMiddleware",
    # Counts every response by method and status class (/metrics); outermost but one.
    "core.metrics.RequestMetricsMiddleware",
    # A page whose database connection failed answers 503 + Retry-After, not 500
    # (core/outage.py; the API does the same in core.api.exception_handler).
    "core.middleware.DatabaseUnavailableMiddleware",
    # /api/ paths that match no route answer JSON 404 too, not Django's HTML page.
    "core.middleware.ApiNotFoundMiddleware",
    # Before CommonMiddleware, so a preflight answers with CORS headers (django-cors-headers).
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response Django makes (CONTENT_SECURITY_POLICY).
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "ecosystem_project.urls"
ASGI_APPLICATION = "ecosystem_project.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Lifetime of a persistent connection: when the pool is off, and in Celery workers
# (ecosystem_project.celery.persistent_database_connections).
DATABASE_CONN_MAX_AGE = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time: take the write lock when a transaction begins (no upgrade
    # deadlocks between the clock and the API) and wait for it instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # Parameters bound by the server, and statements prepared on a connection after a few
    # runs: PostgreSQL then skips parsing and planning the hot path's dozen statements
    # (about a third of its CPU per interaction). Needs no pooler in front that forgets
    # prepared statements (PgBouncer in transaction mode): set the threshold to 0 there.
    prepare_threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=2)
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": True,
        "prepare_threshold": prepare_threshold or None,
        # A server that does not answer the connect is given up on after this many seconds
        # (libpq waits forever by default); the request answers 503 (core/outage.py).
        "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=5),
    }
    if env.bool("DATABASE_POOL", default=True):
        # A connection pool (psycopg 3): under ASGI every request runs in a context of its
        # own, so Django's persistent connections are never reused and each request would
        # connect.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
        # Each pooled connection is checked (one empty statement) as a request takes it:
        # after a PostgreSQL restart the pool holds connections the restart cut, and without
        # the check each would fail the first request that took it.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_POOL_CHECK", default=True)
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = DATABASE_CONN_MAX_AGE
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Fast paths that read other packages' private internals (core.fast_paths; pinned in
# requirements/base.txt). Each is on by default and falls back to the stock path when off,
# or when the installed versions lack what it reads (one warning at startup).
# FAST_PATHS=off turns them all off.
FAST_PATHS = env.bool("FAST_PATHS", default=True)
# ecosystem_project.asgi_http.SyncChainASGIHandler; off: Django's ASGIHandler.
FAST_HTTP_HANDLER = FAST_PATHS and env.bool("FAST_HTTP_HANDLER", default=True)
# observatory.fanout_daphne: frames written to Daphne's socket; off: the consumer's send.
FAST_WS_DIRECT_WRITE = FAST_PATHS and env.bool("FAST_WS_DIRECT_WRITE", default=True)
# eventlog.services._group_publisher: one PUBLISH to Redis; off: group_send.
FAST_BROADCAST_PUBLISH = FAST_PATHS and env.bool("FAST_BROADCAST_PUBLISH", default=True)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "observatory:ecosystem-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
SERVE_STATIC = env.bool("DJANGO_SERVE_STATIC", default=True)
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))

# A request body over this size answers 413 before any view reads it (core/parsers.py for
# JSON, core/api.py for the rest).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)
# A Character Card upload (JSON, PNG or CHARX) over this size answers 413 (docs/cards.md).
CARD_IMPORT_MAX_BYTES = env.int("CARD_IMPORT_MAX_BYTES", default=8 * 1024 * 1024)

# --- Redis, channel layer, Celery -------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Every Redis use on a request's path (cache: throttles and flags; the broadcast's PUBLISH;
# Celery's publish) gives up after these, so a Redis that is down or unreachable costs a
# request at most about a second instead of holding it (redis-py retries 10 times with
# backoff, kombu reconnects for seconds, by default). The request still succeeds without
# Redis: docs/operations.md, "Redis down".
REDIS_CONNECT_TIMEOUT_SECONDS = env.float("REDIS_CONNECT_TIMEOUT_SECONDS", default=0.5)
REDIS_SOCKET_TIMEOUT_SECONDS = env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=1.0)
# Attempts after a failed one, at once (a connection Redis closed by restarting is
# replaced by the retry).
REDIS_RETRIES = env.int("REDIS_RETRIES", default=1)


def _with_connect_timeout(url: str) -> str:
    """``url`` with ``socket_connect_timeout`` (redis-py reads it from the query): the
    channel layer's connections, whose reads must not time out (a subscriber waits)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}socket_connect_timeout={REDIS_CONNECT_TIMEOUT_SECONDS:g}"


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": env.str(
                "CHANNEL_LAYER_BACKEND", default="channels_redis.pubsub.RedisPubSubChannelLayer"
            ),
            # capacity: messages a channel holds before the layer drops more (the core
            # layer; the pub/sub layer queues in memory). The fan-out's one channel per
            # ecosystem and process carries every event of a busy ecosystem.
            "CONFIG": {
                "hosts": [_with_connect_timeout(REDIS_URL)],
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Publishing a task (on a request's path: the graph and lore syncs) gives up quickly when the
# broker is down; the caller logs it and the reconcile sends what was not enqueued.
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
    # kombu waits forever on a broker that stopped answering without closing the connection.
    # A second above the command bound: a worker's BRPOP legitimately waits up to 1 s.
    "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS + 1,
    "max_retries": REDIS_RETRIES,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.2,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": REDIS_RETRIES,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.2,
}
CELERY_TASK_DEFAULT_QUEUE = "ecosystem"
CELERY_BEAT_SCHEDULE = {
    "scenario-clock": {"task": "scenarios.clock_tick", "schedule": 1.0},
    "graph-reconcile": {"task": "relationships.graph_reconcile", "schedule": 30.0},
    "lore-reconcile": {"task": "lore.graph_reconcile", "schedule": 30.0},
    "events-prune": {"task": "eventlog.events_prune", "schedule": 3600.0},
}

# Cache: throttle and login-attempt counters. Redis (atomic INCR, shared by every process)
# whenever REDIS_URL is set; process-local memory in the embedded mode.
CACHE_URL = env.str("CACHE_URL", default=REDIS_URL)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.SharedPoolRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="ecosystem"),
            "TIMEOUT": 300,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
                "retry": Retry(NoBackoff(), REDIS_RETRIES),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Failed (or in-flight) logins per username + client IP before the form and the token
# endpoint answer 429 for the rest of the window; a success clears the count.
LOGIN_ATTEMPT_LIMIT = env.int("LOGIN_ATTEMPT_LIMIT", default=10)
LOGIN_ATTEMPT_WINDOW_SECONDS = env.int("LOGIN_ATTEMPT_WINDOW_SECONDS", default=100)

# --- CORS (django-cors-headers): the API only, from these origins only --------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = env.bool("CORS_ALLOW_CREDENTIALS", default=False)
CORS_PREFLIGHT_MAX_AGE = env.int("CORS_PREFLIGHT_MAX_AGE", default=86400)

# --- Monitoring: GET /metrics (Prometheus) for staff sessions or this bearer token --------
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# The clock task keeps the clock this long per beat tick (see docs/scenarios.md).
SCENARIO_CLOCK_WINDOW_SECONDS = env.float("SCENARIO_CLOCK_WINDOW_SECONDS", default=3.0)

# --- Neo4j -----------------------------------------------------------------------------
NEO4J_BOLT_URL = env.str("NEO4J_BOLT_URL", default="")
NEOMODEL_NEO4J_BOLT_URL = NEO4J_BOLT_URL or "bolt://neo4j:neo4j@127.0.0.1:7687"
NEOMODEL_SIGNALS = False
NEOMODEL_FORCE_TIMEZONE = False
NEOMODEL_MAX_CONNECTION_POOL_SIZE = 50
GRAPH_SYNC_ENABLED = bool(NEO4J_BOLT_URL)
# Orphan nodes younger than this are left alone (another database may share the server).
GRAPH_ORPHAN_GRACE_SECONDS = env.float("GRAPH_ORPHAN_GRACE_SECONDS", default=600.0)
NEO4J_CONNECTION_TIMEOUT = env.float("NEO4J_CONNECTION_TIMEOUT", default=3.0)
GRAPH_SYNC_BATCH_SIZE = env.int("GRAPH_SYNC_BATCH_SIZE", default=500)
# A queued sync task waits this long before it reads what is pending, so a busy ecosystem's
# changes reach Neo4j in a few larger batches a second instead of back-to-back small ones.
GRAPH_SYNC_DELAY_SECONDS = env.float("GRAPH_SYNC_DELAY_SECONDS", default=0.25)

# --- Domain ----------------------------------------------------------------------------
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=30)
# Lore (docs/lore.md): the embedding model (core/embeddings.py), the largest document
# (upload or text; 413 beyond), search on Neo4j's vector index when configured, and the
# widest candidate list asked of it while filtering to one ecosystem.
EMBEDDING_MODEL = env.str("EMBEDDING_MODEL", default="wordllama-l2-supercat-256")
LORE_MAX_DOCUMENT_BYTES = env.int("LORE_MAX_DOCUMENT_BYTES", default=5 * 1024 * 1024)
LORE_SEARCH_USE_NEO4J = env.bool("LORE_SEARCH_USE_NEO4J", default=True)
LORE_MAX_VECTOR_CANDIDATES = env.int("LORE_MAX_VECTOR_CANDIDATES", default=10_000)
# Neo4j lore search plans (docs/lore.md, "Vector index: one per large ecosystem"): an exact
# scan up to this many chunks in an ecosystem; past it the ecosystem has its own vector
# index, asked for OVERSAMPLE x k candidates (at least MIN_CANDIDATES: HNSW's search breadth;
# at 20, a 213-chunk ecosystem's best chunk, cosine 0.32 against 0.12 for the rest, was
# missed for an outlying question; 50 found it).
LORE_VECTOR_EXACT_MAX_CHUNKS = env.int("LORE_VECTOR_EXACT_MAX_CHUNKS", default=100)
LORE_VECTOR_OVERSAMPLE = env.int("LORE_VECTOR_OVERSAMPLE", default=4)
LORE_VECTOR_MIN_CANDIDATES = env.int("LORE_VECTOR_MIN_CANDIDATES", default=100)
# World archives (docs/archives.md): the largest file taken (413 above) and the most JSON
# it may decompress to (400 above: a gzip bomb is refused before it fills the memory).
ARCHIVE_MAX_BYTES = env.int("ARCHIVE_MAX_BYTES", default=64 * 1024 * 1024)
ARCHIVE_MAX_DECOMPRESSED_BYTES = env.int(
    "ARCHIVE_MAX_DECOMPRESSED_BYTES", default=512 * 1024 * 1024
)
WS_REVALIDATE_SECONDS = env.int("WS_REVALIDATE_SECONDS", default=15)
WS_HEARTBEAT_SECONDS = env.int("WS_HEARTBEAT_SECONDS", default=20)
WS_MAX_PENDING_EVENTS = env.int("WS_MAX_PENDING_EVENTS", default=2000)
WS_ALLOWED_ORIGINS = env.list("WS_ALLOWED_ORIGINS", default=[])

DIALOGUE_BACKEND = env.str("DIALOGUE_BACKEND", default="template")
DIALOGUE_OPENAI_BASE_URL = env.str("DIALOGUE_OPENAI_BASE_URL", default="http://127.0.0.1:11434/v1")
DIALOGUE_OPENAI_MODEL = env.str("DIALOGUE_OPENAI_MODEL", default="llama3.2")
DIALOGUE_OPENAI_API_KEY = env.str("DIALOGUE_OPENAI_API_KEY", default="")
DIALOGUE_TIMEOUT_SECONDS = env.float("DIALOGUE_TIMEOUT_SECONDS", default=5.0)
# Threads per clock process that wait on a remote model for claimed scenario turns
# (docs/scenarios.md, "Turns"); the template backend generates inline.
SCENARIO_GENERATION_THREADS = env.int("SCENARIO_GENERATION_THREADS", default=32)
# Threads per web process for requests' synchronous part (ecosystem_project.asgi_http):
# started as concurrency asks, kept for the process's life. The in-process template backend
# keeps a thread busy on the CPU, and more than a few only contend for the GIL (two web
# processes under load: 4 threads 105-120 interactions/s, 8 or 32 threads 86-88/s); a
# remote model holds one per request while it answers, so it gets 32.
HTTP_THREADS = env.int("HTTP_THREADS", default=4 if DIALOGUE_BACKEND == "template" else 32)

# Memory streams (docs/models.md, "Memory"): at most this many memories per character
# (pruned by recency + importance), a reflection once the importance since the last one
# adds up to the threshold, recency halving every half-life, k memories per speaker.
MEMORY_RETENTION_PER_CHARACTER = env.int("MEMORY_RETENTION_PER_CHARACTER", default=500)
MEMORY_REFLECTION_THRESHOLD = env.float("MEMORY_REFLECTION_THRESHOLD", default=4.0)
MEMORY_RECENCY_HALF_LIFE_SECONDS = env.float("MEMORY_RECENCY_HALF_LIFE_SECONDS", default=3600.0)
MEMORY_RECALL_K = env.int("MEMORY_RECALL_K", default=3)

# --- REST ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSONParser plus a body size limit (413), a nesting limit and no lone surrogates
    # (core/parsers.py; docs/api.md, "Errors").
    "DEFAULT_PARSER_CLASSES": ["core.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # ?limit= from 1 to 1000 and ?offset= within 64 bits, else 400 (core/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Views opt in with ``throttle_scope``; rates are read per request (see throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.ScopedUserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        # per client IP + username, on POST /api/v1/auth/token
        "auth": env.str("THROTTLE_RATE_AUTH", default="60/min"),
        # per user, on POST /api/v1/interactions
        "interactions": env.str("THROTTLE_RATE_INTERACTIONS", default="6000/min"),
        # per user, on scenario creation, pause/resume/end, mode and messages
        "scenario_writes": env.str("THROTTLE_RATE_SCENARIO_WRITES", default="600/min"),
    },
    # Proxies in front of Daphne (nginx: 1); the client IP is taken from X-Forwarded-For
    # only that many hops deep, so a client cannot choose the IP its limits are counted on.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
if env.bool("DJANGO_BROWSABLE_API", default=False):
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Separate from SECRET_KEY, so rotating one does not invalidate the other.
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="embedded-insecure-jwt-key-do-not-deploy"),
    "ALGORITHM": "HS256",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Character Ecosystem API",
    "DESCRIPTION": "Authored characters with Big Five personalities, living together.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation declares the 400/401/404/413/429 it can answer, and strict request
    # bodies say additionalProperties: false (core/schema.py; docs/api.md, "Errors").
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.declare_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ScenarioStatusEnum": "scenarios.models.Scenario.Status",
        "InteractionTypeEnum": "interactions.models.Interaction.Type",
        "DocumentKindEnum": "lore.models.Document.Kind",
        "MemoryKindEnum": "memories.models.Memory.Kind",
    },
    # Swagger UI from drf-spectacular-sidecar's static files: /api/docs loads nothing from
    # outside the site (and works offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Content-Security-Policy (django-csp 4.x; docs/operations.md, "Content-Security-Policy")
# Everything from this site only; no inline script or style anywhere (the pages load their
# scripts and styles from static files; /api/docs loads its init script from a URL), no
# plugins, no framing. data: images for Swagger UI's icons (in its CSS).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        name: {"level": "WARNING"}
        # Chatty at INFO: a line per Bolt session, HTTP request (the LLM backend, the
        # benchmarks' clients) or Daphne connection.
        for name in ("neo4j", "daphne", "httpx", "httpcore")
    },
}
