"""Whole-pipeline throughput against the classifier's own rate, measured in the same run.

    .venv/bin/python bench/replay.py [FILE] [--classifier model|keywords] [--limit N]

By default it replays the bundled Xfinity tweets (8,787 posts over 8 months of 1-minute buckets). It times,
in one process and on exactly the posts the pipeline classifies (the matched ones):

1. the raw encode (model tier): MiniLM on every normalised text, no cache, no heads, no language detection;
2. the classifier alone (a fresh instance, its embedding cache emptied first);
3. the whole pipeline (match, classify, places, store, bucket, detect, incidents) into a new SQLite file,

and prints the three rates side by side, their ratios, the peak RSS of the process and the load average
(the machine may be shared: compare ratios from one run, not rates from two). Run it with ``nice``.
Issue 17's target: whole pipeline >= 0.9 of the raw encode rate.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from detector.classify.normalise import normalise_text
from detector.classify.settings import ClassifierSettings
from detector.config import ServiceSettings, Settings
from detector.sources.matching import ServiceMatcher
from detector.pseudonym import Pseudonymiser
from detector.runtime.assembly import build_classifier, build_system, run_source
from detector.sources.replay import ReplaySettings, ReplaySource
from replay_args import add_replay_arguments  # bench/ is the script's folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_replay_arguments(parser, classifier="model")
    args = parser.parse_args()
    match = args.match or ["xfinity"]

    replay_settings = ReplaySettings(path=Path(args.file), time_column=args.time_column,
                                     text_column=args.text_column, author_column=args.author_column,
                                     service=args.service)
    classifier_settings = ClassifierSettings(kind=args.classifier)

    # 1. The classifier alone, on exactly the posts the pipeline will classify.
    posts, _, read = ReplaySource(replay_settings, Pseudonymiser(b"b" * 32)).read()
    matcher = ServiceMatcher([ServiceSettings(name=args.service, match=match).rule()])
    matched = [p for p in posts if matcher.services(p.text)]
    classifier = build_classifier(classifier_settings)
    cache = _cold_start(classifier)
    encode_s = None
    encoder = getattr(classifier, "encoder", None)
    if encoder is not None:
        texts = [t for t in (normalise_text(p.text) for p in matched) if t]
        started = time.perf_counter()
        for i in range(0, len(texts), 1000):
            encoder.encode_raw(texts[i : i + 1000])
        encode_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(0, len(matched), 1000):
        classifier.classify(matched[i : i + 1000])
    classify_s = time.perf_counter() - started
    if cache is not None:
        cache.clear()  # the pipeline run starts as cold as the classifier-alone run did
    del classifier

    # 2. The whole pipeline, with a fresh classifier.
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db=str(Path(folder) / "bench.db"),
                            services=[ServiceSettings(name=args.service, match=match)],
                            classifier=classifier_settings)
        system = build_system(settings)
        source = ReplaySource(replay_settings, system.pseudonymiser)
        started = time.perf_counter()
        report = run_source(system, source, assigned=args.service, resume=False)
        pipeline_s = time.perf_counter() - started
        system.close()

    span = (posts[-1].created_at - posts[0].created_at).total_seconds() / 60 if posts else 0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    classify_rate = len(matched) / classify_s if classify_s else float("inf")
    # Both rates count the same posts (the matched ones, which are what gets classified).
    pipeline_rate = len(matched) / pipeline_s if pipeline_s else float("inf")
    load = os.getloadavg()
    print(f"file: {Path(args.file).name}: {read:,} rows, {len(matched):,} matched, {span:,.0f} one-minute buckets")
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    if encode_s is not None:
        encode_rate = len(matched) / encode_s if encode_s else float("inf")
        print(f"raw encode (no cache)    : {encode_rate:10,.0f} posts/s  ({encode_s:.1f} s)")
    print(f"classifier ({args.classifier}) alone : {classify_rate:10,.0f} posts/s  ({classify_s:.1f} s)")
    print(f"whole pipeline           : {pipeline_rate:10,.0f} posts/s  ({pipeline_s:.1f} s; {report.read / pipeline_s:,.0f} rows/s read)")
    print(f"  {report.summary()}")
    if encode_s is not None:
        print(f"ratio classifier/encode  : {classify_rate / encode_rate:10.2f}")
        print(f"ratio pipeline/encode    : {pipeline_rate / encode_rate:10.2f}   (target >= 0.9)")
    print(f"ratio pipeline/classifier: {pipeline_rate / classify_rate:10.2f}")
    print(f"peak RSS                 : {rss_mb:10,.0f} MB")


def _cold_start(classifier):
    """Load the model weights before timing, and empty the in-process embedding cache, so both runs
    measure classifying rather than loading, and neither reuses the other's vectors."""
    encoder = getattr(classifier, "encoder", None)
    if encoder is None:
        return None
    encoder.encode_raw(["warm-up text that no post contains"])
    encoder.cache.clear()
    return encoder.cache


if __name__ == "__main__":
    main()
