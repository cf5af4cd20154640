"""Dialogue backends: what a character says. See ``docs/dialogue.md``."""

from interactions.dialogue.base import DialogueBackend, DialogueContext, Speaker, get_backend

__all__ = ["DialogueBackend", "DialogueContext", "Speaker", "get_backend"]
