"""The Neo4j read model of the relationship graph (neomodel).

PostgreSQL is the source of truth; these classes describe what the sync writes into Neo4j:

``(:Character {uid, name, ecosystem_id, synced_at})-[:RELATES_TO {strength, trust,
interaction_count, last_interaction_at, version}]->(:Character)``

``uid`` is the character's UUID (a unique constraint, which also makes node MERGE safe under
concurrency) and ``ecosystem_id`` is indexed (every query and removal is scoped by it). The
relationship is directed, like ``relationships.models.Relationship``: how ``from`` regards
``to``. The bulk sync in ``relationships.graph`` writes with parameterized Cypher (one UNWIND
per batch) rather than node-by-node ``save()``; the classes stay the schema (constraints are
installed from them) and the object API for ad-hoc work and the naive benchmark.
"""

from neomodel import (
    DateTimeNeo4jFormatProperty,
    FloatProperty,
    IntegerProperty,
    RelationshipTo,
    StringProperty,
    StructuredNode,
    StructuredRel,
)

CHARACTER_LABEL = "Character"
RELATES_TO = "RELATES_TO"


class RelatesTo(StructuredRel):
    """How the start character regards the end character (one per ordered pair)."""

    strength = FloatProperty(default=0.0)
    trust = FloatProperty(default=0.3)
    interaction_count = IntegerProperty(default=0)
    last_interaction_at = DateTimeNeo4jFormatProperty()
    # The PostgreSQL row's version; the sync only ever replaces an older one.
    version = IntegerProperty(default=0)


class CharacterNode(StructuredNode):
    __label__ = CHARACTER_LABEL

    uid = StringProperty(unique_index=True, required=True)
    name = StringProperty(default="")
    ecosystem_id = StringProperty(index=True, required=True)
    # When the sync last wrote this node; the orphan sweep leaves young nodes alone.
    synced_at = DateTimeNeo4jFormatProperty()

    relates_to = RelationshipTo("CharacterNode", RELATES_TO, model=RelatesTo)
