"""Count-aware upper tails: how surprising is a count of at least ``k`` when ``mean`` was expected.

Negative-binomial with variance ``mean + dispersion * mean**2`` (Poisson when dispersion is 0), through the
regularised incomplete beta and gamma functions so one call costs microseconds, not a scipy.stats frozen
distribution. Counts may be fractional (the complaint share, or a partial bucket): the tails are continued
smoothly in ``k``.
"""

from __future__ import annotations

import math

from scipy.special import betainc, gammainc

_TINY = 1e-300


def upper_tail(k: float, mean: float, dispersion: float) -> float:
    """Return P(X >= k) for X ~ NB(mean, dispersion); 1.0 when k <= 0."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return _TINY
    if dispersion <= 1e-9:
        return max(float(gammainc(k, mean)), _TINY)
    r = 1.0 / dispersion
    p_success = r / (r + mean)
    return max(float(betainc(k, r, 1.0 - p_success)), _TINY)


def upper_quantile(tail: float, mean: float, dispersion: float) -> float:
    """Return the smallest whole count k with P(X >= k) <= ``tail`` (the upper band for that tail)."""
    if mean <= 0:
        return 1.0
    # Invert the continuous continuation by bisection, then step to the whole count that satisfies the tail.
    k = _poisson_k(tail, mean) if dispersion <= 1e-9 else _nb_k(tail, mean, 1.0 / dispersion)
    k = max(1.0, math.ceil(k))
    while k > 1 and upper_tail(k - 1, mean, dispersion) <= tail:
        k -= 1
    while upper_tail(k, mean, dispersion) > tail:
        k += 1
    return k


def _poisson_k(tail: float, mean: float) -> float:
    low, high = 0.0, max(1.0, mean)
    while gammainc(high, mean) > tail:
        high *= 2
    for _ in range(40):
        mid = (low + high) / 2
        if gammainc(mid, mean) > tail:
            low = mid
        else:
            high = mid
    return high


def _nb_k(tail: float, mean: float, r: float) -> float:
    x = mean / (r + mean)
    low, high = 0.0, max(1.0, mean)
    while betainc(high, r, x) > tail:
        high *= 2
    for _ in range(40):
        mid = (low + high) / 2
        if betainc(mid, r, x) > tail:
            low = mid
        else:
            high = mid
    return high
