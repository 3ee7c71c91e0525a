"""The volume detectors a configuration can name, and the one place that builds them."""

from __future__ import annotations

from typing import Callable

from detector.volume.base import VolumeDetector
from detector.volume.seasonal import SeasonalDetector
from detector.volume.settings import VolumeSettings

DETECTORS: dict[str, Callable[[VolumeSettings, str], VolumeDetector]] = {
    "seasonal": SeasonalDetector,
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
