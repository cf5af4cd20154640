# The Interaction model, moved here from the scenarios app with its table
# (scenarios_interaction) and index names: state only, the table was created by
# scenarios 0001.
import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("characters", "0001_initial"),
        ("scenarios", "0003_interaction_moved_to_interactions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Interaction",
                    fields=[
                        ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ("turn", models.PositiveIntegerField(blank=True, null=True)),
                        ("interaction_type", models.CharField(choices=[("greeting", "Greeting"), ("chat", "Chat"), ("conflict", "Conflict"), ("collaboration", "Collaboration")], max_length=16)),
                        ("content", models.TextField()),
                        ("response", models.TextField()),
                        ("content_sentiment", models.FloatField()),
                        ("response_sentiment", models.FloatField()),
                        ("relationship_change", models.JSONField(default=dict)),
                        ("emotional_states", models.JSONField(default=dict)),
                        ("latency_ms", models.FloatField(default=0.0)),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        ("ecosystem", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="interactions", to="characters.ecosystem")),
                        ("initiator", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="characters.character")),
                        ("target", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="characters.character")),
                        ("scenario", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="interactions", to="scenarios.scenario")),
                        ("user_message", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="scenarios.usermessage")),
                    ],
                    options={
                        "db_table": "scenarios_interaction",
                        "ordering": ("-created",),
                        "indexes": [
                            models.Index(fields=["ecosystem", "-created"], name="scenarios_i_ecosyst_b2466f_idx"),
                            models.Index(fields=["initiator", "-created"], name="scenarios_i_initiat_4db328_idx"),
                            models.Index(fields=["target", "-created"], name="scenarios_i_target__25bc89_idx"),
                        ],
                        "constraints": [models.UniqueConstraint(fields=("scenario", "turn"), name="interaction_one_per_turn")],
                    },
                ),
            ],
        ),
    ]
