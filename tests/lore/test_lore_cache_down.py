"""Found by `make chaos` (kill -9 of Redis): the lore's generation flag lives in the cache,
and redis-py's ConnectionError is not an OSError, so every interaction answered 500 while
Redis was down. The lore must serve from the database instead."""

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from lore import selectors
from lore.selectors import lore_generation_bump, lore_snapshot

pytestmark = pytest.mark.django_db


class DownCache:
    def get(self, *args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6380. Connection refused.")

    set = get


def test_lore_is_read_and_bumped_while_the_cache_is_down(ecosystem, monkeypatch):
    monkeypatch.setattr(selectors, "cache", DownCache())
    lore_generation_bump(ecosystem.pk)
    snapshot = lore_snapshot(ecosystem.pk)
    assert snapshot.generation is None
    assert lore_snapshot(ecosystem.pk) is snapshot  # fresh for the local age, not reloaded
