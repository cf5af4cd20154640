"""Fixtures of the observatory tests: a real Daphne server process."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.subprocesses import free_port, subprocess_database_url

ROOT = Path(__file__).resolve().parents[2]


class DaphneServer:
    """``daphne ecosystem_project.asgi:application`` on a loopback port, on the test database."""

    def __init__(self, log_path: Path, extra_env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ecosystem_project.settings.test",
            "DATABASE_URL": subprocess_database_url(),
            **extra_env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "ecosystem_project.asgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
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
        """Die at once, as a crash or an OOM kill would: no close frames."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


@pytest.fixture
def daphne(transactional_db, tmp_path) -> Iterator[Callable[..., DaphneServer]]:
    servers: list[DaphneServer] = []

    def start(**extra_env: str) -> DaphneServer:
        server = DaphneServer(tmp_path / f"daphne-{len(servers)}.log", extra_env)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()
