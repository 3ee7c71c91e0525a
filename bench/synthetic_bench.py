"""The volume rules on the synthetic streams of ``synthetic_streams.py``: new (cusum) beside previous (seasonal).

    python bench/synthetic_bench.py [--weeks 8] [--seeds 3]     (also: python bench/volume.py --synthetic)

* Support streams (one-minute people reporting, incidents planted): false alerts a week outside any incident
  (an alert from 5 min before an incident's first report to 2 h after its last is the incident's), at budgets
  0.1, 0.25, 0.5 and 1 (also on streams whose rate wanders for hours, and on streams whose people arrive
  in clusters, ``clustered_stream``); at each budget the share of incidents with 5+ people in 15 minutes caught (an alert
  up to an hour after the incident's last report) and the median delay after its third report, in minutes
  (closed buckets only: the pipeline's open-bucket decision can only be earlier). The same streams with no
  incidents give the pure false-alert rate.
* Busy bursty streams (five-minute NAB-like counts, no outage): false alerts a week per budget.
* Step shifts: delay to detect a rate x3 step at 0.05, 0.5 and 5 a bucket, against the CUSUM that knows the
  shift (Lorden/Moustakides-optimal), whose delay is about log(ARL) / KL per bucket at the same ARL.
Each line is one seed set; the previous rule has no budget, so it is printed once (its ``alpha``).
"""

from __future__ import annotations

import argparse
import math
from datetime import timedelta
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]

from detector.volume.registry import build_detector
from detector.volume.settings import VolumeSettings
from synthetic_streams import busy_stream, clustered_stream, step_stream, support_stream

BUDGETS = (0.1, 0.25, 0.5, 1.0)
WANDER_SD = 0.5  # the wandering streams' log-rate sd: variance = mean + 0.28 mean^2, as Xfinity's hourly sums
FIVE = timedelta(minutes=5)


def episodes(settings: VolumeSettings, buckets) -> list:
    detector = build_detector(settings, "s")
    rearm = timedelta(minutes=settings.rearm_minutes)
    found = []
    for bucket in buckets:
        detection = detector.update(bucket)
        if detection.alert and not detection.suppressed and not (found and detection.at - found[-1] < rearm):
            found.append(detection.at)
    return found


def support_row(settings: VolumeSettings, streams, weeks: float) -> str:
    false, caught, wanted, delays = 0, 0, 0, []
    for buckets, incidents in streams:
        found = episodes(settings, buckets)
        false += sum(not any(i.start - FIVE <= a <= i.end + timedelta(hours=2) for i in incidents) for a in found)
        for incident in incidents:
            if not incident.five_in_fifteen:
                continue
            wanted += 1
            hits = [a for a in found if incident.start - FIVE <= a <= incident.end + timedelta(hours=1)]
            if hits:
                caught += 1
                delays.append((hits[0] - incident.third_report).total_seconds() / 60)
    shown = f"{median(delays):+.1f}" if delays else "-"
    return (f"{false / (weeks * len(streams)):8.2f} {caught:>4}/{wanted:<4} {caught / max(1, wanted):6.0%} "
            f"{shown:>8}")


def run_synthetic(weeks: float = 8, seeds: int = 3) -> None:
    streams = [support_stream(weeks=weeks, seed=seed) for seed in range(seeds)]
    quiet = [support_stream(weeks=weeks, seed=100 + seed, incidents=False) for seed in range(seeds)]
    busy = [busy_stream(weeks=weeks, seed=200 + seed) for seed in range(seeds)]
    wander = [support_stream(weeks=weeks, seed=300 + seed, wander_sd=WANDER_SD) for seed in range(seeds)]
    clustered = [clustered_stream(weeks=weeks, seed=400 + seed) for seed in range(seeds)]
    print(f"synthetic support: {seeds} streams x {weeks:g} weeks, "
          f"{sum(len(i) for _, i in streams)} incidents, {sum(i.five_in_fifteen for _, t in streams for i in t)} "
          "of 5+ people in 15 min")
    print(f"{'rule':10} {'budget':>6} {'FA/week':>8} {'caught 5in15':>10} {'share':>6} {'med.delay':>8}"
          f" {'FA/wk no-incident':>17} {'FA/wk busy':>10} {'wander: FA/week':>15} {'caught':>10} {'share':>6}"
          f" {'med.delay':>8} {'clustered: FA/week':>18} {'caught':>10} {'share':>6} {'med.delay':>8}")
    for name, budgets in (("cusum", BUDGETS), ("seasonal", (None,))):
        for budget in budgets:
            update = {"detector": name} | ({} if budget is None else {"false_alerts_per_week": budget})
            people = VolumeSettings(**update)
            mentions = VolumeSettings(metric="mentions", **update)
            quiet_rate = sum(len(episodes(people, b)) for b, _ in quiet) / (weeks * seeds)
            busy_rate = sum(len(episodes(mentions, b)) for b in busy) / (weeks * seeds)
            shown = "alpha" if budget is None else f"{budget:g}"
            print(f"{name:10} {shown:>6} {support_row(people, streams, weeks)} {quiet_rate:17.2f} {busy_rate:10.2f}"
                  f" {support_row(people, wander, weeks):>15} {support_row(people, clustered, weeks):>18}", flush=True)
    print("step x3 (Poisson, one-minute buckets, budget 0.25): delay in buckets, ours vs the optimal CUSUM's")
    for mean in (0.05, 0.5, 5.0):
        delays = []
        for seed in range(20):
            buckets = step_stream(mean, 3.0, 3000, 3400, seed=seed)
            detector = build_detector(VolumeSettings(metric="mentions"), "s")
            first = None
            for i, bucket in enumerate(buckets):
                if detector.update(bucket).alert and i >= 3000:
                    first = i - 3000 + 1
                    break
            delays.append(first if first is not None else 400)
        arl = 7 * 1440 / 0.25
        kl = mean * (3 * math.log(3) - 3 + 1)  # KL per bucket of Poisson(3m) from Poisson(m)
        optimal = math.log(arl) / kl
        print(f"  mean {mean:5g}/bucket: median {median(delays):6.1f} buckets; optimal about {optimal:6.1f} "
              f"(ratio {median(delays) / optimal:.2f})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=float, default=8, help="weeks per stream")
    parser.add_argument("--seeds", type=int, default=3, help="streams per kind")
    args = parser.parse_args()
    run_synthetic(args.weeks, args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
