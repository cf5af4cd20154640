"""What a speaker recalls, as the dialogue backends see it (pure: no Django here, so the
dialogue contract in ``interactions.dialogue.base`` can carry it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecalledMemory:
    """One retrieved memory of the speaker. ``heard`` is what its counterpart said to the
    speaker then ("" for a reflection); ``score`` the retrieval score (docs/models.md)."""

    id: str
    kind: str
    text: str
    heard: str
    counterpart_id: str | None
    interaction_type: str
    sentiment: float
    importance: float
    score: float
    age_seconds: float
