"""The project's default volume detector: a seasonal count baseline with negative-binomial window tests.

Expected count of a bucket = level (per hour, deseasonalised, exponentially decayed) x time-of-day factor x
day-of-week factor x bucket width. The factors are Gamma-Poisson posterior means shrunk toward 1, so a
sparse series keeps a flat profile until it has the counts to support a shape, and a busy one learns its
shape within days. The decision sums the last few buckets over each configured window (5, 15, 60 minutes by
default) and asks how surprising that sum is under a negative binomial whose dispersion is learned from the
window sums themselves (weighted by information, so sparse series keep their prior). The smallest p-value is
then calibrated against the series' own record of surprises (see ``calibration``), so bursty series earn a
higher bar. An alert needs that calibrated p-value below ``alpha``, at least ``min_count`` units and
``min_ratio`` times the expected sum, after a warm-up, and a run of significance of ``min_duration_minutes``
unless the evidence is ``decisive_factor`` times stronger; then one incident gives one alert until the volume
has been normal for ``rearm_minutes`` (the warm-up, duration, re-arm and maintenance rules are the decision
every model shares, ``decision``; this model says whether a bucket is significant and whether the
evidence is decisive). Open buckets are judged too (``score``), against the part of the
bucket that has elapsed, so a decisive burst alerts on the post that tips it.

The level follows the series within a day, which keeps trends quiet but also absorbs a rise that builds
over hours. So one more window (``reference_window_minutes``, three hours) is tested against the usual
volume for this time of day: its sums at the same time on each of the last ``reference_days`` days (see
``reference``), which nothing within the day can move. Its p-value joins the windows' Bonferroni family
(so adding it does not raise the false-alarm rate) and is not calibrated: its dispersion is already the
series' own day-to-day spread.

Robust learning: a bucket is learned only ``learn_delay_minutes`` after it was judged; if an alert-worthy
bucket came in between it counts as the run-up of an incident and only nudges the level (capped at
``min_ratio`` x expected) and never the dispersion or the calibration. Other buckets are capped at three
standard deviations (or their Poisson 99.9% count) before they are learned.

>>> from datetime import datetime, timedelta, timezone
>>> from detector.records import Bucket
>>> from detector.volume.registry import build_detector
>>> from detector.volume.settings import VolumeSettings
>>> detector = build_detector(VolumeSettings(detector="seasonal", metric="mentions"), service="isp")
>>> t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
>>> minute = timedelta(minutes=1)
>>> quiet = [detector.update(Bucket("isp", t0 + i * minute, t0 + (i + 1) * minute, mentions=i % 30 == 0))
...          for i in range(600)]
>>> any(d.alert for d in quiet)
False
>>> burst = Bucket("isp", t0 + 600 * minute, t0 + 601 * minute, mentions=6, as_of=t0 + 600 * minute + 40 * minute / 60)
>>> detector.score(burst).alert
True
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta

from detector.records import Bucket
from detector.volume.base import Finding, VolumeModel
from detector.volume.calibration import SurpriseTail
from detector.volume.decision import DecidedDetector, Episode
from detector.volume.reference import MIN_DAYS, DailyReference, usual_mean_and_dispersion
from detector.volume.settings import VolumeSettings, metric_value
from detector.volume.tails import upper_quantile, upper_tail

_HUBER_SIGMAS = 3.0  # a value is learned at most this many standard deviations above expected
_LEARN_TAIL = 1e-3  # ... or its Poisson band at this tail, whichever is larger


@dataclass
class SeasonalState:
    """Everything the detector has learned for one service; plain data, so it pickles."""

    level_sum: float
    level_hours: float
    hod_seen: list[float] = field(default_factory=lambda: [0.0] * 24)
    hod_expected: list[float] = field(default_factory=lambda: [0.0] * 24)
    dow_seen: list[float] = field(default_factory=lambda: [0.0] * 7)
    dow_expected: list[float] = field(default_factory=lambda: [0.0] * 7)
    spread_sq: list[float] = field(default_factory=list)  # per window: decayed sum of (S - E)^2
    spread_mean: list[float] = field(default_factory=list)  # per window: decayed sum of E
    spread_mean_sq: list[float] = field(default_factory=list)  # per window: decayed sum of E^2
    recent: deque = field(default_factory=deque)  # (start, value) of the last closed buckets
    seen_hours: float = 0.0
    last_end: datetime | None = None
    surprises: SurpriseTail | None = None
    pending: deque = field(default_factory=deque)  # judged buckets not learned yet
    alert_surprise_: float | None = None  # cache of the bar, cleared whenever the surprise tail learns
    # Derived from the above, kept so a bucket costs microseconds (rebuilt when an older pickle is loaded):
    last_bar_: float | None = None  # the previous bar: where the next search for it starts
    hod_factors_: list[float] = field(default_factory=list)  # _normalised(hod_seen, hod_expected)
    dow_factors_: list[float] = field(default_factory=list)
    windows_: list["_RecentWindow"] = field(default_factory=list)  # per window, its earlier buckets in sum
    band_guess_: float | None = None  # the shortest window's band a bucket ago: where its search starts
    dispersions_: list[float] = field(default_factory=list)  # dispersions(), refreshed whenever they learn
    reference: DailyReference | None = None  # the reference window's sums at each time of day, last days

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "windows_" not in state:  # pickled before the derived fields existed: rebuilt on the next bucket
            self.last_bar_ = self.band_guess_ = None
            self.hod_factors_, self.dow_factors_, self.windows_, self.dispersions_ = [], [], [], []
        self.__dict__.setdefault("reference", None)  # pickled before the daily reference existed


@dataclass
class _RecentWindow:
    """The earlier buckets of one sliding window (its last ``earlier`` closed buckets), summed as they come
    and go: their values, how many are not whole (those are summed afresh, for the same rounding), and how
    many fall in each (hour, weekday) slot, so their expectation is one product per slot."""

    earlier: int
    value_sum: float = 0.0
    fractional: int = 0
    slots: dict = field(default_factory=dict)

    def add(self, start: datetime, value: float, sign: int) -> None:
        self.value_sum += sign * value
        if not float(value).is_integer():
            self.fractional += sign
        key = (start.hour, start.weekday())
        left = self.slots.get(key, 0) + sign
        if left:
            self.slots[key] = left
        else:
            del self.slots[key]


@dataclass
class _Pending:
    """A judged bucket waiting ``learn_delay_minutes`` before it is learned, in case it starts an incident."""

    start: datetime
    width: timedelta
    judgement: "_Judgement"
    anomalous: bool
    warming: bool
    suppressed: bool


@dataclass  # not frozen: never changed after it is made, and a frozen dataclass is slow to make
class _Judgement:
    value: float
    expected: float
    upper: float
    p_value: float  # calibrated: how often this series is this surprising
    surprise: float  # -log10 of the smallest window p-value under the count model
    significant: bool
    reason: str
    window_sums: tuple[tuple[float, float], ...]
    deciding: tuple[float, float] | None = None  # (sum, expected sum) of the window that decided
    reference_sum: float | None = None  # the reference window's sum, recorded for this time of day


class SeasonalModel(VolumeModel):
    """Seasonal count baseline learned online; count-aware sliding-window tests; early partial-bucket
    judgements. The registry wraps it in the shared decision (``decision``)."""

    def __init__(self, settings: VolumeSettings, service: str) -> None:
        super().__init__(settings, service)
        self.state_: SeasonalState | None = None  # built lazily, on the first bucket
        self._derive()

    def _derive(self) -> None:
        self._learn_delay = timedelta(minutes=self.settings.learn_delay_minutes)
        self._decay_cache: dict[float, tuple[float, float, float]] = {}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._derive()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_decay_cache"]  # derived from the settings; score() may fill it
        return state

    def _decays(self, hours: float) -> tuple[float, float, float]:
        """How much the level, the profile and the dispersion decay over ``hours``."""
        decays = self._decay_cache.get(hours)
        if decays is None:
            s = self.settings
            decays = self._decay_cache[hours] = (
                0.5 ** (hours / s.level_half_life_hours),
                0.5 ** (hours / (24 * s.profile_half_life_days)),
                0.5 ** (hours / (24 * s.dispersion_half_life_days)),
            )
        return decays

    # -- the model contract ---------------------------------------------------------------------------

    def judge(self, bucket: Bucket, closing: bool) -> Finding:
        """Judge ``bucket`` against what was learned so far (see module doc)."""
        state = self._state_for(bucket)
        if closing and state.last_end is not None and bucket.start != state.last_end:
            state.recent.clear()  # a gap (or a replay from elsewhere): earlier buckets are not adjacent
            state.windows_ = []
        judgement = self._judge(state, bucket, remember=closing)
        s = self.settings
        score = min(1.0, -math.log10(judgement.p_value) / (-2 * math.log10(s.seasonal.alpha)))
        decisive = judgement.p_value <= s.seasonal.alpha / s.seasonal.decisive_factor
        return Finding(judgement.value, judgement.expected, judgement.upper, max(0.0, score),
                       judgement.significant, decisive, judgement.reason, judgement.deciding, None, judgement)

    def learn(self, bucket: Bucket, finding: Finding, significant: bool, suppressed: bool) -> None:
        """Remember the closed ``bucket``; learn the bucket judged ``learn_delay_minutes`` ago."""
        state = self.state_
        judgement = finding.detail
        self._remember(state, bucket.start, judgement.value, bucket.width)
        if state.reference is not None and judgement.reference_sum is not None:
            state.reference.record(bucket.start, judgement.reference_sum)
        if significant:  # the run-up to an incident is part of it: do not learn it as normal
            for entry in state.pending:
                entry.anomalous = True
        warming = state.seen_hours * 60 < self.settings.warmup_minutes
        state.pending.append(_Pending(bucket.start, bucket.width, judgement, significant, warming, suppressed))
        horizon = bucket.end - self._learn_delay
        while state.pending and state.pending[0].start + state.pending[0].width <= horizon:
            entry = state.pending.popleft()
            if not entry.suppressed:  # maintenance volume is not what normal looks like
                self._learn(state, entry)
        state.seen_hours += _hours(bucket.width)
        state.last_end = bucket.end
        self._alert_surprise(state, len(self._tracked_lengths(bucket.width)))  # fill the cache: score() only reads

    def seen_hours(self) -> float:
        return 0.0 if self.state_ is None else self.state_.seen_hours

    # -- judging --------------------------------------------------------------------------------------

    def _window_lengths(self, width: timedelta) -> list[int]:
        """Each tested window in whole buckets (at least one), without duplicates, shortest first."""
        return _lengths_in_buckets(tuple(self.settings.windows_minutes), width.total_seconds())

    def _reference_length(self, width: timedelta) -> int:
        """The reference window in whole buckets; 0 when the reference test is off."""
        minutes = self.settings.seasonal.reference_window_minutes
        return max(1, round(minutes * 60 / width.total_seconds())) if minutes > 0 else 0

    def _tracked_lengths(self, width: timedelta) -> list[int]:
        """The windows whose earlier buckets are kept summed: the tested ones, then the reference window."""
        reference = self._reference_length(width)
        return self._window_lengths(width) + ([reference] if reference else [])

    def _state_for(self, bucket: Bucket) -> SeasonalState:
        if self.state_ is None:
            s = self.settings
            lengths = self._window_lengths(bucket.width)
            self.state_ = SeasonalState(
                level_sum=s.prior_rate_per_hour * s.prior_hours,
                level_hours=s.prior_hours,
                spread_sq=[0.0] * len(lengths),
                spread_mean=[0.0] * len(lengths),
                spread_mean_sq=[0.0] * len(lengths),
                surprises=SurpriseTail(24 * s.seasonal.calibration_half_life_days, s.seasonal.calibration_prior_hours),
            )
        state = self.state_
        keep = max(self._tracked_lengths(bucket.width)) - 1 or 1
        if state.recent.maxlen != keep:  # new, or pickled with other windows: keep what still fits
            state.recent = deque(state.recent, maxlen=keep)
            state.windows_ = []
        if state.reference is None and self._reference_length(bucket.width):
            state.reference = DailyReference(bucket.width.total_seconds(), self.settings.seasonal.reference_days)
        if not state.hod_factors_:
            self._refresh_factors(state)
            state.dispersions_ = self.dispersions(state)
        if not state.windows_ and state.recent:
            self._rebuild_windows(state, bucket.width)
        return state

    def _refresh_factors(self, state: SeasonalState) -> None:
        prior = self.settings.profile_prior_count
        state.hod_factors_ = _normalised(state.hod_seen, state.hod_expected, prior)
        state.dow_factors_ = _normalised(state.dow_seen, state.dow_expected, prior)

    def _rebuild_windows(self, state: SeasonalState, width: timedelta) -> None:
        """Sum each window's earlier buckets afresh from ``recent``."""
        state.windows_ = [_RecentWindow(length - 1) for length in self._tracked_lengths(width)]
        recent = list(state.recent)
        for window in state.windows_:
            for start, value in recent[len(recent) - min(window.earlier, len(recent)):] if window.earlier else []:
                window.add(start, value, 1)

    def _remember(self, state: SeasonalState, start: datetime, value: float, width: timedelta) -> None:
        """Append a closed bucket to ``recent`` and to each window's sums (dropping what slides out)."""
        if not state.windows_:
            self._rebuild_windows(state, width)
        recent = state.recent
        key, fractional = (start.hour, start.weekday()), not float(value).is_integer()
        for window in state.windows_:
            if not window.earlier:
                continue
            if len(recent) >= window.earlier:
                old_start, old_value = recent[-window.earlier]
                window.add(old_start, old_value, -1)
            window.value_sum += value
            window.fractional += fractional
            window.slots[key] = window.slots.get(key, 0) + 1
        recent.append((start, value))

    def expected_for(self, bucket: Bucket) -> float:
        """Expected value of a whole ``bucket`` under the baseline learned so far."""
        state = self._state_for(bucket)
        hod, dow = self._factors(state, bucket.start)
        return self._rate(state) * hod * dow * _hours(bucket.width)

    def _rate(self, state: SeasonalState) -> float:
        return state.level_sum / state.level_hours

    def _factors(self, state: SeasonalState, start: datetime) -> tuple[float, float]:
        return state.hod_factors_[start.hour], state.dow_factors_[start.weekday()]

    def dispersions(self, state: SeasonalState) -> list[float]:
        """Learned dispersion of each window's sum: a moment estimate shrunk toward the prior by information.

        A window sum with expectation E says about E^2 worth about the dispersion, so a sparse series (E of
        a tenth) keeps the prior for weeks while a busy one (E of hundreds) replaces it within minutes.
        """
        s = self.settings
        prior = s.dispersion_prior_weight
        result = []
        for sq, mean, mean_sq in zip(state.spread_sq, state.spread_mean, state.spread_mean_sq):
            result.append(max(0.0, (sq - mean + prior * s.dispersion_prior) / (mean_sq + prior)))
        return result

    def _judge(self, state: SeasonalState, bucket: Bucket, remember: bool = False) -> _Judgement:
        s = self.settings
        fraction = 1.0 if bucket.closed else max(0.0, (bucket.as_of - bucket.start) / bucket.width)
        value = metric_value(bucket, s.metric)
        hod, dow = state.hod_factors_, state.dow_factors_
        scale = self._rate(state) * _hours(bucket.width)
        expected = scale * hod[bucket.start.hour] * dow[bucket.start.weekday()] * fraction
        lengths = self._window_lengths(bucket.width)
        tracked = self._tracked_lengths(bucket.width)
        dispersions = state.dispersions_
        tests = len(tracked)  # Bonferroni over every window tested, the reference window included
        needed_p = 10.0 ** -self._alert_surprise(state, tests)
        adjacent = state.last_end is None or bucket.start == state.last_end
        windows = state.windows_ if adjacent and len(state.windows_) == len(tracked) else None
        recent = None if windows is not None else list(state.recent)

        def window_totals(index: int, length: int) -> tuple[float, float]:
            """The window's sum and expected sum; earlier buckets are judged against today's baseline too."""
            nonlocal recent
            if windows is not None and not windows[index].fractional:
                window = windows[index]
                window_expected = expected
                for (hour, weekday), count in window.slots.items():
                    window_expected += count * (scale * hod[hour] * dow[weekday])
                return value + window.value_sum, window_expected
            if recent is None:
                recent = list(state.recent)
            earlier = recent[len(recent) - min(length - 1, len(recent)):] if length > 1 else []
            return (value + sum(v for _, v in earlier),
                    expected + sum(scale * hod[start.hour] * dow[start.weekday()] for start, _ in earlier))

        lowest_p, best = 1.0, None
        sums, upper = [], math.inf
        for index, (length, dispersion) in enumerate(zip(lengths, dispersions)):
            window_sum, window_expected = window_totals(index, length)
            sums.append((window_sum, window_expected))
            p_value = upper_tail(window_sum, window_expected, dispersion)
            lowest_p = min(lowest_p, p_value)
            floor = max(s.min_count, s.min_ratio * window_expected)
            if index == 0:
                band = upper_quantile(needed_p, window_expected, dispersion, state.band_guess_)
                if remember:
                    state.band_guess_ = band
                needed = max(band, floor)
                upper = max(0.0, needed - (window_sum - value))
            elif window_sum >= floor:  # below the floor no band can be met: skip finding it
                needed = max(upper_quantile(needed_p, window_expected, dispersion), floor)
            else:
                continue
            if window_sum >= needed and (best is None or p_value < best[0]):
                best = (p_value, length, window_sum, window_expected)
        surprise = -math.log10(lowest_p)
        calibrated = state.surprises.tail(surprise, tests)
        reason = ""
        if best is not None:
            p_value, length, window_sum, window_expected = best
            minutes = length * bucket.width.total_seconds() / 60
            reason = (f"{window_sum:g} {s.metric} in the last {minutes:g} min vs {window_expected:.2f} "
                      f"expected (p={state.surprises.tail(-math.log10(p_value), tests):.1e})")
        deciding = None if best is None else (best[2], best[3])
        reference_sum = None
        if len(tracked) > len(lengths):
            reference_sum, reference_expected = window_totals(len(lengths), tracked[-1])
            # below min_count no usual volume can make the sum alert-worthy: skip looking it up
            usual = (state.reference.usual(bucket.start)
                     if state.reference is not None and reference_sum >= s.min_count else [])
            if len(usual) >= MIN_DAYS:
                mean, dispersion = usual_mean_and_dispersion(
                    usual, reference_expected, dispersions[-1], s.dispersion_prior_weight)
                if reference_sum >= max(s.min_count, s.min_ratio * mean):
                    p_value = min(1.0, tests * upper_tail(reference_sum, mean, dispersion))
                    if p_value <= s.seasonal.alpha and p_value < calibrated:
                        calibrated = p_value
                        if best is None:
                            minutes = tracked[-1] * bucket.width.total_seconds() / 60
                            reason = (f"{reference_sum:g} {s.metric} in the last {minutes:g} min vs {mean:.2f} "
                                      f"usual at this time of day over {len(usual)} days (p={p_value:.1e})")
                            deciding = (reference_sum, mean)
        return _Judgement(value, expected, upper, calibrated, surprise, deciding is not None, reason, tuple(sums),
                          deciding, reference_sum)

    def _alert_surprise(self, state: SeasonalState, windows: int) -> float:
        """The surprise (-log10 p) whose calibrated tail probability is ``alpha``: the bar a window must clear."""
        if state.alert_surprise_ is None:
            state.alert_surprise_ = state.surprises.surprise_for(self.settings.seasonal.alpha, windows, state.last_bar_)
            state.last_bar_ = state.alert_surprise_
        return state.alert_surprise_

    # -- learning -------------------------------------------------------------------------------------

    def _spread_value(self, window_sum: float, window_expected: float, dispersion: float) -> float:
        """The window sum the dispersion learns from: capped Huber-style, so one burst barely moves it."""
        return _capped_spread(window_sum, window_expected, dispersion)

    def _learn(self, state: SeasonalState, entry: "_Pending") -> None:
        """Learn one bucket judged ``learn_delay_minutes`` ago (``_learn_all`` of it alone)."""
        self._learn_all(state, (entry,))

    def _learn_all(self, state: SeasonalState, entries) -> None:
        """Learn judged buckets (oldest first, none suppressed), each capped so anomalies barely move anything.

        Every bucket is learned against the factors and dispersions as they stood before the first; they are
        refreshed once, after the last. So one bucket is learned as it always was, and a batch (the CUSUM
        model learns a quiet hour's buckets at its end, ``CusumModel._learn_due``) costs one refresh, not
        one a bucket: the level and the spreads learn bucket by bucket as before, and the profile decays once
        by the product of the buckets' decays while each bucket's counts are added decayed by the decays of
        those after it (the same sum, rounded in another order).
        """
        s = self.settings
        dispersions = state.dispersions_
        weekly = state.seen_hours >= 24 * 7  # a weekday is only comparable once the level has seen a whole week
        decayed = None  # the profile's decay over the batch, once a bucket past the warm-up is in it
        hod_seen: dict[int, float] = {}  # what the batch adds to each slot, decayed by what came after
        hod_expected: dict[int, float] = {}
        dow_seen: dict[int, float] = {}
        dow_expected: dict[int, float] = {}
        width = None
        for entry in entries:
            judgement = entry.judgement
            if entry.width != width:
                width = entry.width
                hours = _hours(width)
                level_decay, profile_decay, spread_decay = self._decays(hours)
            value = judgement.value
            if value > 0:  # a count of 0 is learned as 0 whatever the cap: every cap is at least 0
                if entry.warming:
                    cap = math.inf  # warming up: the level must find the series' scale, whatever it is
                elif entry.anomalous:  # an anomaly may nudge the level (a real shift is absorbed), never drag it
                    cap = s.min_ratio * judgement.expected
                else:
                    cap = _learning_cap(judgement.expected, dispersions[0], value)
                value = min(value, cap)
            hod, dow = self._factors(state, entry.start)
            rate = self._rate(state)

            state.level_sum = level_decay * state.level_sum + value / (hod * dow)
            state.level_hours = level_decay * state.level_hours + hours
            if entry.warming:
                continue  # the level is still climbing from its prior: residuals now would teach a false profile

            decayed = profile_decay if decayed is None else decayed * profile_decay
            for added in (hod_seen, hod_expected, dow_seen, dow_expected):
                for slot in added:
                    added[slot] *= profile_decay
            hour = entry.start.hour
            hod_seen[hour] = hod_seen[hour] + value if hour in hod_seen else value
            hod_expected[hour] = hod_expected.get(hour, 0.0) + rate * dow * hours
            if weekly:
                weekday = entry.start.weekday()
                dow_seen[weekday] = dow_seen[weekday] + value if weekday in dow_seen else value
                dow_expected[weekday] = dow_expected.get(weekday, 0.0) + rate * hod * hours

            for i, ((window_sum, window_expected), dispersion) in enumerate(zip(judgement.window_sums, dispersions)):
                state.spread_sq[i] *= spread_decay
                state.spread_mean[i] *= spread_decay
                state.spread_mean_sq[i] *= spread_decay
                if window_expected <= 0 or entry.anomalous:
                    continue
                capped = self._spread_value(window_sum, window_expected, dispersion)
                state.spread_sq[i] += (capped - window_expected) ** 2
                state.spread_mean[i] += window_expected
                state.spread_mean_sq[i] += window_expected**2

            # As in SPOT, alarms (and their run-up) do not enter the record of surprises: an outage cannot
            # raise the bar.
            if not entry.anomalous and state.surprises is not None:  # the CUSUM rule keeps no record of surprises
                state.surprises.learn(judgement.surprise, hours)
                state.alert_surprise_ = None
        if decayed is None:
            return  # nothing past the warm-up: the profile and the spreads have not moved
        for slots, added in ((state.hod_seen, hod_seen), (state.hod_expected, hod_expected),
                             (state.dow_seen, dow_seen), (state.dow_expected, dow_expected)):
            slots[:] = [slot * decayed for slot in slots]
            for slot, amount in added.items():
                slots[slot] += amount
        self._refresh_factors(state)
        state.dispersions_ = self.dispersions(state)


def _capped_spread(window_sum: float, window_expected: float, dispersion: float) -> float:
    return window_sum if window_sum <= window_expected else min(
        window_sum, _learning_cap(window_expected, dispersion, window_sum))


def _learning_cap(expected: float, dispersion: float, value: float = math.inf) -> float:
    """The most a bucket or window sum teaches: three standard deviations above expected (Huber-style),
    but never less than the Poisson 99.9% count, so a single post in a sparse series is learned whole.
    A ``value`` within the Huber bound is not capped either way, so the count is not worked out."""
    if expected <= 0:
        return 1.0
    huber = expected + _HUBER_SIGMAS * math.sqrt(expected + dispersion * expected**2)
    if value <= huber:
        return huber
    return max(huber, upper_quantile(_LEARN_TAIL, expected, 0.0))


@lru_cache(maxsize=64)
def _lengths_in_buckets(windows_minutes: tuple[float, ...], seconds: float) -> list[int]:
    return sorted({max(1, round(minutes * 60 / seconds)) for minutes in windows_minutes})


def _hours(width: timedelta) -> float:
    return width.total_seconds() / 3600


def _normalised(seen: list[float], expected: list[float], prior: float) -> list[float]:
    """Gamma-Poisson posterior means of each slot's factor (prior mean 1), rescaled to average 1."""
    factors = [(o + prior) / (e + prior) for o, e in zip(seen, expected)]
    mean = sum(factors) / len(factors)
    return [f / mean for f in factors]


class SeasonalDetector(DecidedDetector):
    """The seasonal model in the shared decision, under the name its states were pickled with before the
    decision was split from the model (the store's detector_state, checkpoints): such a state loads as
    the model plus its episode and goes on exactly where it was."""

    model_class: type = SeasonalModel

    def __init__(self, settings: VolumeSettings, service: str) -> None:
        super().__init__(self.model_class(settings, service))

    def __setstate__(self, state: dict) -> None:
        if "model" not in state:  # pickled before the split: the model's attributes, the episode in its state
            state = split_legacy_state(self.model_class, state)
        super().__setstate__(state)


def split_legacy_state(model_class: type, old: dict) -> dict:
    """A detector's attributes as pickled before the split, as a model and its episode."""
    model = model_class.__new__(model_class)
    model.__setstate__({k: v for k, v in old.items() if k in ("settings", "service", "state_", "cusum_")})
    episode, state = Episode(), old.get("state_")
    if state is not None:
        moved = state.__dict__
        episode = Episode(moved.pop("alerted_at", None), moved.pop("last_anomalous_end", None),
                          moved.pop("run_start", None), state.last_end)
    return {"model": model, "episode": episode}
