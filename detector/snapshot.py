"""What a pipeline's detection state is saved as: a plain, versioned record, for checkpoints.

A checkpoint must outlive the classes that wrote it (a standby worker of the next release resumes from it),
so it is not a pickle of the pipeline's attributes. Each part of the detect stage says what its state is
in JSON-ready data (its ``snapshot()``) and takes it back (its ``restore()``); the record holds those parts
under a format ``version`` that a reader checks before it reads anything else. The volume detectors keep
the format they already have in the store's ``detector_state`` table (their own pickled state, versioned
by their ``__setstate__``), carried here as base64 text.

Version 0 is the format before this record: a pickled tuple of the pipeline's detectors, buckets, evidence
and incident manager. It is read (once, by an upgraded worker) by asking those objects for their snapshot.
"""

from __future__ import annotations

import base64
import json
import pickle
from dataclasses import dataclass, field
from typing import Any, Mapping

SNAPSHOT_VERSION = 1
_PICKLE_PROTOCOL_MARK = b"\x80"  # the first byte of every pickle since protocol 2: a version-0 checkpoint


class SnapshotError(ValueError):
    """A saved state this release cannot read: an unknown format version, or not a snapshot at all."""


@dataclass(frozen=True)
class PipelineSnapshot:
    """The detect stage's whole learned state: per service its detector, open bucket and recent
    reporters, recent outage reports (the incident's evidence), and the incident lifecycle."""

    detectors: Mapping[str, str] = field(default_factory=dict)  # service -> base64 of the detector's state
    buckets: Mapping[str, Any] = field(default_factory=dict)  # service -> ServiceBuckets.snapshot()
    evidence: Mapping[str, Any] = field(default_factory=dict)  # Evidence.snapshot()
    incidents: Mapping[str, Any] = field(default_factory=dict)  # AlertManager.snapshot()
    version: int = SNAPSHOT_VERSION

    def to_bytes(self) -> bytes:
        """The record as UTF-8 JSON, ``version`` first."""
        return json.dumps({"version": self.version, "detectors": self.detectors, "buckets": self.buckets,
                           "evidence": self.evidence, "incidents": self.incidents},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, blob: bytes) -> "PipelineSnapshot":
        """The record saved by ``to_bytes`` (or a version-0 pickle); SnapshotError for anything else."""
        if blob[:1] == _PICKLE_PROTOCOL_MARK:
            return _from_version_0(blob)
        try:
            data = json.loads(blob)
        except (UnicodeDecodeError, ValueError) as error:
            raise SnapshotError(f"the saved state is not a pipeline snapshot ({error})") from None
        if not isinstance(data, dict) or "version" not in data:
            raise SnapshotError("the saved state is not a pipeline snapshot (no format version)")
        check_version(data["version"])
        return cls(detectors=data.get("detectors", {}), buckets=data.get("buckets", {}),
                   evidence=data.get("evidence", {}), incidents=data.get("incidents", {}),
                   version=data["version"])

    def detector_states(self) -> dict[str, Any]:
        """The detectors, by service, rebuilt from their saved state."""
        return {service: pickle.loads(base64.b64decode(state)) for service, state in self.detectors.items()}


def check_version(version: Any) -> None:
    """Raise SnapshotError unless ``version`` is the format this release writes."""
    if version != SNAPSHOT_VERSION:
        raise SnapshotError(
            f"the saved pipeline state has format version {version!r}; this release reads version "
            f"{SNAPSHOT_VERSION} (and version-0 pickles). It was written by a different release of the "
            "detector: run that release to resume from it, or remove the checkpoint to start detection afresh"
        )


def detector_state(detector: Any) -> str:
    """One detector's state as the record carries it (the pickle the store's detector_state keeps)."""
    return base64.b64encode(pickle.dumps(detector, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")


def _from_version_0(blob: bytes) -> PipelineSnapshot:
    try:
        detectors, buckets, evidence, manager = pickle.loads(blob)
    except Exception as error:  # noqa: BLE001 - whatever a foreign pickle raises, it is not ours
        raise SnapshotError(f"the saved state is not a pipeline snapshot ({type(error).__name__})") from None
    return PipelineSnapshot(
        detectors={service: detector_state(d) for service, d in detectors.items()},
        buckets={service: b.snapshot() for service, b in buckets.items()},
        evidence=evidence.snapshot(),
        incidents=manager.snapshot(),
    )
