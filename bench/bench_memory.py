"""Memory on the interaction's hot path: what recall, the exchange's embedding and forming
the two memories add to one interaction (issue 14: <= 3 ms on the p50).

python -m bench memory   (the full stack: var/services.env loaded)

The engine runs in this process (``interaction_process``, as a scenario worker or the API
view calls it), one interaction at a time over a cast of 40, template dialogue. First a
warm-up gives every character a stream of memories (recall then scores real candidates).
Then blocks of 10 interactions alternate between memory on (the defaults) and memory off
(``MEMORY_RECALL_K=0`` and ``MEMORY_RETENTION_PER_CHARACTER=0``: no recall, no embedding of
the exchange, nothing formed), so both modes see the same machine load. Lore retrieval runs
in both modes (a separate measure below times it alone). A last table times the memory
steps alone: ``memories_recall`` for the two speakers and ``memory_embedding``.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, datetime

from bench.common import (
    LINES,
    TYPES,
    percentile,
    print_table,
    refill_energy,
    setup_django,
    sociable_cast,
    summary,
)

CAST_SIZE = 40
WARMUP_INTERACTIONS = int(os.environ.get("MEMORY_BENCH_WARMUP", "800"))
BLOCKS = int(os.environ.get("MEMORY_BENCH_BLOCKS", "40"))
BLOCK_SIZE = 10
MEMORY_OFF = {"MEMORY_RECALL_K": 0, "MEMORY_RETENTION_PER_CHARACTER": 0}


def prepare_cast() -> tuple[str, list[uuid.UUID]]:
    ecosystem_id, ids = sociable_cast(
        username="bench-memory",
        ecosystem_name="bench-memory",
        name_prefix="Rememberer",
        size=CAST_SIZE,
        seed=10,
    )
    return ecosystem_id, [uuid.UUID(pk) for pk in ids]


def play(ids: list[uuid.UUID], rng: random.Random, count: int, ecosystem_id: str) -> list[float]:
    """``count`` interactions one after another: each one's wall time in ms."""
    from interactions.services import InteractionRefused, interaction_process

    times = []
    for _ in range(count):
        initiator, target = rng.sample(ids, 2)
        started = time.perf_counter()
        try:
            interaction_process(
                initiator_id=initiator,
                target_id=target,
                interaction_type=rng.choice(TYPES),
                content=rng.choice(LINES),
            )
        except InteractionRefused:
            refill_energy(ecosystem_id)
            continue
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    setup_django()
    from django.test import override_settings

    from lore.selectors import lore_retrieve
    from memories.models import Memory
    from memories.services import embedder_ready, memories_recall, memory_embedding

    embedder_ready()  # loaded before anything is timed
    ecosystem_id, ids = prepare_cast()
    rng = random.Random(14)
    try:
        play(ids, rng, WARMUP_INTERACTIONS, ecosystem_id)
        refill_energy(ecosystem_id)
        memories = Memory.objects.filter(ecosystem_id=ecosystem_id).count()
        on: list[float] = []
        off: list[float] = []
        for block in range(BLOCKS):
            if block % 2:
                with override_settings(**MEMORY_OFF):
                    off += play(ids, rng, BLOCK_SIZE, ecosystem_id)
            else:
                on += play(ids, rng, BLOCK_SIZE, ecosystem_id)
            if block % 10 == 9:
                refill_energy(ecosystem_id)

        recall_ms, embed_ms, lore_ms = [], [], []
        now = datetime.now(UTC)
        for _ in range(300):
            speaker, listener = rng.sample(ids, 2)
            query = f"Rememberer chat {rng.choice(LINES)}"
            started = time.perf_counter()
            memories_recall(
                pairs=[(speaker, listener), (listener, speaker)], query_text=query, now=now
            )
            recall_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            memory_embedding(f"{rng.choice(LINES)} {rng.choice(LINES)}")
            embed_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            lore_retrieve(ecosystem_id, query, 2, character_id=speaker)
            lore_ms.append((time.perf_counter() - started) * 1000)
    finally:
        from characters.models import Ecosystem

        Ecosystem.objects.filter(pk=ecosystem_id).delete()

    load = os.getloadavg()[0]
    on_summary, off_summary = summary(on), summary(off)
    added = on_summary["p50"] - off_summary["p50"]
    print(
        f"\n{memories:,} memories in the cast of {CAST_SIZE} after {WARMUP_INTERACTIONS} "
        f"warm-up interactions; {BLOCKS} alternating blocks of {BLOCK_SIZE}; load average "
        f"{load:.1f} on {os.cpu_count()} cores at the end."
    )
    print_table(
        "One interaction, engine in process (ms)",
        ["memory", "n", "p50", "p95", "p99", "mean"],
        [
            ["on", on_summary["n"], on_summary["p50"], on_summary["p95"], on_summary["p99"],
             on_summary["mean"]],
            ["off", off_summary["n"], off_summary["p50"], off_summary["p95"],
             off_summary["p99"], off_summary["mean"]],
        ],
    )  # fmt: skip
    print_table(
        "Memory's cost on the interaction (ms)",
        ["measure", "value", "target"],
        [
            ["p50 added by memory (on - off)", added, "<= 3"],
            ["memories_recall, two speakers, p50", percentile(recall_ms, 0.5), ""],
            ["memories_recall, two speakers, p99", percentile(recall_ms, 0.99), ""],
            ["memory_embedding (the exchange), p50", percentile(embed_ms, 0.5), ""],
            ["lore_retrieve, one speaker (both modes), p50", percentile(lore_ms, 0.5), ""],
        ],
    )


if __name__ == "__main__":
    main()
