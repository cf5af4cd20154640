"""What a long-lived process (a web process, a Celery worker) does once it has loaded."""

import gc


def loaded_objects_freeze() -> None:
    """Move every object loaded so far (Django, the apps, the dialogue backend's phrase
    pools and grammar tables) out of the garbage collector's sight (``gc.freeze``).

    They live as long as the process, yet each full collection walked all of them: ~160,000
    objects, 120-270 ms on the shared machine, a pause of every connection the process
    serves, and the WebSocket benchmark's p99 (docs/operations.md, "Collector pauses").
    Collections then see only what was made since. Garbage already unreachable is
    collected first, so none is kept for good."""
    gc.collect()
    gc.freeze()
