"""Production: refuses to start without the settings a deployment must choose itself."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

# DATABASE_URL and REDIS_URL too: without them a deployment would silently run the
# embedded mode (SQLite in the container, in-memory channel layer, eager Celery).
REQUIRED_SETTINGS = (
    "DJANGO_SECRET_KEY",
    "JWT_SIGNING_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
)
_missing = [name for name in REQUIRED_SETTINGS if not env.str(name, default="")]
if _missing:
    raise ImproperlyConfigured(
        "\n".join(
            f"Missing required setting: {name} (set it in the environment)" for name in _missing
        )
    )

SECRET_KEY = env.str("DJANGO_SECRET_KEY")
SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = True
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# nginx serves collectstatic's output (docker/nginx); Daphne does not.
SERVE_STATIC = env.bool("DJANGO_SERVE_STATIC", default=False)
