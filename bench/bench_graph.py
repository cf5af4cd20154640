"""Graph sync benchmark: batched UNWIND sync of relationship updates vs. the naive
one-save-per-update neomodel way. Prints a table.

    set -a; . var/services.env; set +a
    .venv/bin/python -m bench.bench_graph [--updates 10000] [--naive 1000] [--batch-size 500]

Works in the benchmarks' own database (bench.common) and an ecosystem of its own, deleted
with its graph nodes at the end; needs DATABASE_URL and NEO4J_BOLT_URL.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass

from bench.common import print_table, setup_django

TARGET_UPDATES_PER_SECOND = 5000


@dataclass(frozen=True)
class Row:
    method: str
    updates: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000, help="relationships to sync")
    parser.add_argument("--naive", type=int, default=1_000, help="updates for the naive run")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--characters", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    setup_django()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db.models import F
    from django.test import override_settings
    from django.utils import timezone

    from characters.models import Character, Ecosystem
    from relationships.graph import (
        GRAPH_UNAVAILABLE_ERRORS,
        graph_install_constraints,
        graph_remove_ecosystem,
        graph_sync_pending,
    )
    from relationships.graph_models import CharacterNode
    from relationships.models import Relationship

    if not settings.GRAPH_SYNC_ENABLED:
        print("NEO4J_BOLT_URL is not set: load var/services.env first.", file=sys.stderr)
        return 2
    max_pairs = args.characters * (args.characters - 1)
    if args.updates > max_pairs:
        print(f"--updates exceeds the {max_pairs} pairs of --characters", file=sys.stderr)
        return 2

    rng = random.Random(args.seed)
    graph_install_constraints()
    owner, _ = get_user_model().objects.get_or_create(username="bench-graph")
    ecosystem = Ecosystem.objects.create(owner=owner, name=f"bench graph {time.time():.0f}")
    rows: list[Row] = []
    try:
        cast = Character.objects.bulk_create(
            Character(ecosystem=ecosystem, name=f"Bench {index}")
            for index in range(args.characters)
        )
        pairs = rng.sample(
            [(a, b) for a in cast for b in cast if a.pk != b.pk], args.updates + args.naive
        )
        now = timezone.now()
        Relationship.objects.bulk_create(
            (
                Relationship(
                    ecosystem=ecosystem,
                    from_character=a,
                    to_character=b,
                    strength=rng.uniform(-1, 1),
                    trust=rng.uniform(0, 1),
                    interaction_count=1,
                    last_interaction_at=now,
                )
                for a, b in pairs[: args.updates]
            ),
            batch_size=2000,
        )

        started = time.perf_counter()
        created = graph_sync_pending(ecosystem_id=ecosystem.pk, batch_size=args.batch_size)
        rows.append(Row("batched UNWIND, new pairs", created.sent, time.perf_counter() - started))

        # Every relationship changes once more (as 10,000 interactions would leave them).
        Relationship.objects.filter(ecosystem=ecosystem).update(
            strength=F("strength") * 0.5,
            trust=F("trust") * 0.9,
            interaction_count=F("interaction_count") + 1,
            version=F("version") + 1,
        )
        started = time.perf_counter()
        updated = graph_sync_pending(ecosystem_id=ecosystem.pk, batch_size=args.batch_size)
        rows.append(Row("batched UNWIND, updates", updated.sent, time.perf_counter() - started))
        assert updated.written == args.updates, updated

        # Naive: the neomodel object API, one node lookup pair and one save per update.
        nodes = {
            str(c.pk): CharacterNode(uid=str(c.pk), name=c.name, ecosystem_id=str(ecosystem.pk))
            for c in cast
        }
        started = time.perf_counter()
        for index, (a, b) in enumerate(pairs[args.updates :]):
            start = CharacterNode.nodes.get_or_none(uid=str(a.pk)) or nodes[str(a.pk)].save()
            end = CharacterNode.nodes.get_or_none(uid=str(b.pk)) or nodes[str(b.pk)].save()
            relation = start.relates_to.relationship(end)
            properties = {
                "strength": rng.uniform(-1, 1),
                "trust": rng.uniform(0, 1),
                "interaction_count": 1,
                "last_interaction_at": now,
                "version": index + 1,
            }
            if relation is None:
                start.relates_to.connect(end, properties)
            else:
                for name, value in properties.items():
                    setattr(relation, name, value)
                relation.save()
        rows.append(Row("naive neomodel save()", args.naive, time.perf_counter() - started))
    finally:
        ecosystem_id = ecosystem.pk
        with override_settings(GRAPH_SYNC_ENABLED=False):  # the graph part is removed below
            ecosystem.delete()
        try:
            graph_remove_ecosystem(ecosystem_id=ecosystem_id)
        except GRAPH_UNAVAILABLE_ERRORS as error:
            print(f"could not remove the bench nodes ({error}); the orphan sweep will")

    print_table(
        f"Graph sync (Neo4j), batch size {args.batch_size}; "
        f"target >= {TARGET_UPDATES_PER_SECOND:,} updates/s",
        ("method", "updates", "seconds", "updates/s"),
        [(row.method, row.updates, row.seconds, row.rate) for row in rows],
    )
    if len(rows) == 3 and rows[2].rate:
        print(f"\nbatched updates run at {rows[1].rate / rows[2].rate:,.0f}x the naive rate")
    batched = rows[1].rate if len(rows) > 1 else 0.0
    return 0 if batched >= TARGET_UPDATES_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
