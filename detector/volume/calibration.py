"""Calibrated surprise: how often does *this* series produce a window p-value this small?

A count model is never exact: tweet volumes are bursty (retweet cascades) and some series see many more
tiny p-values than the negative binomial promises. Following SPOT (Siffer et al., KDD 2017, "Anomaly
detection in streams with extreme value theory"), the detector keeps the decayed distribution of its own
surprise ``u = -log10(p)``, takes the level exceeded 1% of the time as a threshold, models the excesses
above it with an exponential (generalised Pareto with zero shape) tail, and mixes that with what the model
promises (``windows x 10**-u``) in proportion to how much history there is. Calibration only ever raises
the bar: a well-specified sparse series keeps the model's own p-values; a bursty one earns a higher bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BIN_WIDTH = 0.1
BINS = 400  # surprises from 0 to 40 (p down to 1e-40); larger ones land in the last bin
TAIL_LEVEL = 0.01  # the peaks-over-threshold threshold: exceeded by 1% of buckets
_RESCALE_AT = 1e200


@dataclass
class SurpriseTail:
    """Decayed histogram of surprises with a peaks-over-threshold tail; plain data, so it pickles."""

    half_life_hours: float
    prior_hours: float
    counts: list[float] = field(default_factory=lambda: [0.0] * BINS)
    weight: float = 0.0  # decayed number of buckets, in the same inflated unit as counts
    unit: float = 1.0  # lazy decay: each new observation weighs ``unit``; old ones are never touched
    hours: float = 0.0  # decayed hours of history (for the prior mix)
    threshold_: float = math.inf
    mean_excess_: float = 1.0 / math.log(10)

    def learn(self, surprise: float, hours: float) -> None:
        """Add one bucket's surprise, decaying older ones by the bucket's width."""
        decay = 0.5 ** (hours / self.half_life_hours)
        self.unit /= decay
        if self.unit > _RESCALE_AT:
            self.counts = [c / self.unit for c in self.counts]
            self.weight /= self.unit
            self.unit = 1.0
        self.counts[min(BINS - 1, int(max(0.0, surprise) / BIN_WIDTH))] += self.unit
        self.weight += self.unit
        self.hours = decay * self.hours + hours
        self._refit()

    def _refit(self) -> None:
        target = TAIL_LEVEL * self.weight
        above = 0.0
        excess = 0.0
        for index in range(BINS - 1, -1, -1):
            if above + self.counts[index] > target:
                threshold = index * BIN_WIDTH
                break
            above += self.counts[index]
            excess += self.counts[index] * (index + 0.5) * BIN_WIDTH
        else:
            threshold = 0.0
        self.threshold_ = threshold
        if above > 0:
            self.mean_excess_ = max(BIN_WIDTH, excess / above - threshold)

    def tail(self, surprise: float, windows: int) -> float:
        """Calibrated P(a bucket's smallest window p-value is at least this surprising)."""
        promised = min(1.0, windows * 10.0 ** (-surprise))
        if self.weight <= 0:
            return promised
        if surprise > self.threshold_:
            observed = TAIL_LEVEL * math.exp(-(surprise - self.threshold_) / self.mean_excess_)
        else:
            start = int(max(0.0, surprise) / BIN_WIDTH)
            observed = min(1.0, sum(self.counts[start:]) / self.weight)
        share = self.hours / (self.hours + self.prior_hours)
        return max(1e-300, share * max(observed, promised) + (1 - share) * promised)
