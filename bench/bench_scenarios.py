"""The scenario clock under load: 100 scenarios ticking every second on one Celery worker.

Target (issue #5): tick lateness p95 <= 250 ms and no scenario starved. Prints turns/s and
lateness percentiles.

    set -a; . var/services.env; set +a
    .venv/bin/python -m bench.bench_scenarios [--scenarios 100] [--seconds 30] [--warmup 5]
        [--concurrency 4]

Starts its own Celery worker (prefork, one process tree) and beat on a Redis database of
their own, in the benchmarks' database (bench.common); everything it creates is deleted.

Lateness of a turn = when its Interaction was written - when the turn was due, the due
times replayed with the clock's own rule (next due = previous due + tick, or written + tick
when that has passed). A clock that cannot keep up shows as "starved" scenarios (fewer
turns than seconds run) rather than as ever-growing lateness. The first turns are
staggered over one second, as scenarios started at different moments are. Turns due in
the first ``--warmup`` seconds (pool processes still cold: first connection, lexicons)
are played but not measured; the database is analyzed at the warm-up's end
(``bench.common.analyze_tables``), so the run measures the steady state.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.common import ROOT, analyze_tables, print_table, setup_django, summary

TARGET_P95_MS = 250.0
BENCH_REDIS_DB = 12
WARMUP_SECONDS = 3.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured run time")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds played before measuring starts"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="worker pool processes")
    parser.add_argument("--cast", type=int, default=3, help="characters per scenario")
    return parser.parse_args()


def start_cluster(
    workdir: Path,
    concurrency: int,
    *,
    name: str = "bench-scenarios",
    redis_db: int = BENCH_REDIS_DB,
) -> list[subprocess.Popen]:
    """A prefork worker and beat on their own Redis database, logging under ``workdir``."""
    redis_url = urlsplit(os.environ["REDIS_URL"])
    env = {
        **os.environ,
        "REDIS_URL": urlunsplit(redis_url._replace(path=f"/{redis_db}")),
        "PYTHONUNBUFFERED": "1",
    }
    celery = str(Path(sys.executable).with_name("celery"))
    commands = {
        "worker": [
            celery, "-A", "ecosystem_project", "worker", "--pool=prefork",
            f"--concurrency={concurrency}", "-Q", "ecosystem", "-n", f"{name}@%h",
            "--without-gossip", "--without-mingle", "--loglevel=WARNING",
        ],
        "beat": [
            celery, "-A", "ecosystem_project", "beat", f"--schedule={workdir / 'schedule'}",
            f"--pidfile={workdir / 'beat.pid'}", "--max-interval=1", "--loglevel=WARNING",
        ],
    }  # fmt: skip
    processes = []
    for name, command in commands.items():
        log = (workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
    return processes


def stop_cluster(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def main() -> int:
    args = parse_args()
    setup_django()

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from characters.models import Character, Ecosystem
    from characters.services import character_create, ecosystem_create
    from interactions.models import Interaction
    from scenarios.models import Scenario
    from scenarios.services import scenario_create

    user, _ = get_user_model().objects.get_or_create(username="bench-scenarios")
    Ecosystem.objects.filter(owner=user).delete()
    ecosystem = ecosystem_create(owner=user, name="bench-scenarios")
    rng = random.Random(5)
    scenario_ids = []
    for index in range(args.scenarios):
        cast = [
            character_create(
                ecosystem=ecosystem,
                name=f"S{index} C{member}",
                openness=rng.random(),
                conscientiousness=rng.random(),
                # Sociable, agreeable people in a cheerful mood argue rarely and nobody has
                # to rest within the run: a resting cast skips turns by design (see
                # docs/models.md, "Energy"), which would read here as a starved scenario.
                extraversion=0.9 + 0.1 * rng.random(),
                agreeableness=0.6 + 0.4 * rng.random(),
                neuroticism=0.4 * rng.random(),
            )
            for member in range(args.cast)
        ]
        scenario = scenario_create(
            ecosystem=ecosystem,
            participants=cast,
            title=f"Bench {index}",
            mood="cheerful and cooperative",
            objectives=["keep the harbor running"],
            duration_minutes=60,
            tick_seconds=1.0,
            seed=index,
            now=timezone.now() + timedelta(days=1),  # not due until the cluster is up
        )
        scenario_ids.append(scenario.pk)

    workdir = Path(tempfile.mkdtemp(prefix="bench-scenarios-"))
    processes = start_cluster(workdir, args.concurrency)
    try:
        time.sleep(WARMUP_SECONDS)  # worker and beat up, pool processes forked
        first_due = timezone.now() + timedelta(seconds=1)
        schedule = {}
        for index, scenario_id in enumerate(scenario_ids):
            due = first_due + timedelta(seconds=index / len(scenario_ids))
            Scenario.objects.filter(pk=scenario_id).update(next_tick_at=due, resumed_at=due)
            schedule[scenario_id] = due
        measure_from = first_due + timedelta(seconds=args.warmup)
        time.sleep(max(args.warmup - 1.0, 0.0))
        analyze_tables()  # the tables hold the warm-up's turns now (see analyze_tables)
        time.sleep(max((measure_from - timezone.now()).total_seconds(), 0.0) + 1.0)
        started = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - started
        Scenario.objects.filter(pk__in=scenario_ids).update(status=Scenario.Status.ENDED)
        stopped_at = timezone.now()
    finally:
        log_size_at_stop = (workdir / "worker.log").stat().st_size
        stop_cluster(processes)

    # What the worker logged while it ran (a task cut short by our own shutdown is no error).
    with (workdir / "worker.log").open("rb") as log:
        worker_log = log.read(log_size_at_stop).decode(errors="replace")
    lateness_ms: list[float] = []
    turns_per_scenario = []
    tick = timedelta(seconds=1)
    for scenario_id in scenario_ids:
        played_at = list(
            Interaction.objects.filter(scenario_id=scenario_id)
            .order_by("turn")
            .values_list("created", flat=True)
        )
        # The clock's own rule (scenarios.services._next_tick): the next turn is
        # due one tick after this one was due, or one tick after now when that has passed.
        due = schedule[scenario_id]
        measured = 0
        for created in played_at:
            if due >= measure_from:
                lateness_ms.append((created - due).total_seconds() * 1000)
                measured += 1
            due = due + tick if due + tick > created else created + tick
        turns_per_scenario.append(measured)
    expected_turns = [
        int((stopped_at - max(due, measure_from)).total_seconds()) for due in schedule.values()
    ]
    starved = sum(
        1
        for played, expected in zip(turns_per_scenario, expected_turns, strict=True)
        if played < expected - 1
    )
    total_turns = sum(turns_per_scenario)
    stats = summary(lateness_ms)
    print_table(
        f"{args.scenarios} scenarios, tick 1 s, one worker (prefork x{args.concurrency}), "
        f"{args.seconds:.0f} s measured after {args.warmup:.0f} s of warm-up",
        ["turns", "turns/s", "lateness p50 ms", "p95 ms", "p99 ms", "max ms", "starved"],
        [
            [
                total_turns,
                total_turns / elapsed,
                stats["p50"],
                stats["p95"],
                stats["p99"],
                max(lateness_ms, default=float("nan")),
                starved,
            ]
        ],
    )
    print(
        f"turns per scenario: min {min(turns_per_scenario)}, max {max(turns_per_scenario)} "
        f"(expected ~{min(expected_turns)}..{max(expected_turns)})"
    )
    errors = [line for line in worker_log.splitlines() if "ERROR" in line]
    if errors:
        print(f"worker logged {len(errors)} error line(s); the first with its traceback:")
        lines = worker_log.splitlines()
        first = lines.index(errors[0])
        print("\n".join(lines[first : first + 40]))

    Character.objects.filter(ecosystem=ecosystem).delete()
    ecosystem.delete()
    shutil.rmtree(workdir, ignore_errors=True)
    ok = stats["p95"] <= TARGET_P95_MS and starved == 0
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms, none starved: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
