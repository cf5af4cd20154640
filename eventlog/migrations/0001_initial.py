# The Event model, moved here from the observatory app with its table
# (observatory_event): state only, the table was created by observatory 0001.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("characters", "0001_initial"),
        ("observatory", "0002_event_moved_to_eventlog"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Event",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("seq", models.BigIntegerField()),
                        ("type", models.CharField(choices=[("character_interaction", "Character Interaction"), ("relationship_changed", "Relationship Changed"), ("character_state_changed", "Character State Changed"), ("scenario_started", "Scenario Started"), ("scenario_paused", "Scenario Paused"), ("scenario_resumed", "Scenario Resumed"), ("scenario_ended", "Scenario Ended"), ("user_message", "User Message")], max_length=40)),
                        ("payload", models.JSONField(default=dict)),
                        ("created", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("ecosystem", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="events", to="characters.ecosystem")),
                    ],
                    options={
                        "db_table": "observatory_event",
                        "ordering": ("ecosystem", "seq"),
                        "constraints": [models.UniqueConstraint(fields=("ecosystem", "seq"), name="event_unique_seq")],
                    },
                ),
            ],
        ),
    ]
