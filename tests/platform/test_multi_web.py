"""Three web processes (real Daphne subprocesses on the test database, sharing Redis), as
``make run-full WEB_PROCESSES=3`` runs them behind nginx.

Observers connected to each process get every event once and in order, although the events
are written by another process (live events cross processes through the Redis channel
layer); a client whose process dies resumes on another process with its last ``seq``, and
gets the rest without a gap or a repeat.
"""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection, transaction

from eventlog.services import events_append
from observatory.client import stream_events
from tests.conftest import token_for
from tests.factories import user_message_event
from tests.subprocesses import free_port, subprocess_database_url

pytestmark = pytest.mark.django_db(transaction=True)

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_PROCESSES = 3
OBSERVERS_PER_PROCESS = 3
EVENTS = 60
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1"]


class WebProcess:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ecosystem_project.settings.test",
            "DATABASE_URL": subprocess_database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            # No periodic catch-up from the log within the test: what arrives, arrived live.
            "WS_REVALIDATE_SECONDS": "600",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*DAPHNE, "-p", str(self.port), "ecosystem_project.asgi:application"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait(self, timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("daphne did not start listening")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def web_processes(transactional_db, tmp_path) -> Iterator[list[WebProcess]]:
    if not settings.REDIS_URL or connection.vendor != "postgresql":
        pytest.fail("several web processes need Redis and PostgreSQL: run with `make test`")
    processes = [WebProcess(tmp_path / f"daphne-{index}.log") for index in range(WEB_PROCESSES)]
    try:
        for process in processes:  # all three boot side by side
            process.start()
        for process in processes:
            process.wait()
        yield processes
    finally:
        for process in processes:
            process.stop()


def write_events(ecosystem_id, count: int, pause: float = 0.0) -> None:
    """Events committed by this process (not by any web process), broadcast on commit."""
    try:
        for index in range(count):
            with transaction.atomic():
                events_append(ecosystem_id=ecosystem_id, events=[user_message_event(f"m{index}")])
            if pause:
                time.sleep(pause)
    finally:
        connection.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def observe(url: str, ecosystem_id, token: str, into: list[int], until: int) -> None:
    stream = stream_events(url, ecosystem_id, token, since=0, initial_backoff=0.2, max_backoff=1)
    async with contextlib.aclosing(stream):
        async for frame in stream:
            into.append(frame["seq"])
            if frame["seq"] >= until:
                return


def test_observers_on_every_process_get_each_event_once(web_processes, user, ecosystem):
    token = token_for(user)
    write_events(ecosystem.pk, 1)

    async def scenario() -> list[list[int]]:
        received: list[list[int]] = [[] for _ in range(WEB_PROCESSES * OBSERVERS_PER_PROCESS)]
        observers = [
            asyncio.ensure_future(
                observe(
                    web_processes[index % WEB_PROCESSES].url,
                    ecosystem.pk,
                    token,
                    received[index],
                    EVENTS,
                )
            )
            for index in range(len(received))
        ]
        # Every observer has replayed event 1: the rest can only reach it live.
        await wait_until(lambda: all(seqs == [1] for seqs in received))
        await asyncio.to_thread(write_events, ecosystem.pk, EVENTS - 1)
        await asyncio.wait_for(asyncio.gather(*observers), 30)
        return received

    for seqs in async_to_sync(scenario)():
        assert seqs == list(range(1, EVENTS + 1))


def test_a_client_resumes_on_another_process_without_a_gap(web_processes, user, ecosystem):
    token = token_for(user)
    first, second = web_processes[0], web_processes[1]

    async def scenario() -> tuple[list[int], list[int]]:
        before: list[int] = []
        after: list[int] = []
        # A writer that keeps going while the client's process dies and it moves.
        writer = asyncio.ensure_future(asyncio.to_thread(write_events, ecosystem.pk, EVENTS, 0.02))
        stream = stream_events(first.url, ecosystem.pk, token, since=0, reconnect=False)
        async with contextlib.aclosing(stream):
            async for frame in stream:
                before.append(frame["seq"])
                if len(before) == 15:
                    await asyncio.to_thread(first.kill)  # no close frame: a crash
        resumed = stream_events(second.url, ecosystem.pk, token, since=before[-1])
        async with contextlib.aclosing(resumed):
            async for frame in resumed:
                after.append(frame["seq"])
                if frame["seq"] >= EVENTS:
                    break
        await asyncio.wait_for(writer, 30)
        return before, after

    before, after = async_to_sync(scenario)()
    assert len(before) >= 15
    assert before + after == list(range(1, EVENTS + 1))
