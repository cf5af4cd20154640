"""Lore documents and their embedded chunks (docs/lore.md).

PostgreSQL (or SQLite in the embedded mode) is the source of truth for the vectors: each
``Chunk.embedding`` holds float32 bytes (little-endian, ``dimension`` values) with the model
that made them. A BinaryField works the same on both databases. Neo4j's vector index is a
read model kept in step by ``lore.graph`` (``version > graph_version`` = pending).
"""

from __future__ import annotations

import numpy as np
from django.db import models

from characters.models import Character, Ecosystem


class Document(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Plain text"
        MARKDOWN = "markdown", "Markdown"
        PDF = "pdf", "PDF"

    ecosystem = models.ForeignKey(Ecosystem, on_delete=models.CASCADE, related_name="documents")
    # Tied to these characters only (none: the whole ecosystem knows it).
    characters = models.ManyToManyField(Character, blank=True, related_name="documents")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEXT)
    content = models.TextField()
    # Keyed entry (lorebook): used whenever a key occurs in the conversation.
    keys = models.JSONField(default=list, blank=True)
    secondary_keys = models.JSONField(default=list, blank=True)
    constant = models.BooleanField(default=False, help_text="Always used, keys or not.")
    order = models.IntegerField(default=100)
    enabled = models.BooleanField(default=True)
    source_name = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("order", "title", "id")
        indexes = [models.Index(fields=("ecosystem", "order"))]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    # Denormalised from the document: search reads one table.
    ecosystem = models.ForeignKey(Ecosystem, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    text = models.TextField()
    start_offset = models.PositiveIntegerField()
    end_offset = models.PositiveIntegerField()
    embedding = models.BinaryField()
    embedding_model = models.CharField(max_length=64)
    dimension = models.PositiveIntegerField()
    # Bumped when the vector or what the graph holds about it changes.
    version = models.PositiveBigIntegerField(default=1)
    graph_version = models.PositiveBigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("document", "position")
        constraints = [
            models.UniqueConstraint(fields=("document", "position"), name="lore_chunk_position")
        ]
        indexes = [
            models.Index(
                fields=("ecosystem",),
                condition=models.Q(version__gt=models.F("graph_version")),
                name="lore_chunk_graph_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.position}"

    def vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.embedding), dtype="<f4")
