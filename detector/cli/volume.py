"""``detector detect-series`` and ``detector nab-score``: the volume detector on any series, and its NAB score.

`detect-series` runs the detector a user deploys (the `[detection]` table of their config, or the packaged
defaults) over a `timestamp,value` CSV; `nab-score` scores such outputs with the project's own NAB
standard-profile scorer, so the numbers in the README can be reproduced from the shell.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import click
from pydantic import ValidationError

from detector.volume.settings import VolumeSettings


def detection_settings(config: Path | None) -> VolumeSettings:
    """The `[detection]` table of ``config`` as VolumeSettings (defaults when absent); one-line errors."""
    if config is None:
        return VolumeSettings()
    try:
        raw = tomllib.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"config {config} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"config {config} cannot be read ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise click.ClickException(f"config {config} is not valid TOML ({error})") from None
    table = raw.get("detection", {})
    if not isinstance(table, dict):
        raise click.ClickException(f"config {config}: [detection] must be a table")
    try:
        return VolumeSettings.model_validate(table)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "table"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise click.ClickException(f"config {config}: [detection] {where}: {first['msg']}{more}") from None


@click.command("detect-series")
@click.argument("input_csv", metavar="INPUT.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "output_csv", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write timestamp,value,expected,anomaly_score,alert (alert is 0/1).")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar="DETECTOR_CONFIG", show_envvar=True,
              help="Config file whose [detection] table sets the detector (default: the packaged defaults).")
@click.option("--service", default="series", show_default=True, help="Service name the detections carry.")
def detect_series_cmd(input_csv: Path, output_csv: Path, config: Path | None, service: str) -> None:
    """Run the volume detector over INPUT.csv, a `timestamp,value` series such as a NAB file.

    Each row is one bucket (the width is the series' median step; naive timestamps are UTC), judged by the
    same detector and settings the pipeline uses. Alerts mark the row an incident would have been opened.
    """
    from detector.volume.series import detect_series

    settings = detection_settings(config)
    if not input_csv.exists():
        raise click.ClickException(f"input {input_csv} does not exist")
    if output_csv.resolve() == input_csv.resolve():
        raise click.ClickException("--out must differ from the input file")
    try:
        output_csv.parent.mkdir(parents=True, exist_ok=True)
        summary = detect_series(input_csv, output_csv, settings, service=service)
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error).splitlines()[0]) from None
    first = summary.first_alert.isoformat() if summary.first_alert else "-"
    click.echo(f"{summary.rows} rows of {summary.bucket_seconds:g} s, {summary.alerts} alert(s), "
               f"first at {first}; wrote {output_csv}", err=True)


@click.command("nab-score")
@click.option("--windows", "windows_json", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="NAB labels: JSON object of file name -> [[start, end], ...] (combined_windows.json).")
@click.option("--results", "results_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of result CSVs named like the data files (or NAB's <detector>_<file>).")
@click.option("--threshold", default=0.5, show_default=True, type=float,
              help="Results without an alert column detect where anomaly_score >= this.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def nab_score_cmd(windows_json: Path, results_dir: Path, threshold: float, as_json: bool) -> None:
    """Score detector outputs with the NAB standard profile (the project's own scorer).

    Probationary first 15% (at most 750 rows) ignored; earliest detection per window rewarded by NAB's
    scaled sigmoid; -0.11 per detection outside windows; -1 per missed window; normalised 0 (null) to
    100 (perfect) over all scored files together.
    """
    from detector.volume.nab import score_results

    if not windows_json.exists():
        raise click.ClickException(f"windows file {windows_json} does not exist")
    try:
        report = score_results(windows_json, results_dir, threshold)
    except (ValueError, OSError, json.JSONDecodeError) as error:
        raise click.ClickException(str(error).splitlines()[0]) from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
        return
    click.echo(f"{'file':34} {'score':>7} {'caught':>7} {'outside':>8} {'raw':>7}")
    for f in report.files:
        click.echo(f"{f.name:34} {f.normalised:7.1f} {f.caught:>3}/{f.windows:<3} {f.false_positives:8d} {f.raw:7.2f}")
    total = report.as_dict()["total"]
    click.echo(f"{'total':34} {report.normalised:7.1f} {total['caught']:>3}/{total['windows']:<3} "
               f"{total['false_positives']:8d} {report.raw:7.2f}")
