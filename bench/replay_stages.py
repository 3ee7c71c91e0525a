"""Where a whole replay's wall time goes, stage by stage, without a profiler.

    nice bin/py bench/replay_stages.py [FILE] [--classifier fast|keywords|model]

cProfile (bench/profile_replay.py) charges every Python call a hook, so it inflates the pure-Python stages
(place finding, the detector's walk) against C-heavy ones (the encoder, SQLite) and against each other by
unknown factors. This bench replays the file (the bundled Xfinity tweets by default) into a new SQLite file
through the same assembly as `detector replay`, with a wall-clock timer wrapped around each stage's entry
point only (a few hundred thousand ``perf_counter`` calls at most: the per-minute walk is timed per run of
empty minutes, not per minute), and prints each stage's seconds and share of the run. Stages nest
("of which"). Classification (with cause rumours and places) runs on a thread of its own beside the main
thread's storing and judging of the batch before (``Pipeline.process_all``): its line is wall time on that
thread, not part of the main thread's sum; what the main thread's stages leave of the run is mostly its
wait for that thread.

The lazily loaded pieces (the encoder's weights, lingua's models, the gazetteer) are loaded before the clock
starts, as in bench/replay.py. Compare shares within one run; absolute seconds move with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import detector.pipeline as pipeline_module
from detector.classify.settings import ClassifierSettings
from detector.config import Settings
from detector.runtime.assembly import build_system, run_source
from detector.sources.replay import ReplaySource
from detector.volume.bucketing import ServiceBuckets
from detector.volume.decision import DecidedDetector
from replay import warm  # bench/ is the script's folder
from replay_args import add_replay_arguments, replay_settings, service_settings

SCORE = "detector: score each post's open bucket"
UPDATE = "detector: closed buckets, one by one"
SKIP = "detector: runs of empty minutes at once"
CLASSIFY_THREAD = "classify thread: classify_posts"
# (label, depth) in the order printed; depth 1 stages are parts of the depth 0 stage above them. The
# classify thread's stage runs beside the main thread's (Pipeline.process_all), so it is not in their sum.
STAGES = [
    ("read the file (source)", 0),
    ("select: match, known ids", 0),
    (CLASSIFY_THREAD, 0),
    ("classify (the tier)", 1),
    ("cause rumours", 1),
    ("places", 1),
    ("store and judge a batch", 0),
    ("observe: bucket, detect, incidents", 1),
    (SCORE, 2),
    (UPDATE, 2),
    (SKIP, 2),
    ("buckets: count a post, close buckets", 2),
    ("incidents: observe a detection", 2),
    ("evidence: remember a report", 2),
    ("notifications: post views, payloads", 2),
    ("store: posts, services, verdicts, places", 1),
    ("store: incidents, events, outbox", 1),
    ("store: recount buckets", 1),
    ("store: detector scores on buckets", 1),
    ("store: detector state", 1),
    ("store: commit", 1),
    ("deliver the outbox", 0),
    ("flush at the end", 0),
]


class Timers:
    """Accumulated wall seconds and calls per stage label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, label: str, function: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1
        return timed

    def wrap_iterator(self, label: str, items: Iterator) -> Iterator:
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                self.seconds[label] += time.perf_counter() - started
                return
            self.seconds[label] += time.perf_counter() - started
            self.calls[label] += 1
            yield item


def instrument(system: Any, timers: Timers) -> None:
    """Wrap each stage's entry point on this system's objects (and the pipeline module's functions)."""
    pipe, store = system.pipeline, system.store
    pipe._store_batch = timers.wrap("store and judge a batch", pipe._store_batch)
    pipeline_module.classify_posts = timers.wrap(CLASSIFY_THREAD, pipeline_module.classify_posts)
    pipe.flush = timers.wrap("flush at the end", pipe.flush)
    pipe.selector.select = timers.wrap("select: match, known ids", pipe.selector.select)
    pipe.classifier.classify = timers.wrap("classify (the tier)", pipe.classifier.classify)
    if pipe.places is not None:
        pipe.places.find = timers.wrap("places", pipe.places.find)
    pipe.observe = timers.wrap("observe: bucket, detect, incidents", pipe.observe)
    pipeline_module.flag_cause_rumours = timers.wrap("cause rumours", pipeline_module.flag_cause_rumours)
    pipeline_module.save_changes = timers.wrap("store: incidents, events, outbox", pipeline_module.save_changes)
    store.add_posts = timers.wrap("store: posts, services, verdicts, places", store.add_posts)
    store.recompute_buckets = timers.wrap("store: recount buckets", store.recompute_buckets)
    store.record_detections = timers.wrap("store: detector scores on buckets", store.record_detections)
    store.save_detector_states = timers.wrap("store: detector state", store.save_detector_states)
    system.sender.deliver_due = timers.wrap("deliver the outbox", system.sender.deliver_due)
    transaction = store.transaction

    @contextmanager
    def timed_transaction() -> Iterator:
        with transaction() as conn:
            yield conn
            started = time.perf_counter()  # the block's end: what follows is the commit
        timers.seconds["store: commit"] += time.perf_counter() - started
        timers.calls["store: commit"] += 1

    store.transaction = timed_transaction
    # on the class, not the instances: the detectors are pickled into the store with every batch
    DecidedDetector.score = timers.wrap(SCORE, DecidedDetector.score)
    DecidedDetector.update = timers.wrap(UPDATE, DecidedDetector.update)
    DecidedDetector.skip_empty = timers.wrap(SKIP, DecidedDetector.skip_empty)
    ServiceBuckets.add = timers.wrap("buckets: count a post, close buckets", ServiceBuckets.add)
    advance_runs = ServiceBuckets.advance_runs  # a generator: timed while it runs, through list()
    ServiceBuckets.advance_runs = timers.wrap("buckets: count a post, close buckets",
                                              lambda *args: list(advance_runs(*args)))
    pipe.manager.observe = timers.wrap("incidents: observe a detection", pipe.manager.observe)
    pipe.evidence.add = timers.wrap("evidence: remember a report", pipe.evidence.add)
    pipeline_module.post_view = timers.wrap("notifications: post views, payloads", pipeline_module.post_view)
    pipe._notifications = timers.wrap("notifications: post views, payloads", pipe._notifications)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_replay_arguments(parser, classifier="fast")
    args = parser.parse_args()
    timers = Timers()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db=str(Path(folder) / "stages.db"), services=[service_settings(args)],
                            classifier=ClassifierSettings(kind=args.classifier))
        system = build_system(settings)
        warm(system.pipeline.classifier, system.pipeline.places)
        instrument(system, timers)
        source = ReplaySource(replay_settings(args), system.pseudonymiser)
        batches = source.batches

        def timed_batches(cursor: str | None) -> Iterator:
            return timers.wrap_iterator("read the file (source)", iter(batches(cursor)))

        source.batches = timed_batches  # type: ignore[method-assign]
        load = os.getloadavg()[0]
        started = time.perf_counter()
        report = run_source(system, source, assigned=args.service, resume=False)
        total = time.perf_counter() - started
        system.close()
    print(f"file {Path(args.file).name}, classifier {args.classifier}: {report.summary()}")
    print(f"whole replay {total:.2f} s wall, {report.stored / total:,.0f} posts/s; load average "
          f"{load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'stage':<48} {'seconds':>8} {'share':>6} {'calls':>8}")
    for label, depth in STAGES:
        seconds = timers.seconds.get(label, 0.0)
        name = "  " * depth + ("... " if depth else "") + label
        print(f"{name:<48} {seconds:8.2f} {seconds / total:6.1%} {timers.calls.get(label, 0):8,}")
    covered = sum(timers.seconds.get(label, 0.0) for label, depth in STAGES if depth == 0 and label != CLASSIFY_THREAD)
    rest = total - covered
    print(f"{'(main thread elsewhere: waiting for the classify':<48}\n{'  thread, run_source, process_all)':<48} "
          f"{rest:8.2f} {rest / total:6.1%}")


if __name__ == "__main__":
    main()
