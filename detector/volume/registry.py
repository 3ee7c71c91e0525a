"""The volume detectors a configuration can name, and the one place that builds them.

Each is a model (``base.VolumeModel``: how unusual a bucket is and what is learned); ``build_detector``
puts it inside the decision every model shares (``decision.DecidedDetector``: warm-up, duration, re-arm,
maintenance), so a new detector is a model and its settings, not another copy of those rules.
"""

from __future__ import annotations

from typing import Callable

from detector.volume.base import VolumeDetector, VolumeModel
from detector.volume.decision import DecidedDetector
from detector.volume.settings import VolumeSettings


def _seasonal(settings: VolumeSettings, service: str) -> VolumeModel:
    # Imported when a detector is built: its count tails load scipy.special (a third of a second), which
    # commands like `detector alerts ack` never need.
    from detector.volume.seasonal import SeasonalModel

    return SeasonalModel(settings, service)


def _cusum(settings: VolumeSettings, service: str) -> VolumeModel:
    from detector.volume.cusum import CusumModel

    return CusumModel(settings, service)


DETECTORS: dict[str, Callable[[VolumeSettings, str], VolumeModel]] = {
    "cusum": _cusum,  # the default: count CUSUMs whose threshold is the false-alarm budget
    "seasonal": _seasonal,  # the previous rule: window p-values calibrated against the series' surprises
}


def build_detector(settings: VolumeSettings, service: str) -> VolumeDetector:
    """Return a fresh detector for ``service``: the model ``settings.detector`` names, in the shared decision."""
    try:
        factory = DETECTORS[settings.detector]
    except KeyError:
        raise ValueError(
            f"unknown volume detector {settings.detector!r}; known: {', '.join(sorted(DETECTORS))}"
        ) from None
    return DecidedDetector(factory(settings, service))
