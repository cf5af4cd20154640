# The Event model moved to the eventlog app (below every writer); its table stays where it
# is. State only: nothing changes in the database.
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("observatory", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Event")],
            database_operations=[],
        ),
    ]
