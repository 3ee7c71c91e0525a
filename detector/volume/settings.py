"""The volume-detection settings: the `[detection]` table of the config file, validated once, here.

The defaults are the one configuration a user deploys: one-minute buckets of distinct people reporting an outage,
judged against a seasonal baseline with count-aware (negative-binomial) tails over sliding windows of
5, 15 and 60 minutes. The same defaults are what `detector detect-series` and the NAB bench run, so the
numbers we report are the numbers a user gets.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from detector.records import DEFAULT_METRIC, Bucket
from detector.volume.maintenance import MaintenanceWindow

# the maintenance window is part of the [detection] table too
__all__ = ["MaintenanceWindow", "Metric", "SeasonalSettings", "VolumeSettings", "metric_value"]

Metric = Literal["outage_people", "outage_reports", "complaint_people", "mentions", "people", "complaints",
                 "complaint_share"]


def metric_value(bucket: Bucket, metric: str) -> float:
    """Return the number the detector judges for ``bucket``: one of its count fields, or the complaint share."""
    if metric == "complaint_share":
        return bucket.complaint_share
    return float(getattr(bucket, metric))


def _finite_numbers(value: object) -> object:
    """Every number a finite one: ``windows_minutes = [1e308]`` passed and then overflowed at run time."""
    numbers = value if isinstance(value, list) else [value]
    for number in numbers:
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"{number} is not a finite number")
    return value


class SeasonalSettings(BaseModel):
    """The knobs only the seasonal window test (``detector = "seasonal"``) reads: `[detection.seasonal]`."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(
        1e-4,
        gt=0,
        lt=1,
        description="Probability, under the baseline, that a bucket's smallest window p-value (Bonferroni "
        "over the windows, the reference window included) falls below it: the false-alarm rate per bucket "
        "before the other rules.",
    )
    decisive_factor: float = Field(
        100.0,
        ge=1,
        description="Evidence this many times stronger than alpha alerts at once, without waiting for the "
        "duration rule: a burst that is already decisive in a partial bucket is news now.",
    )
    reference_window_minutes: float = Field(
        180.0,
        ge=0,
        description="Length of the window also tested against the usual volume for this time of day: its sum "
        "at the same time on each of the last reference_days days (at least 3 of them), which a rise that "
        "builds over hours cannot move. 0 turns this test off.",
    )
    reference_days: int = Field(
        7, ge=3, description="How many earlier days make up the usual volume for this time of day."
    )
    calibration_half_life_days: float = Field(
        14.0,
        gt=0,
        description="Half-life of the series' own record of how surprising its buckets are (peaks over "
        "threshold, as in SPOT): bursty series earn a higher bar than the count model alone would set.",
    )
    calibration_prior_hours: float = Field(
        24.0, gt=0, description="How many hours of history the count model's own p-values are worth."
    )

    @field_validator("*")
    @classmethod
    def _finite(cls, value: object) -> object:
        return _finite_numbers(value)


SEASONAL_KNOBS = frozenset(SeasonalSettings.model_fields)  # named in [detection] itself by older configs


class VolumeSettings(BaseModel):
    """How mention volume is bucketed and judged; embedded in the config file as `[detection]`."""

    model_config = ConfigDict(extra="forbid")

    detector: Literal["cusum", "seasonal"] = Field(
        "cusum",
        description="Which volume detector runs per service (see detector.volume.registry): 'cusum' (default; "
        "count CUSUMs whose threshold is set from false_alerts_per_week) or 'seasonal' (the previous rule: "
        "window p-values against alpha, calibrated on the series' own surprises).",
    )
    false_alerts_per_week: float = Field(
        0.25,
        gt=0,
        le=1000,
        description="The false-alarm budget, in the user's unit: how many alerts a week a stream with no "
        "outage may raise, whatever its volume, burstiness or seasonality. The decision threshold is set from "
        "it (average run length to a false alarm = one week / budget, in the series' own time). Lower it for "
        "fewer false alarms and later, rarer alerts; raise it to hear small incidents sooner.",
    )
    false_alerts_per_week_by_service: dict[str, float] = Field(
        default_factory=dict,
        description="Per-service overrides of false_alerts_per_week, e.g. {Xfinity = 0.5}; services not named "
        "use false_alerts_per_week.",
    )
    scale_clusters: bool = Field(
        False,
        description="CUSUM rule only: each CUSUM reads how bursty the window sums are over the span it sums "
        "(hours for the 1.5x-4x ones on a sparse stream) and counts people in clusters of that size "
        "(detector/volume/scales.py). Halves the alerts outside incidents on the real Xfinity stream and "
        "lifts NAB, but alerts later on two of its five incidents: off until it wins everywhere "
        "(docs/volume-detection.md).",
    )
    clustered_arrivals: bool = Field(
        False,
        description="CUSUM rule only: each CUSUM reads a bucket's count as varying at least as much as "
        "clusters of people arriving together make it vary on this stream over the span that CUSUM sums "
        "(variance = index x expected, however little is expected; the index learned from the window sums "
        "outside alert episodes, never from alert-sized windows), instead of the near-Poisson a sparse bucket "
        "otherwise gets. Fewer alerts on 3-6 people within minutes at quiet hours, later alerts on small "
        "incidents (detector/volume/cusum.py, 'Clustered arrivals'; docs/volume-detection.md).",
    )
    bucket_seconds: int = Field(60, gt=0, description="Width of one bucket in seconds.")
    metric: Metric = Field(
        DEFAULT_METRIC,
        description="What drives the decision: distinct people reporting an outage per bucket (default; "
        "with the keyword classifier, or counts made without the outage head, the complaining people), "
        "outage-report posts, distinct complaining people (bills and hold times included), raw mentions, "
        "distinct people, complaint posts, or the complaint share of mentions.",
    )
    windows_minutes: list[float] = Field(
        [5.0, 15.0, 60.0],
        min_length=1,
        description="Lengths of the sliding windows whose sums are tested (each rounded to whole buckets, "
        "at least one): short ones catch sharp bursts early, long ones sustained rises. The shortest is the "
        "duration rule: evidence is always summed over at least that span.",
    )
    min_count: float = Field(
        3, ge=0, description="An alert needs at least this many units (e.g. people) in the tipping window."
    )
    min_ratio: float = Field(
        2.0, ge=1, description="An alert needs the tipping window's sum to be at least this multiple of expected."
    )
    min_duration_minutes: float = Field(
        10.0,
        ge=0,
        description="Duration rule: the volume must stay significant this long (from the start of the first "
        "significant bucket) before an alert, unless the evidence is decisive (see decisive_factor).",
    )
    warmup_minutes: float = Field(
        60.0, ge=0, description="No alert before this much history has been seen (cold start)."
    )
    rearm_minutes: float = Field(
        120.0,
        ge=0,
        description="After an alert, no new alert for the service until its volume has been normal this long: "
        "one incident, one alert.",
    )
    learn_delay_minutes: float = Field(
        30.0,
        ge=0,
        description="A bucket is learned only this long after it was judged, and not at all (beyond a cap) "
        "if an alert-worthy bucket came in between: the run-up of an incident never teaches the baseline.",
    )
    level_half_life_hours: float = Field(
        24.0, gt=0, description="Half-life of the deseasonalised level: how fast the baseline follows trends."
    )
    profile_half_life_days: float = Field(
        14.0, gt=0, description="Half-life of the time-of-day and day-of-week profile."
    )
    profile_prior_count: float = Field(
        10.0,
        gt=0,
        description="Strength, in counts, of the prior that every hour and weekday is average: a sparse series "
        "needs that many observations in a slot before its profile moves far from flat.",
    )
    prior_rate_per_hour: float = Field(
        1.0, ge=0, description="Cold-start guess of the volume per hour, before any history."
    )
    prior_hours: float = Field(
        0.1, gt=0, description="How many hours of history the cold-start guess is worth."
    )
    dispersion_prior: float = Field(
        0.1,
        ge=0,
        description="Cold-start overdispersion of window sums (negative-binomial 1/r: variance = mean + "
        "dispersion * mean^2); learned online from the data afterwards.",
    )
    dispersion_prior_weight: float = Field(
        100.0,
        gt=0,
        description="How much evidence the dispersion prior is worth, in squared expected counts: a window "
        "sum expected at E adds E^2, so busy series outweigh the prior within minutes, sparse ones keep it.",
    )
    dispersion_half_life_days: float = Field(
        7.0, gt=0, description="Half-life of the learned dispersion."
    )
    seasonal: SeasonalSettings = Field(
        default_factory=SeasonalSettings,
        description="The seasonal window test's own knobs (alpha, decisive_factor, reference_window_minutes, "
        "reference_days, calibration_half_life_days, calibration_prior_hours), read only when detector = "
        "'seasonal'; named in [detection] itself by configs written before they were grouped, which still load.",
    )
    maintenance: list[MaintenanceWindow] = Field(
        default_factory=list,
        description="Maintenance windows and one-off suppressions: detections inside them are marked suppressed.",
    )

    @field_validator("false_alerts_per_week_by_service")
    @classmethod
    def _budgets_positive(cls, budgets: dict[str, float]) -> dict[str, float]:
        for service, budget in budgets.items():
            if not 0 < budget <= 1000:
                raise ValueError(f"false_alerts_per_week_by_service.{service} is {budget}; use a number of alerts "
                                 "a week above 0 (and at most 1000)")
        return budgets

    @model_validator(mode="before")
    @classmethod
    def _group_seasonal_knobs(cls, data: object) -> object:
        """Configs written before the grouping name the seasonal test's knobs in [detection] itself: they
        are moved into ``seasonal`` (over what it holds), so those configs load unchanged."""
        if not isinstance(data, dict) or not SEASONAL_KNOBS & data.keys():
            return data
        data = dict(data)
        nested = data.get("seasonal") or {}
        if isinstance(nested, BaseModel):
            nested = nested.model_dump()
        data["seasonal"] = {**nested, **{name: data.pop(name) for name in SEASONAL_KNOBS & data.keys()}}
        return data

    @field_validator("*")
    @classmethod
    def _finite(cls, value: object) -> object:
        return _finite_numbers(value)

    @field_validator("windows_minutes")
    @classmethod
    def _windows_within_a_week(cls, windows: list[float]) -> list[float]:
        for window in windows:
            if not 0 < window <= 7 * 24 * 60:
                raise ValueError(f"a window of {window:g} minutes; use lengths above 0 and at most a week (10080)")
        return windows

    def budget_for(self, service: str) -> float:
        """The false-alarm budget (alerts a week on an outage-free stream) that applies to ``service``."""
        return self.false_alerts_per_week_by_service.get(service, self.false_alerts_per_week)

    @property
    def bucket_width(self) -> timedelta:
        return timedelta(seconds=self.bucket_seconds)
