"""The fence around fast paths that lean on other packages' private internals.

Each fast path (the pooled HTTP handler, the direct Daphne write, the raw-PUBLISH broadcast)
has a setting, on by default (``FAST_*``; ``FAST_PATHS=off`` turns them all off), and a list
of the private attributes it reads. The first time a fast path is asked for in a process,
``enabled`` checks that those attributes exist on the installed versions; if any is missing
it logs one warning naming them and the caller takes the stock path for the rest of the
process. requirements/base.txt pins every package whose internals are read.
"""

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastPath:
    setting: str  # FAST_HTTP_HANDLER ...
    description: str  # for the warning: "the pooled HTTP handler (ecosystem_project.asgi_http)"
    stock: str  # what is used instead: "Django's ASGIHandler"
    missing_internals: Callable[[], list[str]]  # "Class.attribute" for each one not found


_decisions: dict[str, bool] = {}
_lock = threading.Lock()


def enabled(path: FastPath) -> bool:
    """Whether to take ``path``: its setting is on and the installed packages have what it
    reads. Decided once per process (again after the setting changes in a test)."""
    decision = _decisions.get(path.setting)
    if decision is None:
        with _lock:
            decision = _decisions.get(path.setting)
            if decision is None:
                decision = _decide(path)
                _decisions[path.setting] = decision
    return decision


def refuse(path: FastPath, missing: list[str]) -> None:
    """Turn ``path`` off for the rest of the process, for internals found missing only at
    first use (attributes set on instances); warns once."""
    with _lock:
        if _decisions.get(path.setting) is False:
            return
        _decisions[path.setting] = False
    _warn(path, missing)


def missing_attributes(owner: Any, names: Iterable[str]) -> list[str]:
    """``owner.name`` for each of ``names`` that ``owner`` (a class, a module, or an
    instance: then named by its class) lacks."""
    if isinstance(owner, ModuleType):
        label = owner.__name__
    else:
        kind = owner if isinstance(owner, type) else type(owner)
        label = f"{kind.__module__}.{kind.__qualname__}"
    return [f"{label}.{name}" for name in names if not hasattr(owner, name)]


def _decide(path: FastPath) -> bool:
    if not getattr(settings, path.setting, False):
        return False
    try:
        missing = path.missing_internals()
    except (ImportError, AttributeError, TypeError) as error:
        missing = [f"{type(error).__name__}: {error}"]
    if missing:
        _warn(path, missing)
        return False
    return True


def _warn(path: FastPath, missing: list[str]) -> None:
    logger.warning(
        "%s is off: the installed packages lack %s (%s=on needs them; see the pins in "
        "requirements/base.txt); using %s instead.",
        path.description,
        ", ".join(missing),
        path.setting,
        path.stock,
    )


def forget_decisions() -> None:
    """Decide again at next use (tests)."""
    with _lock:
        _decisions.clear()


def _forget_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("FAST_"):
        forget_decisions()


setting_changed.connect(_forget_on_setting_change)
