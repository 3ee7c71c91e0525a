"""Calibrated surprise: how often does *this* series produce a window p-value this small?

A count model is never exact: tweet volumes are bursty (retweet cascades) and some series see many more
tiny p-values than the negative binomial promises. Following SPOT (Siffer et al., KDD 2017, "Anomaly
detection in streams with extreme value theory"), the detector keeps the decayed distribution of its own
surprise ``u = -log10(p)``, takes the level exceeded 1% of the time as a threshold, models the excesses
above it with an exponential (generalised Pareto with zero shape) tail, and mixes that with what the model
promises (``windows x 10**-u``) in proportion to how much history there is. Calibration only ever raises
the bar: a well-specified sparse series keeps the model's own p-values; a bursty one earns a higher bar.

Every bucket is learned, so learning is incremental: the histogram keeps its suffix sums (mass and
surprise-weighted mass at or above each bin), a new surprise touches only the bins below it (one, for the
usual quiet bucket), and the threshold moves from where it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BIN_WIDTH = 0.1
BINS = 400  # surprises from 0 to 40 (p down to 1e-40); larger ones land in the last bin
TAIL_LEVEL = 0.01  # the peaks-over-threshold threshold: exceeded by 1% of buckets
_RESCALE_AT = 1e200
_LN10 = math.log(10)


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
    at_or_above_: list[float] = field(default_factory=lambda: [0.0] * (BINS + 1))  # sum of counts[i:]
    excess_at_or_above_: list[float] = field(default_factory=lambda: [0.0] * (BINS + 1))  # ... x bin middle
    threshold_bin_: int = BINS - 1

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "at_or_above_" not in state:  # pickled before the suffix sums existed
            self._rebuild_sums()
            self.threshold_bin_ = BINS - 1

    def learn(self, surprise: float, hours: float) -> None:
        """Add one bucket's surprise, decaying older ones by the bucket's width."""
        decay = 0.5 ** (hours / self.half_life_hours)
        self.unit /= decay
        if self.unit > _RESCALE_AT:
            self.counts = [c / self.unit for c in self.counts]
            self.weight /= self.unit
            self.unit = 1.0
            self._rebuild_sums()
        index = min(BINS - 1, int(max(0.0, surprise) / BIN_WIDTH))
        self.counts[index] += self.unit
        self.weight += self.unit
        self.hours = decay * self.hours + hours
        mass, excess = self.at_or_above_, self.excess_at_or_above_
        weighted = self.unit * (index + 0.5) * BIN_WIDTH
        for i in range(index + 1):
            mass[i] += self.unit
            excess[i] += weighted
        self._refit()

    def _rebuild_sums(self) -> None:
        mass, excess = [0.0] * (BINS + 1), [0.0] * (BINS + 1)
        for index in range(BINS - 1, -1, -1):
            mass[index] = mass[index + 1] + self.counts[index]
            excess[index] = excess[index + 1] + self.counts[index] * (index + 0.5) * BIN_WIDTH
        self.at_or_above_, self.excess_at_or_above_ = mass, excess

    def _refit(self) -> None:
        """Threshold: the highest bin whose mass at or above it exceeds 1% of the weight (0 if none)."""
        target = TAIL_LEVEL * self.weight
        mass = self.at_or_above_
        index = self.threshold_bin_
        if mass[index] > target:
            while index + 1 < BINS and mass[index + 1] > target:
                index += 1
        else:
            while index > 0 and not mass[index] > target:
                index -= 1
        self.threshold_bin_ = index
        if mass[index] > target:
            above, excess, threshold = mass[index + 1], self.excess_at_or_above_[index + 1], index * BIN_WIDTH
        else:  # nothing exceeds the target: the whole histogram is the tail
            above, excess, threshold = mass[0], self.excess_at_or_above_[0], 0.0
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
            start = min(BINS, int(max(0.0, surprise) / BIN_WIDTH))
            observed = min(1.0, self.at_or_above_[start] / self.weight)
        share = self.hours / (self.hours + self.prior_hours)
        return max(1e-300, share * max(observed, promised) + (1 - share) * promised)

    def surprise_for(self, alpha: float, windows: int, start: float | None = None) -> float:
        """The surprise whose calibrated tail is ``alpha`` (to ~1e-12), at most 300: the bar a window must clear.

        Above the threshold the tail is a mix of two exponentials in the surprise, so its logarithm is
        convex and falling and Newton's method from any point there converges from below; ``start`` (the
        previous answer) makes that one or two steps. Below the threshold, and whenever Newton leaves its
        bracket, the answer is bisected.
        """
        low, high = 0.0, 300.0
        if self.weight > 0 and self.threshold_ < high and self.tail(self.threshold_, windows) > alpha:
            low, target = self.threshold_, math.log(alpha)
            guess = start if start is not None and low < start < high else low
            for _ in range(100):
                value, slope = self._log_tail_and_slope(guess, windows)
                if value > target:
                    low = guess
                else:
                    high = guess
                if high - low < 1e-12:
                    return high
                step = (target - value) / slope if slope < 0 else math.inf
                if abs(step) < 1e-7:  # Newton converges quadratically: this is within ~1e-13
                    return min(high, max(low, guess + step))
                guess = guess + step if low < guess + step < high else (low + high) / 2
        while high - low > 1e-12:  # bisection where the tail is a step function (below the threshold)
            mid = (low + high) / 2
            if self.tail(mid, windows) > alpha:
                low = mid
            else:
                high = mid
        return high

    def _log_tail_and_slope(self, surprise: float, windows: int) -> tuple[float, float]:
        """log(tail) and its derivative in the surprise, above the threshold (where both are smooth)."""
        raw_promised = windows * 10.0 ** (-surprise)
        promised, promised_slope = (1.0, 0.0) if raw_promised >= 1.0 else (raw_promised, -_LN10 * raw_promised)
        observed = TAIL_LEVEL * math.exp(-(surprise - self.threshold_) / self.mean_excess_)
        observed_slope = -observed / self.mean_excess_
        share = self.hours / (self.hours + self.prior_hours)
        if observed > promised:
            value = share * observed + (1 - share) * promised
            slope = share * observed_slope + (1 - share) * promised_slope
        else:
            value, slope = promised, promised_slope
        value = max(1e-300, value)
        return math.log(value), slope / value
