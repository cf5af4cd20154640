"""What the tests need to start real servers and workers beside themselves: a free loopback
port, and the URLs of the test database and of a Redis database of their own."""

import socket
from urllib.parse import urlsplit, urlunsplit

from django.db import connection


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
