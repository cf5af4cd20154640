"""One interaction through the REST API, full stack, default dialogue backend.

Targets (issue #3): server time p50 <= 10 ms and p99 <= 30 ms with one client; at least
200 interactions/s sustained with two Daphne processes.
Server time is the app's own ``Server-Timing`` header; round trip adds the client and loopback.
The sustained run keeps 16 keep-alive connections busy for 30 s from a raw-socket client
(``LeanHTTPClient``: the load generator shares the two cores with what it measures) over a
cast of 1,000, so that few characters talk themselves too tired (409) in the run; any answer
other than 201 or 409 stops the benchmark. The graph sync is queued as in production (at
most one pending task per ecosystem); no Celery worker runs it here (bench_graph_lag
measures that path). The CPU time both Daphne processes and PostgreSQL spend in the run is
printed per interaction, a figure that moves less than the rate on a shared machine.
Another table runs the engine without HTTP (``interaction_process`` in
two processes, as the scenario clock's workers call it), to tell the engine's cost from the
web stack's, and a last one times the engine's three steps (plan, generate, apply).
Before anything is measured the cast plays ``HISTORY`` interactions in process and the
database is analyzed (``bench.common.play_history``): the steady state of a running world,
not the first minute of empty tables.
"""

import asyncio
import itertools
import multiprocessing
import random
import time
import uuid

import httpx

from bench.common import (
    LeanHTTPClient,
    cpu_seconds,
    daphne_servers,
    engine_warm_up,
    payload,
    play,
    play_history,
    postgres_cpu_seconds,
    print_table,
    refill_energy,
    setup_django,
    sociable_cast,
    summary,
)

# Enough characters that 30 seconds at ~200/s do not talk many to exhaustion (409).
CAST_SIZE = 1000
SEQUENTIAL_REQUESTS = 400
WARMUP_REQUESTS = 40
THROUGHPUT_SECONDS = 30.0
# Shorter: without HTTP the cast talks itself tired (409 too_tired) within ~10 s.
ENGINE_SECONDS = 5.0
CONCURRENCY = 16
PASSWORD = "bench-password-1"
# Interactions played before anything is measured: a world that has been running.
HISTORY = 1000


def prepare_cast() -> tuple[str, list[str]]:
    from django.contrib.auth import get_user_model

    ecosystem_id, ids = sociable_cast(
        username="bench",
        ecosystem_name="bench-interactions",
        name_prefix="Bencher",
        size=CAST_SIZE,
        seed=1,
    )
    user = get_user_model().objects.get(username="bench")
    user.set_password(PASSWORD)
    user.save()
    play_history(ids, HISTORY)
    refill_energy(ecosystem_id)
    return ecosystem_id, ids


def token(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/api/v1/auth/token", json={"username": "bench", "password": PASSWORD}
    )
    response.raise_for_status()
    return str(response.json()["access"])


def server_ms(headers: httpx.Headers | dict[str, str]) -> float:
    return float(headers["server-timing"].split("dur=")[1])


def sequential(base_url: str, ids: list[str]) -> tuple[list[float], list[float], int]:
    rng = random.Random(2)
    server, round_trip, refused = [], [], 0
    headers = {"Authorization": f"Bearer {token(base_url)}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        for index in range(WARMUP_REQUESTS + SEQUENTIAL_REQUESTS):
            started = time.perf_counter()
            response = client.post("/api/v1/interactions", json=payload(rng, ids))
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 201:
                refused += 1
                continue
            if index >= WARMUP_REQUESTS:
                server.append(server_ms(response.headers))
                round_trip.append(elapsed)
    return server, round_trip, refused


async def throughput(base_urls: list[str], ids: list[str]) -> tuple[int, int, float, list[float]]:
    """CONCURRENCY clients, each on its own keep-alive connection, spread over the servers."""
    headers = {"Authorization": f"Bearer {token(base_urls[0])}"}
    clients = [
        LeanHTTPClient(url, headers)
        for url, _ in zip(itertools.cycle(base_urls), range(CONCURRENCY), strict=False)
    ]
    ok = refused = 0
    server: list[float] = []
    deadline = time.perf_counter() + THROUGHPUT_SECONDS

    async def worker(client: LeanHTTPClient, seed: int) -> None:
        nonlocal ok, refused
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            status, answer_headers, body = await client.post(
                "/api/v1/interactions", payload(rng, ids)
            )
            if status == 201:
                ok += 1
                server.append(server_ms(answer_headers))
            elif status == 409:  # too tired to talk: a refusal the engine is right to give
                refused += 1
            else:
                raise RuntimeError(f"POST /api/v1/interactions answered {status}: {body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(client, seed) for seed, client in enumerate(clients)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return ok, refused, elapsed, server


def engine_worker(ids: list[str], seed: int, seconds: float) -> tuple[int, int]:
    """One process calling the engine directly for ``seconds``: (played, refused)."""
    setup_django()
    engine_warm_up()  # before the clock starts
    rng = random.Random(seed)
    played = refused = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if play(payload(rng, ids)):
            played += 1
        else:
            refused += 1
    return played, refused


def engine_steps(ids: list[str], count: int = 300) -> dict[str, list[float]]:
    """One interaction at a time in this process, each of its three steps timed (ms): where
    the engine's time goes (docs/architecture.md, "One interaction")."""
    from interactions.services import (
        InteractionRefused,
        interaction_apply,
        interaction_generate,
        interaction_plan,
    )

    engine_warm_up()
    rng = random.Random(3)
    steps: dict[str, list[float]] = {"plan": [], "generate": [], "apply": [], "all": []}
    for index in range(WARMUP_REQUESTS + count):
        request = payload(rng, ids)
        started = time.perf_counter()
        try:
            plan = interaction_plan(
                initiator_id=uuid.UUID(request["initiator_id"]),
                target_id=uuid.UUID(request["target_id"]),
                interaction_type=request["interaction_type"],
                content=request["content"],
            )
            planned = time.perf_counter()
            lines = interaction_generate(plan=plan)
            generated = time.perf_counter()
            interaction_apply(plan=plan, lines=lines, started=started)
        except InteractionRefused:
            continue
        applied = time.perf_counter()
        if index >= WARMUP_REQUESTS:
            for name, seconds in (
                ("plan", planned - started),
                ("generate", generated - planned),
                ("apply", applied - generated),
                ("all", applied - started),
            ):
                steps[name].append(seconds * 1000)
    return steps


def engine_throughput(ids: list[str], processes: int = 2) -> tuple[int, int]:
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(
            engine_worker, [(ids, seed, ENGINE_SECONDS) for seed in range(processes)]
        )
    return sum(played for played, _ in results), sum(refused for _, refused in results)


def main() -> None:
    setup_django()
    ecosystem_id, ids = prepare_cast()
    with daphne_servers(1) as urls:
        server, round_trip, refused_seq = sequential(urls[0], ids)
    refill_energy(ecosystem_id)
    with daphne_servers(2) as urls:
        cpu_before = cpu_seconds(urls.pids), postgres_cpu_seconds()
        ok, refused, elapsed, server_concurrent = asyncio.run(throughput(urls, ids))
        web_cpu = cpu_seconds(urls.pids) - cpu_before[0]
        postgres_cpu = postgres_cpu_seconds() - cpu_before[1]
    refill_energy(ecosystem_id)
    engine_played, engine_refused = engine_throughput(ids)
    refill_energy(ecosystem_id)
    steps = engine_steps(ids)

    seq_server, seq_round = summary(server), summary(round_trip)
    conc = summary(server_concurrent)
    print_table(
        "Interactions through POST /api/v1/interactions (ms)",
        ["measure", "n", "p50", "p95", "p99", "target"],
        [
            [
                "server time, 1 client",
                seq_server["n"],
                seq_server["p50"],
                seq_server["p95"],
                seq_server["p99"],
                "p50<=10 p99<=30",
            ],
            [
                "round trip, 1 client",
                seq_round["n"],
                seq_round["p50"],
                seq_round["p95"],
                seq_round["p99"],
                "",
            ],
            [
                f"server time, {CONCURRENCY} clients / 2 Daphne",
                conc["n"],
                conc["p50"],
                conc["p95"],
                conc["p99"],
                "",
            ],
        ],
    )
    print_table(
        "Sustained rate, two Daphne processes",
        ["seconds", "interactions", "refused (409)", "interactions/s", "target"],
        [[round(elapsed, 1), ok, refused, ok / elapsed, ">= 200/s"]],
    )
    # CPU per interaction moves less than the rate when the shared machine is slow for a
    # while, so it tells a change's effect from the machine's.
    print_table(
        "CPU time per interaction in that run (ms; two cores = 2,000 ms per second)",
        ["web (both Daphne)", "PostgreSQL", "together", "cores busy"],
        [
            [
                1000 * web_cpu / max(ok, 1),
                1000 * postgres_cpu / max(ok, 1),
                1000 * (web_cpu + postgres_cpu) / max(ok, 1),
                (web_cpu + postgres_cpu) / elapsed,
            ]
        ],
    )
    print_table(
        "The engine without HTTP: interaction_process in two worker processes",
        ["seconds", "interactions", "refused (409)", "interactions/s"],
        [
            [
                ENGINE_SECONDS,
                engine_played,
                engine_refused,
                engine_played / ENGINE_SECONDS,
            ]
        ],
    )
    print_table(
        "The engine's steps, one interaction at a time in this process (ms)",
        ["step", "n", "p50", "p95", "p99"],
        [
            [name, (row := summary(times))["n"], row["p50"], row["p95"], row["p99"]]
            for name, times in steps.items()
        ],
    )
    if refused_seq:
        print(f"(sequential phase: {refused_seq} refused)")


if __name__ == "__main__":
    main()
