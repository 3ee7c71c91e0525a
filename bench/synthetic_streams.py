"""Seeded synthetic streams for the volume detector, in buckets, with their truth.

How they are made (every draw from ``numpy.random.default_rng(seed)``):

* **Support account** (``support_stream``): one-minute buckets over ``weeks`` weeks. Conversations start
  as a Poisson process at ``posts_per_hour`` x a daily rhythm (a cosine, busiest at 15:00 UTC, quietest at
  03:00, ratio 4:1) x a weekly one (weekends at 60%); one person posts 1-4 times within half an hour in a
  conversation. A share ``complaint_share`` of conversations are someone reporting an outage (everyday
  individual trouble: the baseline of "people reporting"). On top: small local incidents (``small_per_week``,
  3-10 people each, their first reports spread over 5-20 minutes), a few large ones (``large_per_week``,
  20-60 people over 30-90 minutes), and non-outage mention spikes (``tv_per_week``: a TV schedule mix-up,
  40-150 people posting in an hour, of whom 2% are wrongly counted as outage reporters). Buckets carry
  ``mentions`` (posts), ``people`` (distinct authors) and ``complaint_people`` (distinct reporters whose first
  report in the hour falls in the bucket), as the pipeline counts them. With ``incidents=False`` the stream
  has no incidents at all (for the false-alert rate). With ``wander_sd`` > 0 the conversation rate also
  wanders for hours (a log-normal factor whose log is an AR(1) with stationary sd ``wander_sd`` and
  correlation time ``wander_hours``, drawn hourly): real support streams do (the Xfinity 2020 tweets' hourly
  sums are overdispersed, variance = mean + 0.3-0.5 mean^2 from 1 to 60 minutes and more over days), so
  a rule that takes their minutes for independent Poisson draws pages on ordinary busy afternoons.
  With ``cluster_p`` > 0 (``clustered_stream``: 0.25) people arrive in clusters, as on real streams: a
  conversation brings a geometric number of people (P(k or more) = ``cluster_p``^(k-1): mean 1.33, one in
  64 brings 4 or more), the others joining within ``cluster_minutes`` (5) of the first, all reporting an
  outage or none (a reply thread, a street whose line is down, none of it an incident to page on); the
  conversation rate is lowered so people a minute stay the same. The real Xfinity 2020 tweets do this: 3-6
  people within minutes, outside every listed incident, make most of the CUSUM rule's alerts there, while
  their single minutes look nearly Poisson.
* **Busy bursty** (``busy_stream``): five-minute buckets, NAB-like tweet counts with no outage: mean
  ``level`` x daily and weekly rhythm x a log-normal AR(1) burst factor (sd ``burst_sd``, persistence
  ``burst_memory`` per bucket), drawn negative-binomial with dispersion ``dispersion``.
* **Step shift** (``step_stream``): Poisson counts at ``mean`` per bucket, times ``ratio`` from bucket
  ``change_at`` on (for the detection delay against the optimal CUSUM's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from detector.records import Bucket

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday
MINUTE = timedelta(minutes=1)
CLUSTER_P = 0.25  # clustered streams: P(a conversation brings k or more people) = CLUSTER_P^(k-1)


@dataclass(frozen=True)
class Incident:
    """A planted outage: when its reports start and end, how many people, and when the third reported."""

    start: datetime
    end: datetime
    people: int
    third_report: datetime
    five_in_fifteen: bool  # at least 5 people reported within some 15 minutes


def _rhythm(minutes: np.ndarray) -> np.ndarray:
    hours = (minutes / 60.0) % 24
    day = (minutes // 1440) % 7
    daily = 1 + 0.6 * np.cos(2 * math.pi * (hours - 15) / 24)
    weekly = np.where(day >= 5, 0.6, 1.0)
    return daily * weekly / 1.0


def support_stream(weeks: float = 8, seed: int = 0, posts_per_hour: float = 3.0, complaint_share: float = 0.2,
                   small_per_week: float = 9.0, large_per_week: float = 0.3, tv_per_week: float = 0.5,
                   incidents: bool = True, wander_sd: float = 0.0, wander_hours: float = 6.0,
                   cluster_p: float = 0.0, cluster_minutes: int = 5) -> tuple[list[Bucket], list[Incident]]:
    """A sparse support-account stream (see the module doc) and its planted incidents."""
    rng = np.random.default_rng(seed)
    total = int(weeks * 7 * 1440)
    minutes = np.arange(total)
    # conversations a minute: 2.2 posts each on average, and 1 / (1 - cluster_p) people
    rate = posts_per_hour / 60 / 2.2 * (1 - cluster_p) * _rhythm(minutes)
    if wander_sd > 0:
        rate = rate * _wander(rng, total, wander_sd, wander_hours * 60)
    starts = np.nonzero(rng.random(total) < rate)[0]
    posts: list[tuple[int, int, bool]] = []  # (minute, person, reports an outage)
    person = 0
    for minute in starts:
        complaint = rng.random() < complaint_share
        size = 1 if cluster_p <= 0 else int(rng.geometric(1 - cluster_p))  # P(size >= k) = cluster_p^(k-1)
        for joined in range(size):
            person += 1
            first = minute + (0 if joined == 0 else int(rng.integers(0, cluster_minutes + 1)))
            for k in range(rng.integers(1, 5)):
                at = first + (0 if k == 0 else int(rng.integers(1, 30)))
                posts.append((at, person, complaint))
    truth: list[Incident] = []
    if incidents:
        for count, low, high, spread in ((small_per_week, 3, 10, (5, 20)), (large_per_week, 20, 60, (30, 90))):
            for _ in range(rng.poisson(count * weeks)):
                begin = int(rng.integers(1440, total - 200))
                people = int(rng.integers(low, high + 1))
                length = int(rng.integers(*spread))
                times = np.sort(begin + rng.integers(0, length + 1, people))
                for at in times:
                    person += 1
                    posts.append((int(at), person, True))
                    if rng.random() < 0.5:  # a follow-up from the same person
                        posts.append((int(at + rng.integers(1, 20)), person, True))
                windowed = max(int(np.sum((times >= t) & (times < t + 15))) for t in times)
                truth.append(Incident(T0 + int(times[0]) * MINUTE, T0 + int(times[-1] + 1) * MINUTE, people,
                                      T0 + int(times[min(2, people - 1)]) * MINUTE, windowed >= 5))
    for _ in range(rng.poisson(tv_per_week * weeks)):
        begin = int(rng.integers(1440, total - 100))
        for at in begin + rng.integers(0, 60, int(rng.integers(40, 151))):
            person += 1
            posts.append((int(at), person, rng.random() < 0.02))
    return _bucket(posts, total), sorted(truth, key=lambda i: i.start)


def clustered_stream(weeks: float = 8, seed: int = 0, cluster_p: float = CLUSTER_P,
                     incidents: bool = True) -> tuple[list[Bucket], list[Incident]]:
    """A support stream whose people arrive in clusters (see the module doc), incidents planted as usual."""
    return support_stream(weeks=weeks, seed=seed, cluster_p=cluster_p, incidents=incidents)


def _wander(rng: np.random.Generator, total: int, sd: float, minutes: float) -> np.ndarray:
    """A log-normal factor of mean 1 whose log is an AR(1) with stationary sd ``sd`` and correlation time
    ``minutes`` (drawn hourly and held within the hour)."""
    hours = total // 60 + 1
    memory = math.exp(-60.0 / minutes)
    noise = rng.normal(0.0, sd * math.sqrt(1 - memory**2), hours)
    level = np.zeros(hours)
    level[0] = rng.normal(0.0, sd)
    for i in range(1, hours):
        level[i] = memory * level[i - 1] + noise[i]
    return np.exp(np.repeat(level, 60)[:total] - sd**2 / 2)


def _bucket(posts: list[tuple[int, int, bool]], total: int) -> list[Bucket]:
    mentions = np.zeros(total, dtype=int)
    authors: dict[int, set] = {}
    reporters: dict[int, set] = {}
    last_report: dict[int, int] = {}
    for minute, person, complaint in sorted(posts):
        if minute >= total:
            continue
        mentions[minute] += 1
        authors.setdefault(minute, set()).add(person)
        if complaint and minute - last_report.get(person, -10**9) >= 60:  # a person's first report in the hour
            reporters.setdefault(minute, set()).add(person)
            last_report[person] = minute
    buckets = []
    for minute in range(total):
        start = T0 + minute * MINUTE
        people = len(authors.get(minute, ()))
        complaining = len(reporters.get(minute, ()))
        buckets.append(Bucket("support", start, start + MINUTE, mentions=int(mentions[minute]),
                              complaints=complaining, misinformation=0, people=people,
                              complaint_people=complaining))
    return buckets


def busy_stream(weeks: float = 8, seed: int = 0, level: float = 50.0, dispersion: float = 0.05,
                burst_sd: float = 0.25, burst_memory: float = 0.8) -> list[Bucket]:
    """A busy, bursty five-minute series with no outage (see the module doc)."""
    rng = np.random.default_rng(seed)
    total = int(weeks * 7 * 288)
    minutes = np.arange(total) * 5
    burst = np.zeros(total)
    noise = rng.normal(0, burst_sd * math.sqrt(1 - burst_memory**2), total)
    for i in range(1, total):
        burst[i] = burst_memory * burst[i - 1] + noise[i]
    mean = level * _rhythm(minutes) * np.exp(burst - burst_sd**2 / 2)
    r = 1 / dispersion
    counts = rng.negative_binomial(r, r / (r + mean))
    width = timedelta(minutes=5)
    return [Bucket("busy", T0 + i * width, T0 + (i + 1) * width, mentions=int(c), complaints=int(c),
                   misinformation=0, people=int(c), complaint_people=int(c)) for i, c in enumerate(counts)]


def step_stream(mean: float, ratio: float, change_at: int, length: int, seed: int = 0,
                width: timedelta = MINUTE) -> list[Bucket]:
    """Poisson counts at ``mean`` a bucket, ``ratio`` times that from bucket ``change_at`` on."""
    rng = np.random.default_rng(seed)
    rates = np.where(np.arange(length) >= change_at, mean * ratio, mean)
    counts = rng.poisson(rates)
    return [Bucket("step", T0 + i * width, T0 + (i + 1) * width, mentions=int(c), complaints=int(c),
                   misinformation=0, people=int(c), complaint_people=int(c)) for i, c in enumerate(counts)]
