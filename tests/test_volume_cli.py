"""`detector detect-series` and `detector nab-score` driven as a user drives them (click's CliRunner)."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from detector.cli.volume import detect_series_cmd, nab_score_cmd
from tests.conftest import shared_data

T0 = datetime(2015, 3, 1)


def write_series(path, values, step=timedelta(minutes=5)):
    lines = ["timestamp,value"] + [f"{T0 + i * step:%Y-%m-%d %H:%M:%S},{v}" for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def series(tmp_path):
    values = list(np.random.default_rng(0).poisson(40, 1500))
    values[1200:1206] = [400, 500, 450, 300, 200, 150]
    path = tmp_path / "Twitter_volume_TEST.csv"
    write_series(path, values)
    windows = {path.name: [[f"{T0 + 1150 * timedelta(minutes=5)}", f"{T0 + 1250 * timedelta(minutes=5)}"]]}
    (tmp_path / "windows.json").write_text(json.dumps(windows))
    return path


def test_detect_series_round_trip_then_nab_score(tmp_path, series):
    out = tmp_path / "results" / series.name
    result = CliRunner().invoke(detect_series_cmd, [str(series), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["timestamp", "value", "expected", "anomaly_score", "alert"]
    assert len(rows) == 1500 and rows[0]["timestamp"] == "2015-03-01 00:00:00"
    alerts = [i for i, row in enumerate(rows) if row["alert"] == "1"]
    assert alerts and alerts[0] in (1200, 1201) and all(i >= 1200 for i in alerts)
    assert all(0 <= float(row["anomaly_score"]) <= 1 for row in rows)
    assert float(rows[1100]["expected"]) == pytest.approx(40, rel=0.25)

    scored = CliRunner().invoke(nab_score_cmd, ["--windows", str(tmp_path / "windows.json"),
                                                "--results", str(tmp_path / "results"), "--json"])
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.output)
    assert report["total"]["caught"] == 1 and report["total"]["false_positives"] == 0
    assert report["total"]["normalised"] > 70  # caught about halfway into its window, no false alarm

    table = CliRunner().invoke(nab_score_cmd, ["--windows", str(tmp_path / "windows.json"),
                                               "--results", str(tmp_path / "results")])
    assert "Twitter_volume_TEST.csv" in table.output and table.output.splitlines()[-1].startswith("total")


def test_config_detection_table_is_used_and_bad_config_is_one_line(tmp_path, series):
    strict = tmp_path / "strict.toml"
    strict.write_text("[detection]\nfalse_alerts_per_week = 1e-9\nmin_count = 1e9\n")
    out = tmp_path / "strict.csv"
    result = CliRunner().invoke(detect_series_cmd, [str(series), "--out", str(out), "--config", str(strict)])
    assert result.exit_code == 0, result.output
    assert "0 alert(s)" in result.output

    bad = tmp_path / "bad.toml"
    bad.write_text("[detection]\nalpha = 2\ntypo = 1\n")
    result = CliRunner().invoke(detect_series_cmd, [str(series), "--out", str(out), "--config", str(bad)])
    assert result.exit_code == 1
    # alpha named in [detection] itself (as configs did before the grouping) is checked as seasonal.alpha
    assert result.output.startswith("Error: config") and "[detection] seasonal.alpha" in result.output
    assert "(and 1 more)" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "--out", "o.csv"], "input missing.csv does not exist"),
        (["in.csv", "--out", "o.csv", "--config", "nope.toml"], "config nope.toml does not exist"),
        (["bad.csv", "--out", "o.csv"], "missing column(s) value"),
    ],
)
def test_detect_series_errors_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write_series(tmp_path / "in.csv", [1, 2, 3])
    (tmp_path / "bad.csv").write_text("timestamp,count\n2015-03-01 00:00:00,1\n")
    result = CliRunner().invoke(detect_series_cmd, args)
    assert result.exit_code == 1 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_nab_score_errors_are_one_line(tmp_path):
    (tmp_path / "windows.json").write_text("{}")
    result = CliRunner().invoke(nab_score_cmd, ["--windows", str(tmp_path / "windows.json"),
                                                "--results", str(tmp_path / "none")])
    assert result.exit_code == 1 and "does not exist" in result.output
    result = CliRunner().invoke(nab_score_cmd, ["--windows", str(tmp_path / "w.json"), "--results", str(tmp_path)])
    assert result.exit_code == 1 and "windows file" in result.output


def test_help_documents_every_option():
    for command in (detect_series_cmd, nab_score_cmd):
        result = CliRunner().invoke(command, ["--help"])
        assert result.exit_code == 0
        for param in command.params:
            if isinstance(param, __import__("click").Option):
                assert param.help, f"{command.name} {param.name} has no help"


def test_real_nab_file_is_detected_and_scored(tmp_path):
    """A real NAB realTweets file (sparse CVS counts): the shipped defaults catch its labelled windows."""
    data = shared_data("nab-realtweets-dev")
    out = tmp_path / "results" / "Twitter_volume_CVS.csv"
    result = CliRunner().invoke(detect_series_cmd, [str(data / "Twitter_volume_CVS.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scored = CliRunner().invoke(nab_score_cmd, ["--windows", str(data / "windows.json"),
                                                "--results", str(tmp_path / "results"), "--json"])
    total = json.loads(scored.output)["total"]
    assert total["caught"] >= 2 and total["false_positives"] <= 15
