"""Neo4j's LoreChunk nodes are now keyed ``<ecosystem id>:<chunk id>`` (lore/graph.py,
``chunk_uid``): every chunk is marked pending so the sync sends it again under its new uid;
the reconcile removes the nodes of the old form."""

from django.db import migrations


def mark_pending(apps, schema_editor):
    apps.get_model("lore", "Chunk").objects.filter(graph_version__gt=0).update(graph_version=0)


class Migration(migrations.Migration):
    dependencies = [("lore", "0001_initial")]

    operations = [migrations.RunPython(mark_pending, migrations.RunPython.noop)]
