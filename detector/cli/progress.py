"""Progress of long CLI work on stderr: counts done, the share, and an ETA, on a terminal and in a log alike.

click's progress bar prints only its label when stderr is not a terminal (a CI log, `2> train.log`), so a
training run looked stuck for minutes. Here a terminal gets one line rewritten in place; anything else gets
a line at every tenth of the work and at the end.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Callable


class Progress:
    """``with Progress("encoding", n) as bar: bar.update(k)``; ``length`` may be corrected on the way."""

    def __init__(self, label: str, length: int, unit: str = "", stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.length = max(int(length), 0)
        self.unit = f" {unit}" if unit else ""
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.pos = 0
        self._started = clock()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._next_step = 0

    def __enter__(self) -> "Progress":
        self._started = self.clock()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None and self.pos < self.length:
            self.pos = self.length
        self._show(final=True)

    def update(self, n: int) -> None:
        self.pos = min(self.pos + int(n), self.length) if self.length else self.pos + int(n)
        self._show()

    def line(self) -> str:
        """The text shown now, e.g. ``encoding: 2560/8560 rows (30%), eta 0:45``."""
        elapsed = self.clock() - self._started
        share = self.pos / self.length if self.length else 1.0
        text = f"{self.label}: {self.pos}/{self.length}{self.unit} ({share:.0%})"
        if 0 < self.pos < self.length:
            return text + f", eta {_clock(elapsed * (self.length - self.pos) / self.pos)}"
        return text + f", {_clock(elapsed)} elapsed"

    def _show(self, final: bool = False) -> None:
        if self._tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
            self.stream.flush()
            return
        step = int(10 * self.pos / self.length) if self.length else 10
        if final or step >= self._next_step and self.pos < self.length:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self._next_step = step + 1
            if final:
                self._next_step = 11


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
