"""The volume detectors a configuration can name, and the one place that builds them."""

from __future__ import annotations

from typing import Callable

from detector.volume.base import VolumeDetector
from detector.volume.settings import VolumeSettings


def _seasonal(settings: VolumeSettings, service: str) -> VolumeDetector:
    # Imported when a detector is built: its count tails load scipy.special (a third of a second), which
    # commands like `detector alerts ack` never need.
    from detector.volume.seasonal import SeasonalDetector

    return SeasonalDetector(settings, service)


def _cusum(settings: VolumeSettings, service: str) -> VolumeDetector:
    from detector.volume.cusum import CusumDetector

    return CusumDetector(settings, service)


DETECTORS: dict[str, Callable[[VolumeSettings, str], VolumeDetector]] = {
    "cusum": _cusum,  # the default: count CUSUMs whose threshold is the false-alarm budget
    "seasonal": _seasonal,  # the previous rule: window p-values calibrated against the series' surprises
}


def build_detector(settings: VolumeSettings, service: str) -> VolumeDetector:
    """Return a fresh detector for ``service`` as ``settings.detector`` names it."""
    try:
        factory = DETECTORS[settings.detector]
    except KeyError:
        raise ValueError(
            f"unknown volume detector {settings.detector!r}; known: {', '.join(sorted(DETECTORS))}"
        ) from None
    return factory(settings, service)
