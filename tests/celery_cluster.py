"""A real Celery cluster for the tests: two worker processes and beat, on Redis, over
pytest's PostgreSQL test database (imported as a fixture by tests/conftest.py).

The cluster gets a Redis database of its own (``SCENARIO_TEST_REDIS_DB``, default 11) so
that no other worker on the machine takes its clock ticks, and each worker a PostgreSQL
``application_name`` (``PGAPPNAME``) so that a test can see which worker is inside a turn.
Tests using it must be ``django_db(transaction=True)``: the workers only see committed rows.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from tests.subprocesses import subprocess_database_url, with_redis_db

REPO_ROOT = Path(__file__).resolve().parents[1]
CLUSTER_REDIS_DB = int(os.environ.get("SCENARIO_TEST_REDIS_DB", "11"))
WORKER_NAMES = ("scenario-worker-a", "scenario-worker-b")
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


@dataclass
class CeleryCluster:
    """Worker and beat subprocesses sharing one environment; logs under ``workdir``."""

    workdir: Path
    env: dict[str, str]
    broker_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.control = Celery("scenario-tests", broker=self.broker_url, set_as_current=False)
        self.control.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
        self.control.conf.broker_connection_retry_on_startup = True

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def log(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def _spawn(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> None:
        env = {**self.env, "PGAPPNAME": name, **(extra_env or {})}
        with self.log_path(name).open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [str(Path(sys.executable).with_name("celery")), "-A", "ecosystem_project", *args],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_worker(self, name: str, *, wait: bool = True) -> None:
        self._spawn(
            name,
            [
                "worker",
                "--pool=threads",
                "--concurrency=2",
                "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
        )
        if wait:
            self.wait_for_workers({name})

    def start_beat(self) -> None:
        self._spawn(
            "beat",
            [
                "beat",
                f"--schedule={self.workdir / 'beat-schedule'}",
                f"--pidfile={self.workdir / 'beat.pid'}",
                "--max-interval=1",
                "--loglevel=INFO",
            ],
        )

    def wait_for_beat(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Until beat has sent its first clock tick (the schedule is running)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Sending due task scenario-clock" in self.log("beat"):
                return
            if self.processes["beat"].poll() is not None:
                raise RuntimeError(f"beat exited:\n{self.log('beat')}")
            time.sleep(0.1)
        raise RuntimeError(f"beat sent no clock tick in {timeout} s:\n{self.log('beat')}")

    def wait_for_workers(self, names: set[str], timeout: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in names:
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}):\n{self.log(name)}")
            replies = self.control.control.ping(timeout=0.5) or []
            answered = {next(iter(reply)).split("@")[0] for reply in replies}
            if names <= answered:
                return
        raise RuntimeError(f"{names} did not answer a ping in {timeout} s")

    def kill(self, name: str) -> None:
        """SIGKILL: no warm shutdown, no ack, no rollback by the worker itself."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        self.control.close()

    def tick(self) -> None:
        """One extra clock tick, besides beat's, to make workers race for scenarios."""
        self.control.send_task("scenarios.clock_tick", queue=settings.CELERY_TASK_DEFAULT_QUEUE)


# Module scope: the cluster's beat plays every due scenario of the test database, so it must
# not outlive the tests that asked for it (other modules tick the clock by hand).
@pytest.fixture(scope="module")
def celery_cluster(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[CeleryCluster]:
    if not settings.REDIS_URL or connection.vendor != "postgresql":
        pytest.fail("the Celery tests need Redis and PostgreSQL: run them with `make test`")
    workdir = tmp_path_factory.mktemp("celery-cluster")
    broker_url = with_redis_db(settings.REDIS_URL, CLUSTER_REDIS_DB)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecosystem_project.settings.test",
        "DATABASE_URL": subprocess_database_url(),
        "REDIS_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        # Short-lived connections: none is left open when pytest drops the test database.
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    cluster = CeleryCluster(workdir=workdir, env=env, broker_url=broker_url)
    # Stale messages from an earlier, interrupted run must not be replayed.
    with cluster.control.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    try:
        for name in WORKER_NAMES:
            cluster.start_worker(name, wait=False)
        cluster.wait_for_workers(set(WORKER_NAMES))
        cluster.start_beat()
        cluster.wait_for_beat()
        yield cluster
    finally:
        cluster.stop_all()
        if os.environ.get("KEEP_CELERY_LOGS"):
            print(f"Celery logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
