"""The usual volume for this time of day: what the same window held at this hour on each of the last days.

Downdetector's rule is "significantly more reports than the usual volume for this time of day". The
seasonal model's level follows the series within a day or so, which is what keeps it quiet through trends,
but it also absorbs a rise that builds over hours: a service whose complaints sit at twice their usual
level all afternoon looks normal to it by evening. This reference cannot absorb anything within the day:
it is the sum of the same window (say the last three hours) at the same time on each of the last
``days`` days, taken as they were recorded. ``DailyReference`` keeps those sums in a ring of one slot per
bucket, so a lookup is ``days`` array reads.

A series whose bucket width does not divide a day has no such reference (``usable`` is False).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from datetime import datetime

_DAY_SECONDS = 86400
MIN_DAYS = 3  # fewer earlier days than this are no "usual" to compare with


@dataclass
class DailyReference:
    """Ring of one window sum per bucket over the last ``days`` days; plain data, so it pickles small."""

    width_seconds: float
    days: int
    sums: array = field(default_factory=lambda: array("f"))  # NaN where no bucket was recorded
    last_index: int | None = None  # bucket number (since the epoch) of the last recorded sum

    def __post_init__(self) -> None:
        if self.usable and not self.sums:
            self.sums = array("f", [math.nan]) * (self.per_day * self.days)

    @property
    def per_day(self) -> int:
        return round(_DAY_SECONDS / self.width_seconds)

    @property
    def usable(self) -> bool:
        return self.width_seconds > 0 and self.days > 0 and _DAY_SECONDS % self.width_seconds == 0

    def _index(self, start: datetime) -> int:
        return math.floor(start.timestamp() / self.width_seconds)

    def record(self, start: datetime, window_sum: float) -> None:
        """Keep the window sum that ended with the bucket starting at ``start``; skipped buckets become gaps."""
        index = self._index(start)
        size = len(self.sums)
        if self.last_index is not None and index > self.last_index + 1:
            for missing in range(self.last_index + 1, min(index, self.last_index + 1 + size)):
                self.sums[missing % size] = math.nan
        self.sums[index % size] = window_sum
        self.last_index = index if self.last_index is None else max(self.last_index, index)

    def usual(self, start: datetime) -> list[float]:
        """The window sums recorded at this time of day on each of the last ``days`` days (gaps left out)."""
        index, per_day, size = self._index(start), self.per_day, len(self.sums)
        if self.last_index is None:
            return []
        found = []
        for day in range(1, self.days + 1):
            earlier = index - day * per_day
            if earlier <= self.last_index and earlier > self.last_index - size:
                value = self.sums[earlier % size]
                if not math.isnan(value):
                    found.append(float(value))
        return found


def usual_mean_and_dispersion(
    sums: list[float], model_expected: float, model_dispersion: float, prior_weight: float
) -> tuple[float, float]:
    """Mean and negative-binomial dispersion of the window sum expected at this time of day.

    The mean is a Gamma-Poisson posterior: the seasonal model's expectation counts as one more day, so a
    sparse series whose usual is nothing at all still expects something and three posts are not infinitely
    surprising. The dispersion is the day-to-day spread of the sums beyond Poisson noise (inflated by
    1 + 1/n for the uncertainty of a mean from n days), shrunk toward what the seasonal model learned of
    its own window sums the way the model shrinks its own: n days at mean m carry n m^2 of evidence against
    the model's ``prior_weight``. A busy series' week of days speaks for itself; a sparse series' days are
    mostly Poisson noise, and the model's dispersion stands.
    """
    n = len(sums)
    mean = (sum(sums) + model_expected) / (n + 1)
    if n < 2 or mean <= 0:
        return mean, model_dispersion
    centre = sum(sums) / n
    variance = sum((value - centre) ** 2 for value in sums) / (n - 1) * (1 + 1 / n)
    evidence = n * mean * mean
    dispersion = (n * (variance - mean) + prior_weight * model_dispersion) / (evidence + prior_weight)
    return mean, max(0.0, dispersion)
