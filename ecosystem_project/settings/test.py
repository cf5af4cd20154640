"""Tests run against the real full stack started by `make services` (var/services.env)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WS_REVALIDATE_SECONDS = env.int("WS_REVALIDATE_SECONDS", default=2)
