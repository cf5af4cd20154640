"""The default dialogue backend: a deterministic, personality-conditioned line generator.

A line is composed from small phrase pools, slot by slot (interjection, address, core,
extra remarks, closer), and every choice is drawn from a ``random.Random`` seeded from the
context, so the same context always gives the same line in any process. The speaker's
Big Five traits, emotion, energy, relationship to the listener, the interaction type and
the scenario (setting, mood, objectives) decide which pools are open and how likely each
slot is. How it works, slot by slot: ``docs/dialogue.md``.

Modules, by job: ``voice`` (stance and voice from personality, emotion, relationship),
``analysis`` (topic and question kind of an utterance, the scenario's free text),
``phrases`` (the pools, loaded from ``interactions/dialogue/phrases/*.toml`` and
validated), ``register`` (formal and casual wording), ``compose`` (assembling a line).
"""

from interactions.dialogue.template.compose import TemplateBackend

__all__ = ["TemplateBackend"]
