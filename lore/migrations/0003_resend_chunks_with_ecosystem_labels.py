"""Neo4j's LoreChunk nodes now carry their ecosystem's label, over which a large ecosystem
has a vector index of its own (lore/graph.py, ``lore_node_label``): every chunk's version
is raised, so the sync writes each node again (a write keeps only a newer version) and
labels it."""

from django.db import migrations
from django.db.models import F


def resend(apps, schema_editor):
    apps.get_model("lore", "Chunk").objects.update(version=F("version") + 1)


class Migration(migrations.Migration):
    dependencies = [("lore", "0002_resend_chunks_with_ecosystem_uids")]

    operations = [migrations.RunPython(resend, migrations.RunPython.noop)]
