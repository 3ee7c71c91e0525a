"""The project's own NAB scorer (standard profile) for `alert` columns of detector outputs.

Rules (Lavin & Ahmad 2015; NAB's sweeper): the first 15% of a file, at most 750 rows, is probationary and
its detections are ignored. Inside a labelled window only the earliest detection counts, worth
``sigmoid(y) / sigmoid(-1)`` where ``sigmoid(y) = 2 / (1 + e^(5y)) - 1`` and ``y = -(right - i + 1) / width``
(so the window's first row is worth exactly 1). A detection outside every window costs
``0.11 * sigmoid(distance past the previous window's end, in window widths)`` (that is -0.11 far away, and
-0.11 when no window precedes it). A missed window costs 1. Normalised score:
``100 * (raw - null) / (perfect - null)`` with null = every window missed, perfect = every window caught
at its first row, summed over the files before normalising.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

TP_WEIGHT = 1.0
FP_WEIGHT = 0.11
FN_WEIGHT = 1.0
PROBATION_FRACTION = 0.15
PROBATION_MAX_ROWS = 750


def scaled_sigmoid(position: float) -> float:
    """NAB's reward curve: 1 well before a window's end, 0 at its end, -1 from 3 widths past it."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probation_rows(length: int) -> int:
    """Number of leading rows whose detections are ignored."""
    return int(min(math.floor(PROBATION_FRACTION * length), PROBATION_FRACTION * 5000))


@dataclass
class FileScore:
    """NAB score of one file's detections."""

    name: str
    rows: int
    windows: int
    caught: int
    false_positives: int
    raw: float
    null: float
    perfect: float
    tp_score: float = 0.0
    fp_score: float = 0.0
    detection_rows: list[int | None] = field(default_factory=list)  # rows after window start, per window

    @property
    def normalised(self) -> float:
        return normalise(self.raw, self.null, self.perfect)


def normalise(raw: float, null: float, perfect: float) -> float:
    """100 x (raw - null) / (perfect - null); 0 when there is nothing to score."""
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


def score_detections(
    name: str, timestamps: list[datetime], detections: list[bool], windows: list[tuple[datetime, datetime]]
) -> FileScore:
    """Score one file: ``detections[i]`` says whether row ``i`` (at ``timestamps[i]``) raised an alert."""
    if len(timestamps) != len(detections):
        raise ValueError(f"{name}: {len(timestamps)} timestamps but {len(detections)} detections")
    index_windows = []
    for start, end in sorted(windows):
        inside = [i for i, t in enumerate(timestamps) if start <= t <= end]
        if inside:
            index_windows.append((inside[0], inside[-1]))
    probation = probation_rows(len(timestamps))
    window_of = {}
    for number, (left, right) in enumerate(index_windows):
        for i in range(left, right + 1):
            window_of[i] = number
    first_hit: dict[int, int] = {}
    fp_score, false_positives = 0.0, 0
    prev_right: int | None = None
    prev_width = 0
    for i, detected in enumerate(detections):
        number = window_of.get(i)
        if number is not None:
            left, right = index_windows[number]
            prev_right, prev_width = right, right - left + 1
            if detected and i >= probation and number not in first_hit:
                first_hit[number] = i
            continue
        if not detected or i < probation:
            continue
        if prev_right is None:
            unweighted = -1.0
        else:
            unweighted = scaled_sigmoid(abs(prev_right - i) / float(max(prev_width - 1, 1)))
        fp_score += unweighted * FP_WEIGHT
        false_positives += 1
    tp_score, rows_after = 0.0, []
    for number, (left, right) in enumerate(index_windows):
        hit = first_hit.get(number)
        rows_after.append(None if hit is None else hit - left)
        if hit is None:
            tp_score -= FN_WEIGHT
        else:
            width = right - left + 1
            tp_score += scaled_sigmoid(-(right - hit + 1) / float(width)) * TP_WEIGHT / MAX_TP
    count = len(index_windows)
    return FileScore(
        name=name, rows=len(timestamps), windows=count, caught=len(first_hit), false_positives=false_positives,
        raw=tp_score + fp_score, null=-FN_WEIGHT * count, perfect=TP_WEIGHT * count,
        tp_score=tp_score, fp_score=fp_score, detection_rows=rows_after,
    )


@dataclass
class NabReport:
    """Per-file scores and their total, normalised over all files together."""

    files: list[FileScore]

    @property
    def raw(self) -> float:
        return sum(f.raw for f in self.files)

    @property
    def normalised(self) -> float:
        return normalise(self.raw, sum(f.null for f in self.files), sum(f.perfect for f in self.files))

    def as_dict(self) -> dict:
        files = [{**asdict(f), "normalised": f.normalised} for f in self.files]
        return {
            "files": files,
            "total": {
                "raw": self.raw,
                "normalised": self.normalised,
                "windows": sum(f.windows for f in self.files),
                "caught": sum(f.caught for f in self.files),
                "false_positives": sum(f.false_positives for f in self.files),
            },
        }


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def read_windows(windows_json: str | Path) -> dict[str, list[tuple[datetime, datetime]]]:
    """Return NAB's labelled windows, keyed by file name (any folder prefix dropped)."""
    with open(windows_json, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{windows_json}: expected a JSON object of file name -> [[start, end], ...]")
    return {
        Path(name).name: [(_parse_time(a), _parse_time(b)) for a, b in pairs] for name, pairs in data.items()
    }


def read_detections(path: str | Path, threshold: float = 0.5) -> tuple[list[datetime], list[bool]]:
    """Return the timestamps and detections of a result CSV: its `alert` column, else anomaly_score >= threshold."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if "timestamp" not in columns or not columns & {"alert", "anomaly_score"}:
            raise ValueError(f"{path}: needs a timestamp column and an alert or anomaly_score column")
        timestamps, detections = [], []
        for row in reader:
            timestamps.append(_parse_time(row["timestamp"]).replace(tzinfo=None))
            if "alert" in columns:
                detections.append(float(row["alert"]) >= 0.5)
            else:
                detections.append(float(row["anomaly_score"]) >= threshold)
    return timestamps, detections


def find_result(results_dir: Path, name: str) -> Path | None:
    """The result file for data file ``name``: ``name`` itself or NAB's ``<detector>_<name>``, anywhere below."""
    for candidate in sorted(results_dir.rglob("*.csv")):
        if candidate.name == name or candidate.name.endswith(f"_{name}"):
            return candidate
    return None


def score_results(windows_json: str | Path, results_dir: str | Path, threshold: float = 0.5) -> NabReport:
    """Score every labelled file that has a result in ``results_dir``; raise if none has."""
    windows = read_windows(windows_json)
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results folder {results_dir} does not exist")
    files = []
    for name in sorted(windows):
        path = find_result(results_dir, name)
        if path is None:
            continue
        timestamps, detections = read_detections(path, threshold)
        files.append(score_detections(name, timestamps, detections, windows[name]))
    if not files:
        raise FileNotFoundError(f"no result in {results_dir} matches a file of {windows_json}")
    return NabReport(files)
