"""The default volume detector: count CUSUMs on the seasonal baseline, with the threshold set from a budget.

**The promise.** On a stream with no outage whose counts follow the learned baseline (a seasonal
negative-binomial: expected count x time-of-day x day-of-week, with the series' own overdispersion), the
detector raises on average ``false_alerts_per_week`` alerts a week (per service), whatever the stream's
volume, burstiness or bucket width. The budget is the only knob a user needs; an alert episode counts once.

**The rule.** For each of a few shift sizes ``ratio`` (the rate is 1.5, 2, 4, 10 or 30 times expected) a
one-sided CUSUM (Page 1954) accumulates the negative-binomial log-likelihood ratio of each bucket's count
``x`` under "``ratio`` x expected" against "expected": ``S = max(0, S + log LR(x))``. Against a known shift
the CUSUM is the detector with the smallest worst-case delay for a given false-alarm rate (Lorden 1971,
Moustakides 1986); several shift sizes cover the ones we do not know. Each CUSUM's threshold ``h`` is the
height whose average run length to a false alarm is ``K`` weeks / budget (``K`` CUSUMs share the budget,
Bonferroni), computed exactly for the current expected count and dispersion (``thresholds``), in buckets of
the series' own width, so 1-minute and 5-minute series keep the same weekly rate. An alert also needs
``min_count`` units (people) in the CUSUM's current run, after ``warmup_minutes``. The promise starts once
the baseline has seen a whole day: before that it does not know the daily rhythm, and on a busy series with
a strong one the first day can raise a few false alerts (every false alert the synthetic busy streams raised
came in their first day). A longer ``warmup_minutes`` (1440) removes them at the cost of a deaf first day.

**What is kept from the seasonal detector** (this class reuses its baseline): the seasonal expectation is
learned robustly (a bucket is learned ``learn_delay_minutes`` after it was judged and not at all, beyond a
cap, when an alert-worthy bucket came in between; others are capped at three standard deviations), the
metric is distinct people by default, open buckets are judged against the elapsed part of the bucket so an
alert fires on the post that tips it, decisions are causal, and maintenance windows mark detections
suppressed. Nothing learns the bar from the series' record of surprises: the threshold depends only on the
budget, the expected count and the dispersion.

**When it learns.** A bucket holding units is learned ``learn_delay_minutes`` after it was judged, as
above; a bucket without units waits longer, for the next such moment or the end of the clock hour, and all
that is due then is learned in one batch against the factors and dispersions the batch began with (they
are refreshed once, after it). So through a quiet stretch the baseline moves once an hour, not once a
minute, and an hour of empty minutes shares one expectation, one CUSUM step and one threshold: a sparse
stream's year of empty minutes costs a few calls an hour (``skip_empty``), not half a million. A busy stream
(units in every bucket) learns exactly as before; a bucket judged within the learn delay before an alert
is still its run-up.

**Dispersion.** The per-bucket dispersion is the largest the window sums show (``n`` buckets summed
with dispersion ``D`` behave like independent buckets of dispersion ``n D``, so bursts that last several
buckets count in full), learned from every window outside alert episodes, uncapped, shrunk toward Poisson when a bucket
expects little (weight ``m^2 / (m^2 + 0.1)`` for an expected count ``m``): at a few people an hour a bucket
holds 0 or 1 and two people in a minute is the signal, not noise; a busy bursty series (hundreds a bucket)
keeps its whole overdispersion, so its bursts do not add up to false alarms.

**Cluster size, per CUSUM** (``scales``; only with ``scale_clusters``, off by default). Independent
buckets cannot say how a stream wanders over hours, and the slow CUSUMs (1.5x, 2x, 4x) sum over hours on a
sparse stream. With the setting, each CUSUM reads the window sums' dispersion at its own span (about
log(ARL) / KL buckets) and, when they vary more than its per-bucket model says, counts units in clusters of
that ratio: its log-likelihood ratio is divided by the cluster size and its threshold is the exact one for
the cluster counts. Spans expecting under one unit (the 10x and 30x CUSUMs) count single units.

**Clustered arrivals** (``clustered_arrivals``; off by default). People do not arrive one by one: a reply
thread, a street whose line is down, bring several within minutes, so a count is compound Poisson, whose
variance is an index times the mean however little is expected, while the negative binomial above is
nearly Poisson at a few people an hour (the quadratic term vanishes with the mean). On the real Xfinity
stream that is where most alerts outside its incidents come from: 3-6 people within minutes at a quiet
hour. With the setting, each CUSUM reads a bucket with at least the clustering the stream shows over the
span that CUSUM sums (``integration_buckets``; the tested window closest below it): dispersion
``index / expected`` (a negative binomial whose variance is ``(1 + index) x expected``), where ``index``
is ``(sum (x - E)^2 - sum E) / sum E`` over that window's sums, decayed like the dispersion and learned
outside alert episodes (their run-up and ``rearm_minutes`` after each crossing), so an incident the rule
caught does not teach it that incidents are noise. The small incidents it misses still do, so the index
is shrunk toward Poisson's (0) by a prior worth ``_INDEX_PRIOR`` (1000) expected units, chosen
leave-one-stream-out (3 of 5 folds; 100 in the others): a sparse support stream, whose decayed window sums
hold a few hundred, keeps most of the shrinkage (with 100 its index climbed on the incidents it missed
until it missed most of them). The threshold is then the exact one for that law. Off by default: it
alerts later on small incidents (docs/volume-detection.md).

**The band** a detection reports (``upper``, which keeps an incident open while counts stay above it) is
three standard deviations of the bucket's count above expected. How big an incident is (its severity) is
read from the CUSUM's current run or the tested windows (5, 15, 60 minutes), whichever is further above
expected.

**Re-arm.** After an alert every CUSUM restarts at zero; a crossing within ``rearm_minutes`` of the last one
belongs to the same episode and does not alert again (the re-arm, the warm-up and maintenance windows are
the decision every model shares, ``decision``; this model calls every crossing decisive, so the duration
rule does not hold it back).

>>> from datetime import datetime, timedelta, timezone
>>> from detector.records import Bucket
>>> from detector.volume.registry import build_detector
>>> from detector.volume.settings import VolumeSettings
>>> detector = build_detector(VolumeSettings(metric="mentions"), service="isp")
>>> t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
>>> minute = timedelta(minutes=1)
>>> quiet = [detector.update(Bucket("isp", t0 + i * minute, t0 + (i + 1) * minute, mentions=i % 30 == 0))
...          for i in range(600)]
>>> any(d.alert for d in quiet)
False
>>> burst = Bucket("isp", t0 + 600 * minute, t0 + 601 * minute, mentions=8, as_of=t0 + 600 * minute + 40 * minute / 60)
>>> detector.score(burst).alert
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from typing import Callable

from detector.records import Bucket
from detector.volume.base import Finding
from detector.volume.seasonal import SeasonalDetector, SeasonalModel, SeasonalState, _hours, _Pending
from detector.volume.settings import VolumeSettings, metric_value
from detector.volume.scales import cluster_size, integration_buckets
from detector.volume.thresholds import threshold_for

RATIOS = (1.5, 2.0, 4.0, 10.0, 30.0)
_WEEK_SECONDS = 7 * 86400
_HOUR = timedelta(hours=1)
_RESOLUTION = timedelta(seconds=1)  # of post timestamps: the least time an open bucket has been watched
# the clustering index is shrunk toward Poisson's (0) by a prior worth this many expected units (window sums
# of E add E each): chosen leave-one-stream-out from 10, 100, 1000 (3 of 5 folds, note h-detect); a sparse
# stream, whose decayed sums hold a few hundred, keeps most of the shrinkage: its missed incidents move it little
_INDEX_PRIOR = 1000.0
_SPARSE = 0.1  # a bucket expecting m units keeps m^2 / (m^2 + _SPARSE) of the learned overdispersion


@dataclass
class CusumState:
    """The CUSUMs of one service: their statistics and what their current runs hold; plain data."""

    stats: list[float] = field(default_factory=lambda: [0.0] * len(RATIOS))
    run_sums: list[float] = field(default_factory=lambda: [0.0] * len(RATIOS))
    run_expected: list[float] = field(default_factory=lambda: [0.0] * len(RATIOS))
    units_until: datetime | None = None  # end of the oldest bucket with units not learned yet (``_learn_due``)
    # ``clustered_arrivals``: per tested window, decayed sums of (S - E)^2 and of E over the windows learned
    # outside alert episodes, and where the last episode ends (a crossing + ``rearm_minutes``)
    cluster_sq: list[float] = field(default_factory=list)
    cluster_mean: list[float] = field(default_factory=list)
    episode_until: datetime | None = None

    def __setstate__(self, state: dict) -> None:
        state.setdefault("cluster_sq", [])  # pickled before clustered_arrivals existed
        state.setdefault("cluster_mean", [])
        state.setdefault("episode_until", None)
        self.__dict__.update(state)


@dataclass
class _Decision:
    value: float
    expected: float  # of the (elapsed part of the) bucket
    stats: list[float]
    run_sums: list[float]
    run_expected: list[float]
    crossing: int | None  # index of the CUSUM that crossed its threshold (the most decisive), if any
    thresholds: list[float]
    dispersion: float
    window_sums: tuple[tuple[float, float], ...]


class CusumModel(SeasonalModel):
    """Seasonal baseline (learned robustly) + negative-binomial CUSUMs whose threshold is a weekly budget.
    The registry wraps it in the shared decision (``decision``); every crossing is decisive there (the
    CUSUM has summed its evidence over time already), so the duration rule never holds it back."""

    def __init__(self, settings: VolumeSettings, service: str) -> None:
        self.cusum_ = CusumState()
        super().__init__(settings, service)

    def _derive(self) -> None:
        super()._derive()
        self._budget = self.settings.budget_for(self.service)

    def _reference_length(self, width: timedelta) -> int:
        return 0  # the usual-volume test belongs to the previous rule; the CUSUM's slow shifts cover it

    def _state_for(self, bucket: Bucket) -> SeasonalState:
        fresh = self.state_ is None
        state = super()._state_for(bucket)
        if fresh:
            state.surprises = None  # no record of surprises: the bar never learns from the series
        return state

    # -- the model contract ---------------------------------------------------------------------------

    def judge(self, bucket: Bucket, closing: bool) -> Finding:
        state = self._state_for(bucket)
        if closing and state.last_end is not None and bucket.start != state.last_end:
            state.recent.clear()  # a gap: earlier buckets are not adjacent
            state.windows_ = []
        decision = self._decide(state, bucket)
        s = self.settings
        significant = decision.crossing is not None
        closest = decision.crossing
        if closest is None:
            closest = max(range(len(RATIOS)), key=lambda i: decision.stats[i] / decision.thresholds[i])
        statistic, h = decision.stats[closest], decision.thresholds[closest]
        reason = ""
        if significant:
            reason = (f"{decision.run_sums[closest]:g} {s.metric} since the rise began, "
                      f"{RATIOS[closest]:g}x expected fits {math.exp(min(statistic, 700)):.3g} times better "
                      f"than usual (threshold {math.exp(min(h, 700)):.3g}, for {self._budget:g} false alerts "
                      f"a week)")
        score = statistic / h if math.isfinite(h) and h > 0 else 0.0
        # how big it is: the CUSUM's run, or a window if that says more (a window alone once it is over)
        windows = list(decision.window_sums)
        ongoing = max(windows, key=_above_expected)
        deciding = max([*windows, (decision.run_sums[closest], decision.run_expected[closest])],
                       key=_above_expected) if significant else None
        expected, dispersion = decision.expected, decision.dispersion
        return Finding(decision.value, expected, expected + 3.0 * math.sqrt(expected * (1 + dispersion * expected)),
                       max(0.0, min(1.0, score)), significant, True, reason, deciding, ongoing, decision)

    def learn(self, bucket: Bucket, finding: Finding, significant: bool, suppressed: bool) -> None:
        state = self.state_
        decision = finding.detail
        cusum = self.cusum_
        if significant:
            cusum.episode_until = bucket.end + timedelta(minutes=self.settings.rearm_minutes)
            cusum.stats = [0.0] * len(RATIOS)  # the episode is counted: every CUSUM starts again
            cusum.run_sums = [0.0] * len(RATIOS)
            cusum.run_expected = [0.0] * len(RATIOS)
            # the run-up to an incident (what was judged within the learn delay) is part of it: not learned
            # as normal; older buckets wait only for the hour's end (``_learn_due``) and stay normal
            run_up = bucket.start - self._learn_delay
            for entry in reversed(state.pending):
                if entry.start + entry.width <= run_up:
                    break
                entry.anomalous = True
        else:
            cusum.stats, cusum.run_sums, cusum.run_expected = decision.stats, decision.run_sums, decision.run_expected
        self._remember(state, bucket.start, decision.value, bucket.width)
        warming = state.seen_hours * 60 < self.settings.warmup_minutes
        learned = _Learned(decision.value, decision.expected, decision.window_sums)
        state.pending.append(_Pending(bucket.start, bucket.width, learned, significant, warming, suppressed))
        if decision.value > 0 and cusum.units_until is None:
            cusum.units_until = bucket.end
        self._learn_due(state, bucket.start, bucket.end)
        state.seen_hours += _hours(bucket.width)
        state.last_end = bucket.end

    def _learn_due(self, state: SeasonalState, start: datetime, end: datetime) -> None:
        """After the bucket [start, end): when a bucket with units has waited ``learn_delay_minutes``, or
        [start, end) reaches a clock hour's end, learn every pending bucket that has waited that long, in
        one batch (``_learn_all``). So a bucket with units is learned when it always was; one without waits
        for the next of those moments, and a quiet hour is learned in one batch, not minute by minute."""
        horizon = end - self._learn_delay
        cusum = self.cusum_
        if (cusum.units_until is None or cusum.units_until > horizon) and \
                end < start.replace(minute=0, second=0, microsecond=0) + _HOUR:
            return
        pending = state.pending
        due = []
        while pending and pending[0].start + pending[0].width <= horizon:
            entry = pending.popleft()
            if not entry.suppressed:
                due.append(entry)
        if due:
            self._learn_all(state, due)
        if cusum.units_until is not None and cusum.units_until <= horizon:  # the next one waiting, if any
            cusum.units_until = next((entry.start + entry.width for entry in pending if entry.judgement.value > 0),
                                     None)

    def skip_empty(self, start: datetime, width: timedelta, count: int,
                   suppressed: Callable[[datetime, datetime], bool] | None) -> int:
        """Learn up to ``count`` empty closed buckets from ``start`` as judge-then-learn would, stopping
        before the first whose CUSUM would cross; return how many were learned.

        A count of 0 only lowers a CUSUM (its log LR is never positive), so an empty bucket crosses only
        while a statistic from before is still above zero and its run holds ``min_count``: the threshold is
        looked up only then, and no Detection is made (the caller skips buckets whose detection is quiet).
        Between learning moments (``_learn_due``: about one an hour in a quiet stretch) the expectation
        and dispersions stand still, so each CUSUM's step and threshold are worked out once for them.
        Everything else is ``judge`` and ``learn``'s own arithmetic in the same order, so the state afterwards is the
        one ``count`` calls of ``update`` leave, to the bit (tests/test_volume_skip.py). How a CUSUM steps
        and where it alarms are ``_step`` and ``_threshold``, which ``_decide`` uses too: change them there.
        """
        if self.state_ is None or count <= 0:
            return 0  # the first bucket builds the state: update() does that
        s = self.settings
        service = self.service
        state = self._state_for(Bucket(service, start, start + width))
        if state.last_end is not None and start != state.last_end:
            state.recent.clear()  # a gap: earlier buckets are not adjacent
            state.windows_ = []
        cusum = self.cusum_
        hours = _hours(width)
        run_length = self._run_length(width)
        learn_delay, warmup, min_count = self._learn_delay, s.warmup_minutes, s.min_count
        pending = state.pending
        # Between learning moments the steps and thresholds stay the same: worked out once for the
        # expectation and dispersions they were worked out for.
        memo_for: tuple[float, list[float]] | None = None
        steps: list[float | None] = []
        thresholds: list[float | None] = []
        hour_end = start  # the end of start's clock hour, worked out when start reaches it
        done = 0
        while done < count:
            end = start + width
            if start >= hour_end:
                hour_end = start.replace(minute=0, second=0, microsecond=0) + _HOUR
            hod, dow = state.hod_factors_, state.dow_factors_
            scale = self._rate(state) * hours
            whole = scale * hod[start.hour] * dow[start.weekday()]
            stats, run_sums, run_expected = cusum.stats, cusum.run_sums, cusum.run_expected
            if any(stats):  # a statistic at zero stays there: max(0, 0 + log LR(0)) is 0
                if memo_for is None or memo_for[0] != whole or memo_for[1] is not state.dispersions_:
                    memo_for = (whole, state.dispersions_)
                    dispersion = self.bucket_dispersion(state, whole, width)  # read only by the steps
                    steps, thresholds = [None] * len(RATIOS), [None] * len(RATIOS)
                stats, run_sums, run_expected = [], [], []
                for index, ratio in enumerate(RATIOS):
                    if not cusum.stats[index]:  # at zero it stays there, its run empty (as _decide finds)
                        stats.append(0.0)
                        run_sums.append(0.0)
                        run_expected.append(0.0)
                        continue
                    step = steps[index]
                    if step is None:
                        step = steps[index] = self._step(state, ratio, 0.0, whole, whole, dispersion, width)
                    statistic = max(0.0, cusum.stats[index] + step)
                    run_sum = cusum.run_sums[index] + 0.0 if statistic > 0 else 0.0
                    if statistic > 0 and run_sum >= min_count:
                        h = thresholds[index]
                        if h is None:
                            h = thresholds[index] = self._threshold(state, ratio, whole, dispersion, run_length, width)
                        if statistic >= h:
                            return done  # this bucket crosses: update() judges it, with its detection
                    stats.append(statistic)
                    run_sums.append(run_sum)
                    run_expected.append(cusum.run_expected[index] + whole if statistic > 0 else 0.0)
            window_sums = self._window_sums(state, start, width, 0.0, whole, scale)
            cusum.stats, cusum.run_sums, cusum.run_expected = stats, run_sums, run_expected
            self._remember(state, start, 0.0, width)
            pending.append(_Pending(start, width, _Learned(0.0, whole, window_sums), False,
                                    state.seen_hours * 60 < warmup, suppressed is not None and suppressed(start, end)))
            units_until = cusum.units_until
            if end >= hour_end or (units_until is not None and units_until <= end - learn_delay):
                self._learn_due(state, start, end)  # a learning moment (the others it would pass over)
            state.seen_hours += hours
            state.last_end = end
            start = end
            done += 1
        return done

    def _learn_all(self, state: SeasonalState, entries) -> None:
        """The seasonal learning, and (``clustered_arrivals``) the clustering index's sums: every tested
        window outside an alert episode (its run-up, and up to ``rearm_minutes`` after its last crossing), so
        an incident the rule caught does not teach it that incidents are the stream's noise."""
        super()._learn_all(state, entries)
        if not self.settings.clustered_arrivals:
            return
        cusum = self.cusum_
        for entry in entries:
            if entry.warming:
                continue
            sums = entry.judgement.window_sums
            if len(cusum.cluster_sq) != len(sums):
                cusum.cluster_sq, cusum.cluster_mean = [0.0] * len(sums), [0.0] * len(sums)
            decay = self._decays(_hours(entry.width))[2]
            episode = entry.anomalous or (cusum.episode_until is not None and entry.start < cusum.episode_until)
            for i, (window_sum, window_expected) in enumerate(sums):
                cusum.cluster_sq[i] *= decay
                cusum.cluster_mean[i] *= decay
                if window_expected > 0 and not episode:
                    cusum.cluster_sq[i] += (window_sum - window_expected) ** 2
                    cusum.cluster_mean[i] += window_expected

    def _step(self, state: SeasonalState, ratio: float, value: float, expected: float, whole: float,
              dispersion: float, width: timedelta) -> float:
        """One CUSUM's increment for a bucket holding ``value`` where ``expected`` (of ``whole`` for the
        whole bucket) was expected: the count's log LR under ``ratio`` x expected, in clusters (see
        ``_cluster``). ``skip_empty`` relies on it being at most 0 for a count of 0."""
        dispersion = self._clustered(state, ratio, expected, whole, dispersion, width)
        return _log_lr(value, ratio, expected, dispersion) / self._cluster(state, ratio, whole, dispersion, width)

    def _threshold(self, state: SeasonalState, ratio: float, whole: float, dispersion: float,
                   run_length: float, width: timedelta) -> float:
        """The height at which the CUSUM for ``ratio`` alarms: its false-alarm ARL is ``run_length`` buckets."""
        dispersion = self._clustered(state, ratio, whole, whole, dispersion, width)
        cluster = self._cluster(state, ratio, whole, dispersion, width)
        return threshold_for(run_length, ratio, whole / cluster, dispersion * cluster)

    def _clustered(self, state: SeasonalState, ratio: float, expected: float, whole: float, dispersion: float,
                   width: timedelta) -> float:
        """The dispersion the CUSUM for ``ratio`` reads a bucket expecting ``expected`` (of ``whole``) with:
        with ``clustered_arrivals``, at least the clustering the stream shows over the span that CUSUM sums
        (``clustering_index``), as a compound Poisson (variance = index x expected); else ``dispersion``."""
        if not self.settings.clustered_arrivals or expected <= 0:
            return dispersion
        span = integration_buckets(ratio, whole, self._run_length(width))
        index = clustering_index(self.cusum_, self._window_lengths(width), span)
        return max(dispersion, index / expected)

    def _cluster(self, state: SeasonalState, ratio: float, whole: float, dispersion: float,
                 width: timedelta) -> float:
        """How many people the CUSUM for ``ratio`` counts as one (``scales``); 1 unless ``scale_clusters``."""
        if not self.settings.scale_clusters:
            return 1.0
        span = integration_buckets(ratio, whole, self._run_length(width))
        return cluster_size(span, whole, dispersion, self._window_lengths(width), state.dispersions_)

    def _run_length(self, width: timedelta) -> float:
        """The false-alarm ARL each CUSUM is held to, in buckets of ``width``: K weeks / budget (Bonferroni)."""
        return len(RATIOS) * _WEEK_SECONDS / width.total_seconds() / self._budget

    def _spread_value(self, window_sum: float, window_expected: float, dispersion: float) -> float:
        """Uncapped: the bursts a busy series shows outside its alert episodes are its noise, whole."""
        return window_sum

    # -- deciding -------------------------------------------------------------------------------------

    def bucket_dispersion(self, state: SeasonalState, expected: float, width: timedelta) -> float:
        """The per-bucket negative-binomial dispersion the CUSUMs assume (see the module doc)."""
        if not state.dispersions_:
            return 0.0
        lengths = self._window_lengths(width)
        weight = expected * expected / (expected * expected + _SPARSE)
        return max(n * d for n, d in zip(lengths, state.dispersions_)) * weight

    def _decide(self, state: SeasonalState, bucket: Bucket) -> _Decision:
        s = self.settings
        # A post stamped at the bucket's first second has been seen over at least that second (timestamps
        # come in whole seconds): judged against no time at all, its expectation would be 0 and one person
        # infinitely surprising (89 of the 153 alerts outside incidents on the real Xfinity stream).
        elapsed = max(_RESOLUTION, bucket.as_of - bucket.start)
        fraction = 1.0 if bucket.closed else min(1.0, elapsed / bucket.width)
        value = metric_value(bucket, s.metric)
        hod, dow = state.hod_factors_, state.dow_factors_
        scale = self._rate(state) * _hours(bucket.width)
        whole = scale * hod[bucket.start.hour] * dow[bucket.start.weekday()]
        expected = whole * fraction
        dispersion = self.bucket_dispersion(state, whole, bucket.width)
        run_length = self._run_length(bucket.width)
        cusum = self.cusum_
        stats, run_sums, run_expected, thresholds = [], [], [], []
        crossing, best = None, 0.0
        for index, ratio in enumerate(RATIOS):
            step = self._step(state, ratio, value, expected, whole, dispersion, bucket.width)
            statistic = max(0.0, cusum.stats[index] + step)
            run_sum = cusum.run_sums[index] + value if statistic > 0 else 0.0
            run_expected.append(cusum.run_expected[index] + expected if statistic > 0 else 0.0)
            h = self._threshold(state, ratio, whole, dispersion, run_length, bucket.width)
            stats.append(statistic)
            run_sums.append(run_sum)
            thresholds.append(h)
            if statistic >= h and run_sum >= s.min_count and statistic / h > best:
                crossing, best = index, statistic / h
        return _Decision(value, expected, stats, run_sums, run_expected, crossing, thresholds, dispersion,
                         self._window_sums(state, bucket.start, bucket.width, value, expected, scale))

    def _window_sums(self, state: SeasonalState, start: datetime, width: timedelta, value: float,
                     expected: float, scale: float) -> tuple[tuple[float, float], ...]:
        """Each window's sum and expected sum ending with the bucket at ``start`` (what the dispersion
        learns from)."""
        hod, dow = state.hod_factors_, state.dow_factors_
        lengths = self._window_lengths(width)
        adjacent = state.last_end is None or start == state.last_end
        windows = state.windows_ if adjacent and len(state.windows_) == len(lengths) else None
        sums = []
        recent = None
        for index, length in enumerate(lengths):
            if windows is not None and not windows[index].fractional:
                window_expected = expected
                for (hour, weekday), count in windows[index].slots.items():
                    window_expected += count * (scale * hod[hour] * dow[weekday])
                sums.append((value + windows[index].value_sum, window_expected))
                continue
            if recent is None:
                recent = list(state.recent)
            earlier = recent[len(recent) - min(length - 1, len(recent)):] if length > 1 else []
            sums.append((value + sum(v for _, v in earlier),
                         expected + sum(scale * hod[start.hour] * dow[start.weekday()] for start, _ in earlier)))
        return tuple(sums)


@dataclass(slots=True)
class _Learned:
    """What the seasonal baseline's learning reads from a judged bucket: all a pending bucket keeps."""

    value: float
    expected: float
    window_sums: tuple[tuple[float, float], ...]


@dataclass
class _AsJudgement:
    """What the seasonal baseline's learning reads from a judged bucket (as pickled before ``_Learned``)."""

    decision: _Decision

    @property
    def value(self) -> float:
        return self.decision.value

    @property
    def expected(self) -> float:
        return self.decision.expected

    @property
    def window_sums(self) -> tuple[tuple[float, float], ...]:
        return self.decision.window_sums


def _log_lr(count: float, ratio: float, mean: float, dispersion: float) -> float:
    """log P(count | ratio x mean) / P(count | mean), negative binomial (Poisson when dispersion is 0)."""
    if mean <= 0:
        return 0.0 if count <= 0 else 50.0  # nothing expected at all: any count is strong evidence
    if dispersion <= 1e-9:
        return count * math.log(ratio) - (ratio - 1.0) * mean
    r = 1.0 / dispersion
    high = ratio * mean
    return count * (math.log(high / (high + r)) - math.log(mean / (mean + r))) + r * math.log((r + mean) / (r + high))


def _above_expected(pair: tuple[float, float]) -> float:
    """How far a (sum, expected sum) is above expected, with expected floored at one."""
    return pair[0] / max(pair[1], 1.0)


class CusumDetector(SeasonalDetector):
    """The CUSUM model in the shared decision, under the name its states were pickled with before the
    decision was split from the model (see ``SeasonalDetector``)."""

    model_class = CusumModel


def clustering_index(cusum: CusumState, lengths: list[int], span: float) -> float:
    """How much more than Poisson, per unit expected, the window sums over about ``span`` buckets vary: the
    index of dispersion minus one, ``(sum (x - E)^2 - sum E) / sum E`` over the windows learned outside alert
    episodes (the tested window closest below the span, the shortest if none), at least 0.

    Why: people who arrive together (a reply thread, a street losing its line) make a count compound Poisson,
    whose variance is index x mean however little is expected; the negative binomial's quadratic term vanishes
    as the mean does, so a sparse bucket is read as Poisson and three people in ten minutes at night look like
    an outage. The index is shrunk toward Poisson's by a prior worth ``_INDEX_PRIOR`` expected units."""
    if not cusum.cluster_mean:
        return 0.0
    chosen = 0
    for index, length in enumerate(lengths):
        if length <= span:
            chosen = index
    sq, mean = cusum.cluster_sq[chosen], cusum.cluster_mean[chosen]
    return max(0.0, (sq - mean) / (mean + _INDEX_PRIOR))
