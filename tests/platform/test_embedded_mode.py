"""The embedded mode (`make run`): SQLite, in-memory channel layer, in-process clock.

Everything else in the suite runs on PostgreSQL; the engine has a PostgreSQL path for its
multi-row writes and its event numbering, so this checks the other path end to end in a
process of its own with the embedded settings.
"""

from tests.embedded_world import run_embedded

SCRIPT = """
import json
from datetime import timedelta

import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

call_command("migrate", verbosity=0, interactive=False)
call_command("seed_demo", verbosity=0)

from characters.models import Character
from eventlog.models import Event
from relationships.models import Relationship
from interactions.models import Interaction
from scenarios.models import Scenario
from interactions.services import interaction_process
from scenarios.services import clock_tick

first, second = Character.objects.order_by("name")[:2]
result = interaction_process(
    initiator_id=first.pk, target_id=second.pk, interaction_type="chat", content="Hello there!"
)
# Read before the clock plays: the demo scenario's turns may move this pair again.
pair = Relationship.objects.get(from_character=first, to_character=second)
scenario = Scenario.objects.get(status="active")
turns = 0
for _ in range(3):
    Scenario.objects.filter(pk=scenario.pk).update(
        next_tick_at=timezone.now() - timedelta(seconds=1)
    )
    turns += clock_tick()
events = Event.objects.filter(ecosystem=scenario.ecosystem).order_by("seq")
seqs = list(events.values_list("seq", flat=True))
print(json.dumps({
    "vendor": connection.vendor,
    "event_seq": result.event_seq,
    "new_strength": result.relationship_change["new_strength"],
    "stored_strength": pair.strength,
    "stored_count": pair.interaction_count,
    "turns": turns,
    "scenario_turn": Scenario.objects.get(pk=scenario.pk).turn,
    "interactions": Interaction.objects.count(),
    "seqs": seqs,
}))
"""


def test_interactions_and_turns_on_sqlite(tmp_path):
    report = run_embedded(SCRIPT, tmp_path / "db.sqlite3", timeout=120)

    assert report["vendor"] == "sqlite"
    assert round(report["stored_strength"], 4) == report["new_strength"]
    assert report["stored_count"] >= 1
    assert report["turns"] == 3
    assert report["scenario_turn"] >= 3
    # Every event numbered once, without a gap, and the interaction's last event among them.
    assert report["seqs"] == list(range(1, len(report["seqs"]) + 1))
    assert report["event_seq"] in report["seqs"]
