"""Tests run against the real full stack started by `make services` (var/services.env)."""

import os

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WS_REVALIDATE_SECONDS = env.int("WS_REVALIDATE_SECONDS", default=2)

# One test database per pytest process, so two runs on one machine never share (and drop)
# each other's database. Subprocesses the tests start (Daphne, Celery) receive the created
# name in DATABASE_URL.
DATABASES["default"]["TEST"] = {
    "NAME": env.str(
        "TEST_DATABASE_NAME", default=f"test_{DATABASES['default']['NAME']}_{os.getpid()}"
    )
}

# Keys of this run only: rate-limit counters of one run never leak into the next.
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default=f"test-{os.getpid()}")

# Tasks of this run go to a queue of its own: a worker of another run (or of `make run-full`)
# never takes them. Workers the tests start get the same name through the environment.
CELERY_TASK_DEFAULT_QUEUE = env.str(
    "CELERY_TASK_DEFAULT_QUEUE", default=f"ecosystem-test-{os.getpid()}"
)

# No connection pool in the tests unless asked for (DATABASE_POOL=1, as the benchmarks do):
# pytest drops the test database at the end, and pooled idle connections would hold it.
if not env.bool("DATABASE_POOL", default=False):
    DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
