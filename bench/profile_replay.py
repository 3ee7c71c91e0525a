"""Where a whole replay spends its time: a cProfile table of one run, by cumulative and by own time.

    nice bin/py bench/profile_replay.py [FILE] [--classifier model|fast|keywords] [--top 30] [--out PATH]

It replays the bundled Xfinity tweets (by default) into a new SQLite file through the same assembly as
`detector replay` (match, classify, places, store, bucket, detect, incidents, outbox) under cProfile, and
writes the top functions by cumulative time and by own time to ``--out`` (default: stdout). The model
weights are loaded before profiling starts, so the table is the replay, not the start-up.

Batches go through ``Pipeline.process`` one at a time on one thread (``detector replay`` classifies the
next batch on a thread of its own meanwhile): cProfile sees only its own thread. cProfile inflates
Python-heavy code (every call costs a hook) more than the encoder's C++ work, so read
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
from replay import warm  # bench/ is the script's folder
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
        warm(system.pipeline.classifier, system.pipeline.places)  # weights, lingua, gazetteer
        source = ReplaySource(replay_settings(args), system.pseudonymiser)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        system.pipeline.process_all = _one_thread(system.pipeline)
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


def _one_thread(pipeline):
    """``Pipeline.process_all`` without its classify thread: cProfile sees only the thread that enabled it,
    and a table without the classifier and places would hide them. Same stages in the same order."""
    def process_all(batches, *, source, assigned=None, report, after=None):
        for batch in batches:
            pipeline.process(batch, source=source, assigned=assigned, report=report)
            if after is not None:
                after(batch)
    return process_all


if __name__ == "__main__":
    main()
