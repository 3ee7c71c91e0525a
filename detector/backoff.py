"""Exponential backoff with jitter: the one rule for every retry (sources, alert delivery, workers).

Attempt 1 waits between half and all of ``base``, each further attempt twice as long, never more than
``cap``; the random half spreads clients that failed together (no thundering herd).
"""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1 is the first retry)."""
    return rng.uniform(0.5, 1.0) * min(cap, base * 2 ** max(0, attempt - 1))


class Backoff:
    """The same rule with its count kept, reset when a try succeeds (as praw's stream does)."""

    def __init__(self, base: float = 5.0, cap: float = 900.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def failed(self) -> float:
        """Record a failure; return the seconds to wait before the next try."""
        self.failures += 1
        return backoff_delay(self.failures, self.base, self.cap, self._rng)

    def quiet(self, interval: float) -> float:
        """A poll that worked but found nothing: wait the interval, a little jittered (no thundering herd)."""
        self.failures = 0
        return interval * self._rng.uniform(0.9, 1.1)

    def reset(self) -> None:
        self.failures = 0
