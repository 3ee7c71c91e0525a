"""The model tier and the fast tier on the same posts, in one process: rates and how often they agree.

    .venv/bin/python bench/tiers.py [FILE] [--limit N]

By default the bundled Xfinity tweets (the demo's file), the posts matching "xfinity". It times, one after
the other on exactly the same posts, the raw MiniLM encode, the model tier's classifier and the fast tier's
(built first if it is not there yet; the build is not timed), each from a cold start, and prints their wall
and CPU seconds (the machine may be shared: CPU seconds move less with the load than wall seconds), the
fast tier's speed-up, and the share of posts on which the two tiers give the same outage-report,
complaint and misinformation verdicts. The whole replay with each tier is `detector demo --classifier`.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from detector.classify.fast import ensure_fast_tier, load_fast_classifier
from detector.classify.model import load_default_classifier
from detector.classify.normalise import normalise_text
from detector.config import ServiceSettings
from detector.pseudonym import Pseudonymiser
from detector.sources.matching import ServiceMatcher
from detector.sources.replay import ReplaySettings, ReplaySource
from replay_args import REPO  # bench/ is the script's folder

BATCH = 1000


def timed(work) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = work()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(REPO / "data" / "xfinity-outage-2020" / "tweets.csv"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N matched posts")
    args = parser.parse_args()
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

    load = os.getloadavg()
    n = len(posts)
    built = f"built in {build_s:.0f} s" if tier.distilled or tier.trained else "already built"
    print(f"{n:,} posts of {Path(args.file).name}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"on {os.cpu_count()} cores; fast tier {built}")
    print(f"{'':28}{'posts/s':>10}{'wall s':>9}{'CPU s':>9}")
    for name, wall, cpu in (("raw MiniLM encode", encode_s, encode_cpu),
                            ("model tier (classifier)", model_s, model_cpu),
                            ("fast tier (classifier)", fast_s, fast_cpu)):
        print(f"{name:28}{n / wall:10,.0f}{wall:9.1f}{cpu:9.1f}")
    print(f"fast / model: {model_s / fast_s:.1f}x by wall time, {model_cpu / fast_cpu:.1f}x by CPU time")
    for field in ("outage_report", "complaint", "misinformation"):
        same = sum(getattr(a, field) == getattr(b, field) for a, b in zip(model_verdicts, fast_verdicts))
        positives = sum(getattr(a, field) for a in model_verdicts), sum(getattr(b, field) for b in fast_verdicts)
        print(f"same {field:15}: {same / n:6.1%}  (model {positives[0]:,} positive, fast {positives[1]:,})")


if __name__ == "__main__":
    main()
