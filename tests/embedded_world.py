"""A world played the way `make run` plays it, for the tests that move one to the full
stack: a process of its own on the embedded settings (SQLite, no Redis, no Neo4j) seeds the
demo, lets the caller add to it, plays a few exchanges and scenario turns, then runs the
caller's closing code. The script prints what the test reads back on its last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_PRELUDE = """
import json, sys
from datetime import timedelta
import django
django.setup()
from django.core.management import call_command
from django.utils import timezone
call_command("migrate", verbosity=0, interactive=False)
call_command("seed_demo", verbosity=0)
from characters.models import Character, Ecosystem
from interactions.services import interaction_process
from lore.services import document_create
from scenarios.models import Scenario
from scenarios.services import clock_tick
ecosystem = Ecosystem.objects.get()
"""

_PLAY = """
for content in {lines!r}:
    interaction_process(initiator_id=first.pk, target_id=second.pk, interaction_type="chat",
                        content=content)
scenario = Scenario.objects.filter(status="active").first()
for _ in range(3):
    due = timezone.now() - timedelta(seconds=1)
    Scenario.objects.filter(pk=scenario.pk).update(next_tick_at=due)
    clock_tick()
"""


def play_embedded_world(
    database: Path, *, prepare: str, lines: Sequence[str], then: str, args: Sequence[str] = ()
) -> Any:
    """Play a world into the SQLite file ``database``. ``prepare`` runs after the demo is
    seeded (``ecosystem`` is set) and must set ``first`` and ``second``, the pair whose
    ``lines`` are played; ``then`` runs last, with ``args`` in ``sys.argv[1:]``, and prints
    JSON on its last line, which is answered."""
    script = _PRELUDE + prepare + _PLAY.format(lines=tuple(lines)) + then
    return run_embedded(script, database, args=args)


def run_embedded(
    script: str, database: Path, *, args: Sequence[str] = (), timeout: float = 300
) -> Any:
    """Run the Python ``script`` in a process of its own on the embedded settings, with
    ``database`` as its SQLite file; answers the JSON it printed on its last line."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecosystem_project.settings.embedded",
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
        "NEO4J_BOLT_URL": "",
    }
    completed = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])
