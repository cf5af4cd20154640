"""The default mode: a developer's machine, loopback only (see base.py)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
