"""Where a whole replay spends its time: a cProfile table of one run, by cumulative and by own time.

    nice bin/py bench/profile_replay.py [FILE] [--classifier model|fast|keywords] [--top 30] [--out PATH]

It replays the bundled Xfinity tweets (by default) into a new SQLite file through the same assembly as
`detector replay` (match, classify, places, store, bucket, detect, incidents, outbox) under cProfile, and
writes the top functions by cumulative time and by own time to ``--out`` (default: stdout). The model
weights are loaded before profiling starts, so the table is the replay, not the start-up.

cProfile inflates Python-heavy code (every call costs a hook) more than the encoder's C++ work, so read
the table for *where* time goes, and bench/replay.py (no profiler) for rates. bench/PROFILE.md keeps the
tables found while working on issue 17 and what was done about them.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from detector.classify.settings import ClassifierSettings
from detector.config import Settings
from detector.runtime.assembly import build_system, run_source
from detector.sources.replay import ReplaySource
from replay_args import add_replay_arguments, replay_settings, service_settings  # bench/ is the script's folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_replay_arguments(parser, classifier="model")
    parser.add_argument("--top", type=int, default=30, help="rows per table")
    parser.add_argument("--out", type=Path, default=None, help="write the tables here (default: stdout)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db=str(Path(folder) / "profile.db"),
                            services=[service_settings(args)],
                            classifier=ClassifierSettings(kind=args.classifier))
        system = build_system(settings)
        _warm(system)
        source = ReplaySource(replay_settings(args), system.pseudonymiser)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        report = run_source(system, source, assigned=args.service, resume=False)
        profiler.disable()
        elapsed = time.perf_counter() - started
        system.close()

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = io.StringIO()
    load = os.getloadavg()
    out.write(f"file {Path(args.file).name}, classifier {args.classifier}: {report.summary()}\n")
    out.write(f"wall time under the profiler {elapsed:.1f} s; peak RSS {rss_mb:,.0f} MB; "
              f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n")
    for key, title in (("cumulative", "by cumulative time"), ("tottime", "by own time")):
        out.write(f"\n=== top {args.top} {title} ===\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(key).print_stats(args.top)
    text = out.getvalue()
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        print(f"wrote {args.out}")


def _warm(system) -> None:
    """Load the encoder's weights and the gazetteer before profiling, so the table is the replay."""
    classifier = system.pipeline.classifier
    encoder = getattr(classifier, "encoder", None)
    if encoder is not None:
        encoder.encode_raw(["warm-up text that no post contains"])
        cache = getattr(encoder, "cache", None)  # the fast tier's static encoder keeps none
        if cache is not None:
            cache.clear()
    if system.pipeline.places is not None:
        system.pipeline.places.gazetteer  # noqa: B018 - loads the cached index


if __name__ == "__main__":
    main()
