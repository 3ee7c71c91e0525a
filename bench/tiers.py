"""The model tier and the fast tier (and the cascade) on the same posts: rates and how often they agree;
and with --demo, the demo's incidents found by each tier.

    .venv/bin/python bench/tiers.py [FILE] [--limit N]
    .venv/bin/python bench/tiers.py --demo cascade fast [--dbs DIR] [--run-only]

By default the bundled Xfinity tweets (the demo's file), the posts matching "xfinity". It times, one after
the other on exactly the same posts, the raw MiniLM encode, the model tier's classifier and the fast tier's
(built first if it is not there yet; the build is not timed), each from a cold start, and prints their wall
and CPU seconds (the machine may be shared: CPU seconds move less with the load than wall seconds), the
fast tier's speed-up, and the share of posts on which the two tiers give the same outage-report,
complaint and misinformation verdicts, and the same for the cascade (timed too: it runs the model tier
on the posts it sends there, whose share it prints).

``--demo TIER...`` runs the whole demo (`detector demo --no-dashboard --classifier TIER`, the model tier's
first) under ``/usr/bin/time -v``, each into its own database in ``--dbs`` (kept with the time report, and
reused when already there: the model tier's replay costs minutes of CPU), and compares each tier's incidents with the model
tier's: how many, how many overlap one of the other's in time (both ways), the opening minute of the first
incident overlapping each of the five labelled outages (data/xfinity-outage-2020/incidents.csv), and the
severity of those that overlap nothing. The rule a tier must meet to serve the demo by default, stated before
measuring (``agrees``): every major or critical model-tier incident overlaps one of the tier's, each of the
five labelled outages is opened at the same minute, and at least 90% of the incidents overlap both ways.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from detector.classify.cascade import CascadeClassifier
from detector.classify.fast import ensure_fast_tier, load_fast_classifier
from detector.classify.model import load_default_classifier
from detector.classify.normalise import normalise_text
from detector.classify.settings import CLASSIFIER_KINDS
from detector.config import ServiceSettings
from detector.pseudonym import Pseudonymiser
from detector.sources.matching import ServiceMatcher
from detector.sources.replay import ReplaySettings, ReplaySource
from replay_args import REPO  # bench/ is the script's folder

BATCH = 1000
AGREEMENT = 0.90  # the share of incidents that must overlap one of the other tier's, both ways
SERIOUS = ("major", "critical")
FOREVER = datetime.max.replace(tzinfo=timezone.utc)
LABELLED = REPO / "data" / "xfinity-outage-2020" / "incidents.csv"


def timed(work) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = work()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(REPO / "data" / "xfinity-outage-2020" / "tweets.csv"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N matched posts")
    parser.add_argument("--demo", nargs="+", choices=CLASSIFIER_KINDS, default=None,
                        help="compare the demo's incidents with these tiers and the model tier's")
    parser.add_argument("--dbs", type=Path, default=Path("/tmp/detector-tiers"),
                        help="where --demo keeps (and reuses) each tier's database and its /usr/bin/time report")
    parser.add_argument("--run-only", action="store_true",
                        help="with --demo: only run the demo with those tiers (several benches can run side by side)")
    args = parser.parse_args()
    if args.demo and args.run_only:
        args.dbs.mkdir(parents=True, exist_ok=True)
        for tier in args.demo:
            run_demo(tier, args.dbs)
        return
    if args.demo:
        compare_demo(args.demo, args.dbs)
        return
    settings = ReplaySettings(path=Path(args.file), time_column="ts_utc", text_column="text",
                              author_column="author", service="Xfinity")
    posts, _, _ = ReplaySource(settings, Pseudonymiser(b"b" * 32)).read()
    matcher = ServiceMatcher([ServiceSettings(name="Xfinity", match=["xfinity"]).rule()])
    posts = [p for p in posts if matcher.services(p.text)][: args.limit]
    texts = [t for t in (normalise_text(p.text) for p in posts) if t]

    tier, build_s, _ = timed(ensure_fast_tier)
    model = load_default_classifier()
    model.encoder.encode_raw(["warm-up text that no post contains"])
    model.encoder.cache.clear()
    fast = load_fast_classifier(tier=tier)
    fast.classify(posts[:10])  # loads the language detector and the symptom phrases, as the model's warm-up did

    def in_batches(classify):
        return lambda: [v for i in range(0, len(posts), BATCH) for v in classify(posts[i : i + BATCH])]

    _, encode_s, encode_cpu = timed(lambda: [model.encoder.encode_raw(texts[i : i + BATCH])
                                             for i in range(0, len(texts), BATCH)])
    model_verdicts, model_s, model_cpu = timed(in_batches(model.classify))
    fast_verdicts, fast_s, fast_cpu = timed(in_batches(fast.classify))
    cascade = CascadeClassifier(fast, model)
    model.encoder.cache.clear()  # the cascade's MiniLM work is not served from the model tier's run
    cascade_verdicts, cascade_s, cascade_cpu = timed(in_batches(cascade.classify))

    load = os.getloadavg()
    n = len(posts)
    built = f"built in {build_s:.0f} s" if tier.distilled or tier.trained else "already built"
    print(f"{n:,} posts of {Path(args.file).name}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"on {os.cpu_count()} cores; fast tier {built}")
    print(f"{'':28}{'posts/s':>10}{'wall s':>9}{'CPU s':>9}")
    for name, wall, cpu in (("raw MiniLM encode", encode_s, encode_cpu),
                            ("model tier (classifier)", model_s, model_cpu),
                            ("fast tier (classifier)", fast_s, fast_cpu),
                            ("cascade (classifier)", cascade_s, cascade_cpu)):
        print(f"{name:28}{n / wall:10,.0f}{wall:9.1f}{cpu:9.1f}")
    print(f"fast / model: {model_s / fast_s:.1f}x by wall time, {model_cpu / fast_cpu:.1f}x by CPU time; "
          f"cascade / model: {model_s / cascade_s:.1f}x, {model_cpu / cascade_cpu:.1f}x")
    sent = sum(v.model == model.name for v in cascade_verdicts)
    print(f"the cascade sent {sent:,} posts to MiniLM ({sent / n:.1%}); the fast tier called "
          f"{sum(v.complaint for v in fast_verdicts) / n:.1%} complaints")
    for field in ("outage_report", "complaint", "misinformation", "symptom"):
        for tier, verdicts in (("fast", fast_verdicts), ("cascade", cascade_verdicts)):
            same = sum(getattr(a, field) == getattr(b, field) for a, b in zip(model_verdicts, verdicts))
            positives = sum(bool(getattr(a, field)) for a in model_verdicts), sum(bool(getattr(b, field)) for b in verdicts)
            print(f"same {field:15} {tier:8}: {same / n:6.1%}  (model {positives[0]:,} positive, {tier} {positives[1]:,})")
    both = [(a.symptom, b.symptom) for a, b in zip(model_verdicts, fast_verdicts) if a.complaint and b.complaint]
    if both:
        print(f"same symptom where both tiers call a complaint: {np.mean([a == b for a, b in both]):.1%} of {len(both):,}")


def run_demo(tier: str, folder: Path) -> None:
    """``detector demo --no-dashboard --classifier tier`` into ``folder/<tier>.db`` under /usr/bin/time -v,
    whose report goes to ``<tier>.time`` (with the load average it started under); nothing when the database
    is there already."""
    db = folder / f"{tier}.db"
    if db.exists():
        return
    command = ["/usr/bin/time", "-v", sys.executable, "-c", "import sys; from detector.cli.main import main; "
               "sys.exit(main())", "demo", "--no-dashboard", "--classifier", tier, "--db", str(db)]
    load = os.getloadavg()[0]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    (folder / f"{tier}.time").write_text(f"Load average at start: {load:.1f}\n{done.stderr}", encoding="utf-8")
    if done.returncode != 0:
        raise SystemExit(f"detector demo --classifier {tier} failed: {done.stderr.strip().splitlines()[-1:]}")


def demo_cost(folder: Path, tier: str) -> dict[str, float] | None:
    """Wall and CPU seconds, peak memory and starting load average of a demo run, from its ``.time`` file."""
    path = folder / f"{tier}.time"
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.+)", text).group(1).strip()  # type: ignore[union-attr]

    clock = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    return {"wall_s": sum(float(part) * 60 ** i for i, part in enumerate(reversed(clock))),
            "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
            "peak_mb": int(field("Maximum resident set size (kbytes)")) / 1024,
            "load": float(field("Load average at start"))}


def incidents(db: Path) -> list:
    """The incidents a demo database holds (suppressed ones aside: nobody was paged for them)."""
    from detector.store.alerts import load_alerts
    from detector.store.store import Store

    with Store(str(db)) as store:
        return sorted((a for a in load_alerts(store) if not a.suppressed), key=lambda a: a.opened_at)


def deciders(db: Path) -> dict[str, int]:
    """How many stored verdicts each classifier gave (the cascade's name the tier that decided each post)."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT model, count(*) FROM verdicts GROUP BY model").fetchall())


def overlaps(alert, others) -> bool:
    """Whether an incident's time span meets one of ``others``' (an open incident runs to the end of time)."""
    end = alert.resolved_at or FOREVER
    return any(o.opened_at <= end and alert.opened_at <= (o.resolved_at or FOREVER) for o in others)


def labelled_openings(alerts) -> list[str]:
    """Per labelled outage, the opening minute of the first incident overlapping it ('-': none)."""
    import pandas as pd

    out = []
    for row in pd.read_csv(LABELLED, parse_dates=["start", "end"]).itertuples():
        hit = [a for a in alerts if a.opened_at <= row.end and (a.resolved_at is None or a.resolved_at >= row.start)]
        out.append(hit[0].opened_at.strftime("%m-%d %H:%M") if hit else "-")
    return out


def compare_demo(tiers: list[str], folder: Path) -> None:
    """Run (or reuse) the demo with the model tier and each of ``tiers``; print the comparison and the verdict
    of the rule in the module's docstring."""
    from collections import Counter

    folder.mkdir(parents=True, exist_ok=True)
    names = ["model", *[t for t in tiers if t != "model"]]
    for tier in names:
        run_demo(tier, folder)
    costs = {tier: demo_cost(folder, tier) for tier in names}
    found = {tier: incidents(folder / f"{tier}.db") for tier in names}
    reference = found["model"]
    print(f"{'tier':9}{'wall s':>8}{'CPU s':>8}{'peak MB':>9}{'load':>6}{'incidents':>11}  labelled outages opened at")
    for tier in names:
        cost = costs[tier]
        spent = (f"{cost['wall_s']:8.1f}{cost['cpu_s']:8.1f}{cost['peak_mb']:9.0f}{cost['load']:6.1f}" if cost
                 else f"{'(not timed)':>31}")
        print(f"{tier:9}{spent}{len(found[tier]):11}  {' '.join(labelled_openings(found[tier]))}")
    for tier in names:
        counts = deciders(folder / f"{tier}.db")
        total = sum(counts.values())
        print(f"  {tier} verdicts by deciding classifier: "
              + ", ".join(f"{name} {n:,} ({n / total:.1%})" for name, n in counts.items()))
    for tier in names[1:]:
        alerts = found[tier]
        theirs = [a for a in alerts if overlaps(a, reference)]
        ours = [a for a in reference if overlaps(a, alerts)]
        missed = [a for a in reference if a not in ours]
        extra = [a for a in alerts if a not in theirs]
        serious_missed = [a for a in missed if a.severity in SERIOUS]
        share = min(len(theirs) / max(len(alerts), 1), len(ours) / max(len(reference), 1))
        same_openings = labelled_openings(alerts) == labelled_openings(reference)
        agrees = not serious_missed and same_openings and share >= AGREEMENT
        print(f"{tier} vs model: {len(theirs)} of {tier}'s {len(alerts)} overlap a model incident, "
              f"{len(ours)} of the model's {len(reference)} overlap one of {tier}'s; labelled outages opened at the "
              f"same minute: {same_openings}")
        print(f"  model-only by severity: {dict(Counter(a.severity for a in missed))}; "
              f"{tier}-only by severity: {dict(Counter(a.severity for a in extra))}")
        for a in missed:
            print(f"  model only: {a.opened_at:%m-%d %H:%M} {a.severity:8} peak {a.peak_value:.0f}/min")
        print(f"  rule (every major/critical model incident found, labelled openings equal, >= {AGREEMENT:.0%} "
              f"overlap both ways): {'MET' if agrees else 'not met'}")


if __name__ == "__main__":
    main()
