"""A plain text progress bar for management commands: redrawn in place on a terminal, a line
per tenth otherwise (logs stay short)."""

import time

from django.core.management.base import OutputWrapper

BAR_WIDTH = 30


def _plain(text: str) -> str:
    return text  # progress, not an error: no red from stderr's default style


class ProgressBar:
    def __init__(self, stream: OutputWrapper, label: str, unit: str) -> None:
        self.stream = stream
        self.label = label
        self.unit = unit
        self.started = time.perf_counter()
        self.interactive = stream.isatty()
        self.last_tenth = -1

    def update(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        tenth = int(fraction * 10)
        if not self.interactive and tenth == self.last_tenth:
            return
        self.last_tenth = tenth
        elapsed = time.perf_counter() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        bar = "#" * int(fraction * BAR_WIDTH) + "." * (BAR_WIDTH - int(fraction * BAR_WIDTH))
        line = f"{self.label} [{bar}] {done:,}/{total:,} {fraction:6.1%} {rate:,.1f} {self.unit}/s"
        text, ending = ("\r" + line, "") if self.interactive else (line, "\n")
        self.stream.write(text, style_func=_plain, ending=ending)
        self.stream.flush()

    def close(self) -> None:
        if self.interactive and self.last_tenth >= 0:
            self.stream.write("", style_func=_plain, ending="\n")
            self.stream.flush()
