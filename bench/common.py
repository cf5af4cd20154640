"""Helpers shared by the benchmarks: a bench database, Daphne processes, percentiles, tables."""

import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH_SETTINGS = "ecosystem_project.settings.test"


BENCH_DATABASE = "ecosystem_bench"


def _use_bench_database() -> None:
    """Point DATABASE_URL (for this process and the servers it starts) at a database of the
    benchmarks' own, created on first use, so benchmark rows never mix with demo data."""
    import psycopg
    from psycopg import sql

    url = urlsplit(os.environ["DATABASE_URL"])
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"/{BENCH_DATABASE}"))
    connection = psycopg.connect(
        os.environ["DATABASE_URL"].replace(BENCH_DATABASE, "postgres"), autocommit=True
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
    connection.close()


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", BENCH_SETTINGS)
    # The benchmarks' workers and servers share the production queue name.
    os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", "ecosystem")
    # One cache namespace for the benchmark and the workers it starts (the test settings
    # would give each process its own).
    os.environ.setdefault("CACHE_KEY_PREFIX", "bench")
    # Serve as production does: pooled database connections.
    os.environ.setdefault("DATABASE_POOL", "1")
    # One bench user sends every request: measure capacity, not the per-user limit (6000/min).
    os.environ.setdefault("THROTTLE_RATE_INTERACTIONS", "1000000/min")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit(
            "Benchmarks run against the full stack: use `make bench` (loads var/services.env)."
        )
    _use_bench_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # Any answer will do: health says 503 when no Celery worker runs, which is fine.
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not answer within {timeout} s (see var/log/)")


class Servers(list[str]):
    """Base URLs of started servers, with their process ids (``pids``)."""

    pids: list[int]


@contextmanager
def daphne_servers(count: int) -> Iterator[Servers]:
    """Start ``count`` Daphne processes on free loopback ports; yield their base URLs
    (``.pids``: their process ids)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
    processes, urls = [], []
    try:
        log_dir = ROOT / "var" / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            port = free_port()
            log = open(log_dir / f"bench-daphne-{index}.log", "w")  # noqa: SIM115
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "daphne",
                        "-b",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "ecosystem_project.asgi:application",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_for_http(f"{url}/api/v1/health")
        servers = Servers(urls)
        servers.pids = [process.pid for process in processes]
        yield servers
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (Linux), None once the
    process has ended: [0] state, [1] parent, [11] utime, [12] stime, [13] cutime, [14]
    cstime, in clock ticks."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_seconds(pids: Sequence[int], *, ended_children_of: int | None = None) -> float:
    """User + system CPU time the processes ``pids`` have used so far, and that of the
    ended children of ``ended_children_of`` (one of them)."""
    ticks = 0
    for pid in pids:
        fields = _proc_stat(pid)
        if fields is not None:  # else ended: its time is in its parent's children's time
            ticks += int(fields[11]) + int(fields[12])
            if pid == ended_children_of:
                ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time PostgreSQL (a loopback server: this machine's) has used so far: the
    postmaster, its live backends and the backends that have ended."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    postmaster = _parent(backend)
    assert postmaster is not None
    running = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    children = [pid for pid in running if _parent(pid) == postmaster]
    return cpu_seconds([postmaster, *children], ended_children_of=postmaster)


def _parent(pid: int) -> int | None:
    fields = _proc_stat(pid)
    return int(fields[1]) if fields is not None else None


class LeanHTTPClient:
    """One keep-alive HTTP/1.1 connection that sends JSON POSTs and reads the answers with
    nothing but ``asyncio`` streams. The load generator shares the benchmark machine's cores
    with the servers it measures; httpx costs ~1.3 ms of CPU per request, this ~0.1 ms, so
    the throughput tables measure the servers rather than the client."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: object) -> tuple[int, dict[str, str], bytes]:
        """POST ``body`` as JSON; answer (status, lower-cased headers, body)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        data = json.dumps(body).encode()
        self.writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.head}"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data
        )
        status_line, *lines = (await self.reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            if name:
                headers[name.lower()] = value.strip()
        content = await self.reader.readexactly(int(headers.get("content-length", 0)))
        return int(status_line.split()[1]), headers, content

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    def cell(value: object) -> str:
        return f"{value:,.2f}" if isinstance(value, float) else str(value)

    text_rows = [[cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in text_rows:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def engine_warm_up() -> None:
    """Load what the engine loads on first use (the dialogue backend, the embedding model),
    as a worker or a web process does at start (ecosystem_project/celery.py, asgi.py), so
    that a timed run measures the engine and not a fresh process's imports."""
    from interactions.services import dialogue_backend
    from memories.services import embedder_ready

    dialogue_backend()
    embedder_ready()


# What the interaction benchmarks send: types weighted as a conversation runs, opening lines.
TYPES = ("greeting", "chat", "chat", "chat", "collaboration", "conflict")
LINES = (
    "Lovely evening for the festival, isn't it?",
    "Have you seen the lanterns by the pier?",
    "You never listen to anyone, do you?",
    "Let's finish the boats together before dusk.",
    "What do you think about the storm coming in?",
)


def payload(rng: random.Random, ids: list[str]) -> dict[str, str]:
    """One interaction's request body: two of ``ids``, a type and an opening line."""
    initiator, target = rng.sample(ids, 2)
    return {
        "initiator_id": initiator,
        "target_id": target,
        "interaction_type": rng.choice(TYPES),
        "content": rng.choice(LINES),
    }


def sociable_cast(
    *, username: str, ecosystem_name: str, name_prefix: str, size: int, seed: int
) -> tuple[str, list[str]]:
    """A fresh ecosystem of ``size`` characters for ``username`` (the previous one of that
    name deleted), personalities drawn from ``seed``: ``(ecosystem id, character ids)``."""
    from django.contrib.auth import get_user_model

    from characters.models import Ecosystem
    from characters.services import character_create, ecosystem_create

    user, _ = get_user_model().objects.get_or_create(username=username)
    Ecosystem.objects.filter(owner=user, name=ecosystem_name).delete()
    ecosystem = ecosystem_create(owner=user, name=ecosystem_name)
    rng = random.Random(seed)
    ids = []
    for index in range(size):
        character = character_create(
            ecosystem=ecosystem,
            name=f"{name_prefix} {index}",
            openness=rng.random(),
            conscientiousness=rng.random(),
            # Sociable enough that a long run does not exhaust them (see docs/models.md).
            extraversion=0.8 + 0.2 * rng.random(),
            agreeableness=rng.random(),
            neuroticism=rng.random(),
        )
        ids.append(str(character.pk))
    return str(ecosystem.pk), ids


def analyze_tables() -> None:
    """ANALYZE the bench database, as autovacuum does within a minute or so in a running
    system. Each benchmark deletes the rows of its previous run, so a table's statistics say
    "empty" when the next run starts; PostgreSQL then plans its lookups on the growing
    tables as sequential scans, and the connections keep those plans (prepared statements)
    until the next ANALYZE: the recall and the recent exchange took 2-4x their steady-state
    time. The benchmarks call this once the tables hold a warm-up's rows, and so measure the
    steady state (docs/architecture.md, "Performance")."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def play(request: dict[str, str]) -> bool:
    """One interaction of ``payload``'s shape through the engine, in this process: True
    when played, False when refused (too tired to talk: a refusal a client gets too)."""
    import uuid

    from interactions.services import InteractionRefused, interaction_process

    try:
        interaction_process(
            initiator_id=uuid.UUID(request["initiator_id"]),
            target_id=uuid.UUID(request["target_id"]),
            interaction_type=request["interaction_type"],
            content=request["content"],
        )
    except InteractionRefused:
        return False
    return True


def play_history(ids: list[str], count: int, *, seed: int = 7) -> None:
    """``count`` interactions among ``ids`` through the engine, in this process: a world
    that has been running (memories to recall, exchanges to read back), analyzed."""
    engine_warm_up()
    rng = random.Random(seed)
    for _ in range(count):
        play(payload(rng, ids))
    analyze_tables()


def refill_energy(ecosystem_id: str) -> None:
    """Every character of the ecosystem rested and active again."""
    from characters.models import Character

    Character.objects.filter(ecosystem_id=ecosystem_id).update(energy=1.0, status="active")
