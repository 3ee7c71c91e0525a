"""Our volume detector beside established ones on NAB realTweets, scored by our NAB scorer.

    python bench/volume.py [--data ../shared/data/nab-realtweets-dev] [--config C] [--out DIR] [--only NAME]
                           [--xfinity] [--synthetic] [--speed]

Detectors (one configuration each for all files, no per-file tuning):

* ``cusum``     - ours, the packaged defaults (or the [detection] table of --config), metric = the value:
  count CUSUMs whose threshold is set from ``false_alerts_per_week``.
* ``seasonal``  - the previous rule (window p-values calibrated on the series' surprises), same settings.
* ``river-gauss`` - river's GaussianScorer (running mean/variance, grace period 100), alert when its score
  exceeds 0.9999 (about 3.9 sigma); NAB's windowedGaussian is the same idea.
* ``river-hst`` - river's HalfSpaceTrees (25 trees, height 15, window 250, seed 42) on min-max scaled value
  and hour of day, alert at its running 99.9% score quantile (river's QuantileFilter).
* ``stl-esd``   - statsmodels STL (daily period) refitted causally every day on the last 7 days; a
  row is flagged when its residual from that decomposition is an outlier by Rosner's generalised-ESD
  critical value (alpha 0.05) among the fitted residuals, upward only (Twitter's S-H-ESD, made causal).

The reference detectors flag every row above their threshold (the usual NAB reading); ours flags the row an
incident opens. Prints NAB score, windows caught and detections outside windows per file and in total.
Their scores depend on the library release (river 0.26 / statsmodels 0.15 give GaussianScorer 8.6,
HalfSpaceTrees 43.2, STL+ESD -990.4; earlier releases gave 41.1, 47.0, -578.7), so pyproject pins them.
"""

from __future__ import annotations

import argparse
import csv
import math
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from detector.volume.nab import score_results
from detector.volume.series import detect_series, read_series
from detector.volume.settings import VolumeSettings

DEFAULT_DATA = REPO.parent / "shared" / "data" / "nab-realtweets-dev"


def write_alerts(path: Path, rows, alerts) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "alert"])
        for (moment, value), alert in zip(rows, alerts):
            writer.writerow([moment.strftime("%Y-%m-%d %H:%M:%S"), f"{value:g}", int(alert)])


def river_gauss(rows) -> list[bool]:
    from river import anomaly

    scorer = anomaly.GaussianScorer(grace_period=100)
    alerts = []
    for _, value in rows:
        alerts.append(scorer.score_one(None, value) > 0.9999)
        scorer.learn_one(None, value)
    return alerts


def river_hst(rows) -> list[bool]:
    from river import anomaly, compose, preprocessing

    model = compose.Pipeline(
        preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(n_trees=25, height=15, window_size=250, seed=42)
    )
    detector = anomaly.QuantileFilter(model, q=0.999)
    alerts = []
    for moment, value in rows:
        features = {"value": value, "hour": moment.hour + moment.minute / 60}
        score = detector.score_one(features)
        alerts.append(bool(detector.classify(score)))
        detector.learn_one(features)
    return alerts


def stl_esd(rows, alpha: float = 0.05, history_days: int = 7) -> list[bool]:
    import numpy as np
    from scipy import stats
    from statsmodels.tsa.seasonal import STL

    values = np.array([v for _, v in rows], dtype=float)
    step = (rows[1][0] - rows[0][0]).total_seconds() if len(rows) > 1 else 300.0
    period = max(2, round(86400 / step))
    history = history_days * period
    alerts = [False] * len(values)
    for day_start in range(history, len(values), period):
        fit = STL(values[day_start - history:day_start], period=period).fit()
        residuals = fit.resid
        center = float(np.median(residuals))
        spread = 1.4826 * float(np.median(np.abs(residuals - center))) or 1e-9
        n = len(residuals) + 1
        t = stats.t.ppf(1 - alpha / (2 * n), n - 2)
        critical = (n - 1) * t / math.sqrt((n - 2 + t * t) * n)
        seasonal = fit.seasonal[-period:]
        trend = fit.trend[-1]
        for offset in range(min(period, len(values) - day_start)):
            residual = values[day_start + offset] - (trend + seasonal[offset])
            alerts[day_start + offset] = (residual - center) / spread > critical
    return alerts


REFERENCES = {"river-gauss": river_gauss, "river-hst": river_hst, "stl-esd": stl_esd}

XFINITY = REPO.parent / "shared" / "data" / "xfinity-outage-2020" / "tweets.csv"
XFINITY_ONSETS = {"2020-01-23": "2020-01-23T19:00:00+00:00", "2020-06-03": "2020-06-03T18:55:00+00:00"}
XFINITY_INCIDENTS = REPO / "data" / "xfinity-outage-2020" / "incidents.csv"


def xfinity_known() -> list[tuple]:
    """(start, end) of the Xfinity incidents: data/xfinity-outage-2020/incidents.csv, else the two spikes."""
    from datetime import datetime, timedelta

    if XFINITY_INCIDENTS.exists():
        with open(XFINITY_INCIDENTS, newline="", encoding="utf-8") as handle:
            return [(datetime.fromisoformat(r["start"].replace("Z", "+00:00")),
                     datetime.fromisoformat((r["end"] or r["start"]).replace("Z", "+00:00")) + timedelta(hours=6))
                    for r in csv.DictReader(handle)]
    return [(datetime.fromisoformat(o) - timedelta(hours=1), datetime.fromisoformat(o) + timedelta(hours=6))
            for o in XFINITY_ONSETS.values()]


def xfinity_live(settings: VolumeSettings, path: Path = XFINITY) -> dict:
    """Replay the Xfinity tweets as the pipeline would: every tweet (all matched "outage Xfinity") is taken
    for an outage report and counted by the pipeline's own bucketing (``ServiceBuckets``: a person once per
    hour-long reporting spell, so one author's five tweets in ten minutes are one person, not five), the open
    minute is scored after every post and every minute is closed, empty ones too. Returns alert times, delays
    after the known incidents' starts, and other alerts."""
    from datetime import datetime, timedelta

    import pandas as pd

    from detector.records import Post, Verdict
    from detector.volume.bucketing import ServiceBuckets
    from detector.volume.registry import build_detector

    tweets = pd.read_csv(path, usecols=["tweet_id", "ts_utc", "user"]).sort_values("ts_utc")
    detector = build_detector(settings, "xfinity")
    counter = ServiceBuckets("xfinity", timedelta(seconds=settings.bucket_seconds))
    alerts: list[datetime] = []

    rearm = timedelta(minutes=settings.rearm_minutes)

    def note(detection) -> None:
        # One incident, one alert, as the pipeline's alert manager keeps it: score() on the open minute and
        # update() on the closed one may both fire before the detector has marked the incident.
        if detection.alert and not detection.suppressed and not (alerts and detection.at - alerts[-1] < rearm):
            alerts.append(detection.at)

    times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in tweets["ts_utc"]]
    for moment, user, tweet in zip(times, tweets["user"], tweets["tweet_id"]):
        for closed in counter.advance(moment):  # close every minute up to this post, empty ones included
            note(detector.update(closed))
        post = Post("twitter", str(tweet), moment, "", ("xfinity",), author=str(user))
        verdict = Verdict("twitter", str(tweet), complaint=True, complaint_p=1.0, outage_report=True,
                          outage_report_p=1.0)
        note(detector.score(counter.add(post, verdict)))
    for closed in counter.advance(times[-1] + timedelta(seconds=settings.bucket_seconds)):
        note(detector.update(closed))
    delays = {}
    for start, end in xfinity_known():
        after = [a for a in alerts if start - timedelta(hours=1) <= a <= end]
        delays[start.isoformat()] = (after[0] - start).total_seconds() / 60 if after else None
    known = xfinity_known()
    others = [a for a in alerts if not any(start - timedelta(hours=1) <= a <= end for start, end in known)]
    months = (times[-1] - times[0]).total_seconds() / (30.44 * 86400)
    return {"alerts": alerts, "delays": delays, "others": others, "months": months}


def detector_speed(settings: VolumeSettings, minutes: int = 200_000) -> None:
    """Time ``update()`` per one-minute bucket on a sparse series (two people an hour): the default (CUSUM)
    rule against the previous one, with its usual-volume test on and off, in the same process."""
    from datetime import datetime, timedelta, timezone

    import numpy as np

    from detector.records import Bucket
    from detector.volume.registry import build_detector

    counts = np.random.default_rng(1).poisson(2 / 60, minutes)
    t0, width = datetime(2024, 1, 1, tzinfo=timezone.utc), timedelta(minutes=1)
    buckets = [Bucket("s", t0 + i * width, t0 + (i + 1) * width, mentions=int(c), complaints=int(c),
                      people=int(c), complaint_people=int(c)) for i, c in enumerate(counts)]
    timings = {}
    for label, update in (("reference off (baseline)", {"detector": "seasonal", "reference_window_minutes": 0.0}),
                          ("previous (seasonal)", {"detector": "seasonal"}), ("default", {})):
        detector = build_detector(VolumeSettings.model_validate({**settings.model_dump(), **update}), "s")
        started = time.perf_counter()
        for bucket in buckets:
            detector.update(bucket)
        timings[label] = (time.perf_counter() - started) / len(buckets) * 1e6
        state = len(__import__("pickle").dumps(detector))
        print(f"detector speed, {label:26}: {timings[label]:6.1f} us per bucket, state {state / 1024:.0f} KiB")
    print(f"detector speed ratio default / previous: {timings['default'] / timings['previous (seasonal)']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with the CSVs and windows.json")
    parser.add_argument("--config", type=Path, default=None, help="config whose [detection] table to use")
    parser.add_argument("--out", type=Path, default=None, help="keep the result CSVs here (default: temporary)")
    parser.add_argument("--only", choices=["cusum", "seasonal", *REFERENCES], action="append",
                        help="run only these on NAB")
    parser.add_argument("--synthetic", action="store_true",
                        help="also run the synthetic support, busy and step streams (bench/synthetic_streams.py)")
    parser.add_argument("--xfinity", action="store_true",
                        help="also replay the Xfinity 2020 tweets live (per-minute people) and report alert delays")
    parser.add_argument("--speed", action="store_true",
                        help="also time the detector per one-minute bucket, with and without the reference test")
    args = parser.parse_args()
    if args.speed:
        detector_speed(VolumeSettings())
    if args.synthetic:
        from synthetic_bench import run_synthetic

        run_synthetic()
    if args.xfinity:
        if not XFINITY.exists():
            print(f"skipped Xfinity: {XFINITY} not found")
        else:
            base = VolumeSettings() if args.config is None else __import__(
                "detector.cli.volume", fromlist=["detection_settings"]).detection_settings(args.config)
            source = XFINITY_INCIDENTS if XFINITY_INCIDENTS.exists() else "the two known spikes"
            for name in ("cusum", "seasonal"):
                result = xfinity_live(base.model_copy(update={"detector": name}))
                for start, delay in result["delays"].items():
                    shown = "missed" if delay is None else f"{delay:+.1f} min"
                    print(f"xfinity {name:9} incident {start}: first alert {shown} after its start")
                print(f"xfinity {name:9} alerts: {len(result['alerts'])} in {result['months']:.1f} months; "
                      f"{len(result['others'])} outside the incidents of {source} "
                      f"({len(result['others']) / result['months']:.1f} per month)")
                for moment in result["others"]:
                    print(f"  {name} alert outside at {moment.isoformat()}")
    windows = args.data / "windows.json"
    if not windows.exists():
        print(f"skipped: NAB realTweets data not found at {args.data} (needs windows.json and the CSVs)")
        return 0
    settings = VolumeSettings()
    if args.config is not None:
        from detector.cli.volume import detection_settings

        settings = detection_settings(args.config)
    settings = settings.model_copy(update={"metric": "mentions"})  # a bare series: every count field is the value
    files = sorted(p for p in args.data.glob("*.csv"))
    names = args.only or ["cusum", "seasonal", *REFERENCES]
    out_root = args.out or Path(tempfile.mkdtemp(prefix="bench-volume-"))
    reports = {}
    for name in names:
        folder = out_root / name
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for path in files:
            if name in ("cusum", "seasonal"):
                detect_series(path, folder / path.name, settings.model_copy(update={"detector": name}),
                              service=path.stem)
            else:
                rows = read_series(path)
                write_alerts(folder / path.name, rows, REFERENCES[name](rows))
        reports[name] = (score_results(windows, folder), time.perf_counter() - started)
    print(f"{'detector':12} {'file':26} {'NAB':>6} {'caught':>7} {'outside':>8}")
    for name, (report, seconds) in reports.items():
        for f in report.files:
            print(f"{name:12} {f.name.removeprefix('Twitter_volume_'):26} {f.normalised:6.1f} "
                  f"{f.caught:>3}/{f.windows:<3} {f.false_positives:8d}")
        total = report.as_dict()["total"]
        print(f"{name:12} {'TOTAL':26} {report.normalised:6.1f} {total['caught']:>3}/{total['windows']:<3} "
              f"{total['false_positives']:8d}   ({seconds:.0f} s)")
    print(f"results in {out_root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
