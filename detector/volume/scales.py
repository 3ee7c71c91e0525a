"""How bursty a stream is at the time scale each CUSUM sums over: the cluster size its threshold assumes.

Why: a CUSUM tuned to a rise of ``ratio`` x expected sums evidence over about ``log(ARL) / KL`` buckets
(Wald's approximation of its detection delay; ``KL`` is the Kullback-Leibler divergence of one bucket's
Poisson count under the rise from the baseline's), a span that holds about 110, 30, 5, 0.9 and 0.2
expected units for rises of 1.5, 2, 4, 10 and 30 x (one-minute buckets, a budget of 0.25 a week), whatever
the volume. Real streams wander over hours (on
the Xfinity 2020 tweets a day's rate is often 1.5x its usual level for hours, while single minutes look
Poisson), so the slow CUSUMs need the stream's variability over hours, which independent per-bucket counts
do not show.

The rule: over its span of ``n`` buckets (expected ``E``), a CUSUM takes the window sums' learned dispersion
``d`` (variance ``E + d E^2``; the tested window closest below the span, the longest one beyond it) and
compares it with what its per-bucket negative binomial already says (``E + D E^2 / n``). If the windows
vary more, units are taken to arrive in clusters of that ratio (``c``, the cluster size): the CUSUM counts
clusters (its log-likelihood ratio is divided by ``c``) and its threshold is the exact one for cluster
counts (mean ``m / c``, dispersion ``c D``). Spans expecting less than one unit keep ``c = 1``: there a
window holds 0 or 1 and its variance is made of the rare bursts that are the signal (a support stream's
small incidents), not of noise. In effect the 10x and 30x CUSUMs always count single units.
"""

from __future__ import annotations

import math


def integration_buckets(ratio: float, mean: float, run_length: float) -> float:
    """About how many buckets a CUSUM for ``ratio`` x ``mean`` sums before it alarms at ARL ``run_length``."""
    kl = mean * (ratio * math.log(ratio) - ratio + 1.0)
    if kl <= 0:
        return math.inf
    return max(1.0, math.log(max(run_length, math.e)) / kl)


def cluster_size(buckets: float, mean: float, bucket_dispersion: float, lengths: list[int],
                 dispersions: list[float]) -> float:
    """How much more the sum of ``buckets`` buckets expected at ``mean`` each varies than independent
    negative-binomial buckets of ``bucket_dispersion`` say: its learned variance over theirs, at least 1."""
    expected = buckets * mean
    if not dispersions or not math.isfinite(expected) or expected < 1.0:
        return 1.0
    chosen = dispersions[0]
    for length, dispersion in zip(lengths, dispersions):
        if length <= buckets:
            chosen = dispersion
    return max(1.0, (1.0 + chosen * expected) / (1.0 + bucket_dispersion * mean))
