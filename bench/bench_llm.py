"""The scenario clock with a slow language model: 20 and 100 scenarios, model latency 0.5 s
and 2 s, one Celery worker.

A simulated OpenAI-compatible model (``bench.llm_standin``, in a thread of this process)
answers every chat completion after the cell's latency; the worker's dialogue backend is
``openai`` pointed at it. Prints one table: turns/s and the lateness of the turns per cell.

    set -a; . var/services.env; set +a
    .venv/bin/python -m bench.bench_llm [--scenarios 20,100] [--latencies 0.5,2]
        [--seconds 12] [--warmup 3] [--concurrency 4]

Starts its own Celery worker (prefork) and beat on a Redis database of their own, in the
benchmarks' database (bench.common); everything it creates is deleted. Every cell has
scenarios of its own, ticking every second, started when the cell starts and ended when it
ends; one worker and one beat serve all cells (the model's latency changes between cells).

A turn is claimed when due, then its two lines (the opening, then the reply) are generated,
then it is written. Two lateness figures, with the due times replayed by the clock's own
rule (``scenarios.services._next_tick``: next due = previous due + tick, or claim + tick
when that has passed), from each scenario's first due time:

- "late": the claim's lateness (what the clock controls; the clock's
  ``ecosystem_scenario_tick_lateness_seconds``), the claim taken as the Interaction's
  ``created`` minus the two model latencies (the stand-in's latency is exact, so this
  overstates it by the claim's and the apply's own milliseconds);
- "written": the Interaction's ``created`` - due, what a watcher sees (two latencies more).

With a latency above half the tick no scenario can play every second: compare turns/s with
"wanted/s" (one turn per scenario per second). The turns written in the first
``--warmup`` seconds of a cell are played but not measured; every turn written after them
is, however late it was due.
"no turn": scenarios that played no turn at all in the cell.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.bench_scenarios import start_cluster, stop_cluster
from bench.common import print_table, setup_django, summary
from bench.llm_standin import LLMStandIn

BENCH_REDIS_DB = 14  # its own broker database (bench_scenarios 12, bench_graph_lag 13)
WORKER_START_SECONDS = 4.0
TICK_SECONDS = 1.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="20,100", help="comma-separated counts")
    parser.add_argument("--latencies", default="0.5,2", help="comma-separated seconds")
    parser.add_argument("--seconds", type=float, default=12.0, help="measured per cell")
    parser.add_argument("--warmup", type=float, default=3.0, help="played, not measured")
    parser.add_argument("--concurrency", type=int, default=4, help="worker pool processes")
    parser.add_argument("--cast", type=int, default=3, help="characters per scenario")
    return parser.parse_args()


def end_scenarios(scenario_ids: list) -> None:
    """End them without queueing behind the clock: one plain UPDATE would wait on each row
    a turn holds while the clock keeps claiming the rows it has not reached yet. First every
    row no turn holds (SKIP LOCKED), then the few in flight, waiting for their turns."""
    from django.db import connection, transaction

    from scenarios.models import Scenario

    table = Scenario._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, next_tick_at = NULL WHERE id IN ("
            f"SELECT id FROM {table} WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED)",
            [Scenario.Status.ENDED, list(scenario_ids)],
        )
    Scenario.objects.filter(pk__in=scenario_ids).exclude(status=Scenario.Status.ENDED).update(
        status=Scenario.Status.ENDED, next_tick_at=None
    )


def main() -> int:
    args = parse_args()
    began = time.monotonic()
    counts = [int(value) for value in args.scenarios.split(",")]
    latencies = [float(value) for value in args.latencies.split(",")]
    model = LLMStandIn(latency=latencies[0]).start()
    # The worker and beat copy this environment; the clock's turns ask the stand-in.
    os.environ.update(
        {
            "DIALOGUE_BACKEND": "openai",
            "DIALOGUE_OPENAI_BASE_URL": model.base_url,
            "DIALOGUE_OPENAI_MODEL": model.model,
            "DIALOGUE_OPENAI_API_KEY": "",
            # Far above every latency: a timeout would let the template speak instead.
            "DIALOGUE_TIMEOUT_SECONDS": str(5 * max(latencies) + 5),
        }
    )
    setup_django()

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from characters.models import Character, Ecosystem
    from characters.services import character_create, ecosystem_create
    from interactions.models import Interaction
    from scenarios.models import Scenario
    from scenarios.services import scenario_create

    user, _ = get_user_model().objects.get_or_create(username="bench-llm")
    Ecosystem.objects.filter(owner=user).delete()
    ecosystem = ecosystem_create(owner=user, name="bench-llm")
    rng = random.Random(9)
    # One set of scenarios per count, played again in each latency's cell (a fresh schedule;
    # each cell measures only the turns written during it).
    sets: dict[int, list] = {}
    with transaction.atomic():  # one commit for the whole cast, not one per character
        for set_index, count in enumerate(counts):
            ids = []
            for index in range(count):
                cast = [
                    character_create(
                        ecosystem=ecosystem,
                        name=f"L{set_index} S{index} C{member}",
                        openness=rng.random(),
                        conscientiousness=rng.random(),
                        # Sociable and agreeable, as in bench_scenarios: nobody has to rest.
                        extraversion=0.9 + 0.1 * rng.random(),
                        agreeableness=0.6 + 0.4 * rng.random(),
                        neuroticism=0.4 * rng.random(),
                    )
                    for member in range(args.cast)
                ]
                scenario = scenario_create(
                    ecosystem=ecosystem,
                    participants=cast,
                    title=f"Bench LLM {set_index}.{index}",
                    mood="cheerful and cooperative",
                    objectives=["keep the harbor running"],
                    duration_minutes=60,
                    tick_seconds=TICK_SECONDS,
                    seed=index,
                    now=timezone.now() + timedelta(days=1),  # not due until its cell starts
                )
                ids.append(scenario.pk)
            sets[count] = ids
    cells = [(latency, count) for latency in latencies for count in counts]
    set_up = time.monotonic() - began
    workdir = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    processes = start_cluster(workdir, args.concurrency, name="bench-llm", redis_db=BENCH_REDIS_DB)
    rows = []
    notes = []
    try:
        time.sleep(WORKER_START_SECONDS)  # worker and beat up, pool processes forked
        for latency, count in cells:
            cell_began = time.monotonic()
            scenario_ids = sets[count]
            model.latency = latency
            model.reset_counters()
            first_due = timezone.now() + timedelta(seconds=1)
            schedule = {}
            for index, scenario_id in enumerate(scenario_ids):
                due = first_due + timedelta(seconds=index / len(scenario_ids))
                Scenario.objects.filter(pk=scenario_id).update(
                    status=Scenario.Status.ACTIVE, next_tick_at=due, resumed_at=due
                )
                schedule[scenario_id] = due
            measure_from = first_due + timedelta(seconds=args.warmup)
            time.sleep(1.0 + args.warmup)
            requests_before = model.requests
            started = time.monotonic()  # ~measure_from
            time.sleep(args.seconds)
            elapsed = time.monotonic() - started
            requests = model.requests - requests_before
            stopped_at = timezone.now()
            end_scenarios(scenario_ids)
            # Let the turns in flight finish before the next cell changes the latency.
            deadline = time.monotonic() + 2 * latency + 3
            while model.in_flight and time.monotonic() < deadline:
                time.sleep(0.1)

            # Every turn written in the measured window counts, however late (a clock that
            # cannot keep up shows as lateness growing through the window).
            claim_late_ms: list[float] = []
            written_late_ms: list[float] = []
            turns_per_scenario = []
            tick = timedelta(seconds=TICK_SECONDS)
            generation = timedelta(seconds=2 * latency)  # the opening, then the reply
            for scenario_id in scenario_ids:
                played_at = list(
                    Interaction.objects.filter(
                        scenario_id=scenario_id, created__gte=first_due, created__lte=stopped_at
                    )
                    .order_by("turn")
                    .values_list("created", flat=True)
                )
                due = schedule[scenario_id]
                for created in played_at:
                    claimed = created - generation
                    if created >= measure_from:
                        claim_late_ms.append(max(0.0, (claimed - due).total_seconds() * 1000))
                        written_late_ms.append((created - due).total_seconds() * 1000)
                    # The clock's rule (scenarios.services._next_tick), from the claim.
                    due = due + tick if due + tick > claimed else claimed + tick
                turns_per_scenario.append(len(played_at))
            claim = summary(claim_late_ms)
            written = summary(written_late_ms)
            turns = len(claim_late_ms)
            rows.append(
                [
                    count,
                    f"{latency:g} s",
                    turns,
                    turns / elapsed,
                    count / TICK_SECONDS,
                    claim["p50"],
                    claim["p95"],
                    claim["p99"],
                    written["p50"],
                    written["p95"],
                    sum(1 for n in turns_per_scenario if n == 0),
                    requests / elapsed,
                    model.peak_in_flight,
                ]
            )
            notes.append(
                f"{count} scenarios at {latency:g} s: turns per scenario in the whole cell "
                f"{min(turns_per_scenario)}..{max(turns_per_scenario)} "
                f"({time.monotonic() - cell_began:.0f} s)"
            )
    finally:
        log_size_at_stop = (workdir / "worker.log").stat().st_size
        played = time.monotonic() - began - set_up
        stop_cluster(processes)
        model.stop()

    print_table(
        f"Scenario clock with a simulated model: tick {TICK_SECONDS:g} s, one worker "
        f"(prefork x{args.concurrency}), {args.seconds:g} s measured per cell after "
        f"{args.warmup:g} s; lateness of the turn's claim and of its Interaction, in ms",
        [
            "scenarios",
            "model",
            "turns",
            "turns/s",
            "wanted/s",
            "late p50",
            "p95",
            "p99",
            "written p50",
            "p95",
            "no turn",
            "model req/s",
            "in flight max",
        ],
        rows,
    )
    for note in notes:
        print(note)
    with (workdir / "worker.log").open("rb") as log:
        worker_log = log.read(log_size_at_stop).decode(errors="replace")
    errors = [line for line in worker_log.splitlines() if "ERROR" in line]
    fallbacks = worker_log.count("Dialogue backend")
    if fallbacks:
        print(f"the template spoke instead of the model {fallbacks} time(s) (see the worker log)")
    if errors:
        print(f"worker logged {len(errors)} error line(s); the first with its traceback:")
        lines = worker_log.splitlines()
        first = lines.index(errors[0])
        print("\n".join(lines[first : first + 40]))

    Character.objects.filter(ecosystem=ecosystem).delete()
    ecosystem.delete()
    shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"set-up {set_up:.0f} s, cells {played:.0f} s, "
        f"the rest {time.monotonic() - began - set_up - played:.0f} s"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
