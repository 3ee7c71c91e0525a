"""The NAB scorer on hand-made files whose scores are computed by hand (standard profile)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest

from detector.volume.nab import (
    MAX_TP,
    probation_rows,
    scaled_sigmoid,
    score_detections,
    score_results,
)

T0 = datetime(2015, 3, 1)
STEP = timedelta(minutes=5)
TIMES = [T0 + i * STEP for i in range(100)]  # probation: 15 rows
WINDOW = [(TIMES[40], TIMES[59])]  # rows 40..59, width 20


def detections(*rows: int) -> list[bool]:
    flags = [False] * len(TIMES)
    for row in rows:
        flags[row] = True
    return flags


def test_sigmoid_and_probation_by_hand():
    # 2 / (1 + e^-5) - 1 = 2 / 1.0067379 - 1
    assert MAX_TP == pytest.approx(0.9866143, abs=1e-6)
    assert scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(0.0) == 0.0
    assert probation_rows(100) == 15
    assert probation_rows(15_902) == 750  # capped at 15% of 5000


def test_first_row_of_window_is_worth_exactly_one():
    score = score_detections("f", TIMES, detections(40), WINDOW)
    assert (score.caught, score.false_positives) == (1, 0)
    assert score.raw == pytest.approx(1.0)
    assert score.normalised == pytest.approx(100.0)


def test_detection_mid_window_and_only_the_earliest_counts():
    # row 50: y = -(59 - 50 + 1) / 20 = -0.5; 2 / (1 + e^-2.5) - 1 = 0.848284; / 0.986614 = 0.859793
    score = score_detections("f", TIMES, detections(50, 55, 41 + 17), WINDOW)
    assert score.raw == pytest.approx(0.859793, abs=1e-5)
    assert score.detection_rows == [10]
    # normalised: 100 * (0.859793 + 1) / 2
    assert score.normalised == pytest.approx(92.98965, abs=1e-3)


def test_false_positives_cost_by_distance_and_probation_is_ignored():
    # row 5: probation, ignored. row 20: no window before it, -0.11.
    # row 60: 1 row past the end, (60 - 59) / (20 - 1) = 0.0526316; 2 / (1 + e^0.263158) - 1 = -0.130825
    # row 99: 40 / 19 = 2.105263;                            2 / (1 + e^10.526316) - 1 = -0.999946
    score = score_detections("f", TIMES, detections(5, 20, 60, 99), WINDOW)
    expected_fp = 0.11 * (-1.0 - 0.130806 - 0.999946)
    assert score.false_positives == 3
    assert score.fp_score == pytest.approx(expected_fp, abs=1e-5)
    assert score.raw == pytest.approx(-1.0 + expected_fp, abs=1e-5)  # and the window was missed
    assert score.normalised == pytest.approx(100 * expected_fp / 2, abs=1e-3)


def test_missed_windows_score_null_and_detections_in_probation_do_not_catch():
    early = [(TIMES[5], TIMES[12])]
    score = score_detections("f", TIMES, detections(6), early)
    assert (score.caught, score.raw, score.normalised) == (0, -1.0, 0.0)


def test_total_is_normalised_over_all_files(tmp_path):
    windows = {"a.csv": [[str(TIMES[40]), str(TIMES[59])]], "b.csv": [[str(TIMES[40]), str(TIMES[59])]]}
    (tmp_path / "windows.json").write_text(json.dumps(windows))
    results = tmp_path / "results"
    (results / "sub").mkdir(parents=True)
    for name, rows in (("a.csv", {40}), ("sub/detector_b.csv", set())):
        lines = ["timestamp,value,alert"] + [f"{t:%Y-%m-%d %H:%M:%S},1,{int(i in rows)}" for i, t in enumerate(TIMES)]
        (results / name).write_text("\n".join(lines) + "\n")
    report = score_results(tmp_path / "windows.json", results)
    assert [f.name for f in report.files] == ["a.csv", "b.csv"]
    assert report.raw == pytest.approx(0.0)  # +1 caught at its first row, -1 missed
    assert report.normalised == pytest.approx(50.0)


def test_anomaly_score_column_is_thresholded_when_there_is_no_alert_column(tmp_path):
    (tmp_path / "windows.json").write_text(json.dumps({"a.csv": [[str(TIMES[40]), str(TIMES[59])]]}))
    lines = ["timestamp,value,anomaly_score"] + [
        f"{t:%Y-%m-%d %H:%M:%S},1,{0.7 if i == 40 else 0.2}" for i, t in enumerate(TIMES)
    ]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.csv").write_text("\n".join(lines) + "\n")
    assert score_results(tmp_path / "windows.json", tmp_path / "out").raw == pytest.approx(1.0)
    assert score_results(tmp_path / "windows.json", tmp_path / "out", threshold=0.8).raw == -1.0


def test_no_matching_results_is_an_error(tmp_path):
    (tmp_path / "windows.json").write_text(json.dumps({"a.csv": []}))
    (tmp_path / "out").mkdir()
    with pytest.raises(FileNotFoundError, match="no result"):
        score_results(tmp_path / "windows.json", tmp_path / "out")
    assert math.isclose(scaled_sigmoid(-1.0), MAX_TP)
