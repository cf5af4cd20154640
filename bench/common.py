"""Helpers shared by the benchmarks: a bench database, Daphne processes, percentiles, tables."""

import os
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


@contextmanager
def daphne_servers(count: int) -> Iterator[list[str]]:
    """Start ``count`` Daphne processes on free loopback ports; yield their base URLs."""
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
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


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
