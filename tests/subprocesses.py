"""What the tests need to start real servers and workers beside themselves: a free loopback
port, the URLs of the test database and of a Redis database of their own, and a fresh
interpreter's output."""

import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

REPO_ROOT = Path(__file__).resolve().parent.parent


def python_output(script: str, env: Mapping[str, str] | None = None) -> str:
    """What ``script`` prints in a fresh interpreter started at the repository's root, with
    ``env`` as its whole environment (this process's by default); raises on a failure."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def subprocess_database_url() -> str:
    """DATABASE_URL of the database pytest-django created (test_<NAME>): a subprocess given
    it sees the rows the tests commit."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"


def with_redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))
