# The Interaction model moved to the interactions app (the engine's own app); its table
# stays where it is. State only: nothing changes in the database.
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("scenarios", "0002_scenario_recent_speakers"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Interaction")],
            database_operations=[],
        ),
    ]
