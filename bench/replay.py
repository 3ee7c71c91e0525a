"""Whole-pipeline throughput and peak memory per classifier tier, against the raw encode, in one run.

    nice .venv/bin/python bench/replay.py [FILE] [--tiers model,fast] [--phases encode,classify,pipeline]
                                          [--repeat N] [--limit N]

By default it replays the bundled Xfinity tweets (8,787 posts over 8 months of 1-minute buckets). Each
phase runs in a fresh child process (so each has its own peak RSS), one after another, on exactly the posts
the pipeline classifies (the matched ones), with the weights, the language detector and the gazetteer
loaded before the clock starts:

1. raw encode: MiniLM on every normalised text, no cache, no heads, no language detection (the model
   tier's reference rate), on the main thread and again on a thread of its own, as the pipeline classifies
   (once two threads have driven torch, libgomp manages more threads than cores and spins less at its
   barriers: on a loaded machine a main-thread-only encode burnt twice the CPU); the faster is the reference;
2. per tier (``--tiers``, default ``model,fast``): the classifier alone,
   then the whole pipeline (match, classify, places, store, bucket, detect, incidents) into a new SQLite file;
   with ``--serial`` also the whole pipeline one batch at a time (``Pipeline.process`` in a loop, each
   batch classified only after the one before is stored: ``run_source`` before it overlapped them).

``--repeat N`` replays the file N times end to end (each copy shifted by the file's span, ids made unique),
and prints the peak RSS reached by the end of each copy: a stream N times longer that does not grow it.
The rates, their ratios, each phase's peak RSS and the load average at its start and end are printed side by
side, with each phase's CPU seconds (every thread; a loaded machine moves them less than wall time). The
machine may be shared: compare ratios from one run, not rates from two. Issue 17's targets: the
model tier's whole pipeline >= 0.9 of the raw encode rate, peak RSS <= 1 GB; the fast tier >= 10x the model's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from detector.classify.normalise import normalise_text
from detector.classify.model import shared_encoder
from detector.classify.settings import ClassifierSettings
from detector.config import Settings
from detector.pipeline import RunReport
from detector.pseudonym import Pseudonymiser
from detector.runtime.assembly import build_classifier, build_system, run_source
from detector.sources.base import Source, SourceBatch
from detector.sources.matching import ServiceMatcher
from detector.sources.replay import ReplaySource
from replay_args import add_replay_arguments, replay_settings, service_settings  # bench/ is the script's folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_replay_arguments(parser, classifier=None)  # --tiers says which classifiers
    parser.add_argument("--tiers", default="model,fast", help="comma-separated tiers to measure")
    parser.add_argument("--repeat", type=int, default=1, help="replay the file this many times end to end")
    parser.add_argument("--limit", type=int, default=None, help="only the first N rows of the file (by time)")
    parser.add_argument("--phases", default="encode,classify,pipeline",
                        help="which phases to run (a long file's raw encode, which has no cache, can be skipped)")
    parser.add_argument("--batch-size", type=int, default=None, help="[classifier] batch_size (default: its default)")
    parser.add_argument("--serial", action="store_true",
                        help="also time the pipeline one batch at a time (no classification ahead)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval in every phase's process (seconds; Python's default 0.005): "
                             "how soon the classify thread gets the GIL back from the pipeline's Python")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads in every phase's process (default: torch's, one per core)")
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)  # a child process: one phase
    args = parser.parse_args()
    if args.phase:
        if args.switch_interval is not None:
            sys.setswitchinterval(args.switch_interval)
        if args.torch_threads is not None:
            import torch

            torch.set_num_threads(args.torch_threads)
        print(json.dumps(run_phase(args, *args.phase.split(":"))))
        return
    tiers = args.tiers.split(",")
    phases = args.phases.split(",")
    results = {}
    if "encode" in phases:
        results["encode"] = child(args, "encode:model")
        results["encode thread"] = child(args, "encode-thread:model")
    for tier in tiers:
        for phase in ("classify", "pipeline", *(("serial",) if args.serial else ())):
            if phase in phases or phase == "serial":
                results[f"{tier} {phase}"] = child(args, f"{phase}:{tier}")
    print_table(args, results, tiers)


def child(args: argparse.Namespace, phase: str) -> dict:
    """Run one phase in a fresh interpreter, so its peak RSS is its own."""
    argv = [sys.executable, __file__, args.file, "--phase", phase, "--service", args.service,
            "--time-column", args.time_column, "--text-column", args.text_column,
            "--author-column", args.author_column, "--repeat", str(args.repeat)]
    for term in args.match or []:
        argv += ["--match", term]
    for flag, value in (("--limit", args.limit), ("--batch-size", args.batch_size),
                        ("--switch-interval", args.switch_interval), ("--torch-threads", args.torch_threads)):
        if value is not None:
            argv += [flag, str(value)]
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_phase(args: argparse.Namespace, phase: str, tier: str) -> dict:
    service = service_settings(args)
    replay = replay_settings(args)
    classifier_settings = ClassifierSettings(kind=tier, **({"batch_size": args.batch_size} if args.batch_size else {}))
    matcher = ServiceMatcher([service.rule()])
    load_before = os.getloadavg()
    out: dict = {"phase": phase, "tier": tier}
    if phase in ("pipeline", "serial"):
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(db=str(Path(folder) / "bench.db"),
                                services=[service],
                                classifier=classifier_settings)
            system = build_system(settings)
            warm(system.pipeline.classifier, system.pipeline.places)
            source = RepeatedSource(ReplaySource(replay, system.pseudonymiser), args.repeat, args.limit, matcher)
            started, cpu = time.perf_counter(), cpu_seconds()
            if phase == "pipeline":
                report = run_source(system, source, assigned=args.service, resume=False)
            else:
                report = run_serially(system, source, args.service)
            out["seconds"], out["cpu"] = time.perf_counter() - started, cpu_seconds() - cpu
            system.close()
        out["summary"] = report.summary()
        out["read"] = report.read
    else:
        source = RepeatedSource(ReplaySource(replay, Pseudonymiser(b"b" * 32)), args.repeat, args.limit, matcher)
        if phase in ("encode", "encode-thread"):  # the encoder alone: no heads, no language detector here
            encoder = shared_encoder(None, classifier_settings.batch_size)
            step = lambda posts: encoder.encode_raw([t for t in (normalise_text(p.text) for p in posts) if t])  # noqa: E731
            warm(SimpleNamespace(encoder=encoder), None)
            if phase == "encode-thread":  # one thread, kept for the phase, as Pipeline.process_all's; warmed
                # on both threads, as the pipeline phase is (its warm-up runs on the main thread): libgomp then
                # has two thread teams, more threads than cores, and spins less
                thread = ThreadPoolExecutor(max_workers=1)
                thread.submit(warm, SimpleNamespace(encoder=encoder), None).result()
                step = lambda posts, encode=step: thread.submit(encode, posts).result()  # noqa: E731
        else:
            classifier = build_classifier(classifier_settings)
            warm(classifier, None)
            step = classifier.classify
        seconds = cpu = 0.0  # the encode or classify alone, not the file's reading
        for batch in source.batches(None):
            posts = [p for p in batch.posts if matcher.services(p.text)]
            started, cpu_started = time.perf_counter(), cpu_seconds()
            step(posts)
            seconds += time.perf_counter() - started
            cpu += cpu_seconds() - cpu_started
        out["seconds"], out["cpu"] = seconds, cpu
    out["matched"] = source.matched
    out["minutes"] = source.minutes
    out["peak_mb"] = peak_mb()
    out["peak_by_copy_mb"] = source.peaks
    out["load"] = [load_before[0], os.getloadavg()[0]]
    return out


def run_serially(system, source: Source, assigned: str) -> RunReport:
    """``run_source`` without the classification ahead: each batch classified, then stored, in turn."""
    report = RunReport()
    last = None
    for batch in source.batches(None):
        system.pipeline.process(batch, source=source.name, assigned=assigned, report=report)
        if batch.posts:
            last = max(last or batch.posts[-1].created_at, batch.posts[-1].created_at)
        system.sender.deliver_due()
    if last is not None:
        system.pipeline.flush(last, report)
        system.sender.deliver_due()
    return report


def warm(classifier, places) -> None:
    """Load what loads lazily (the encoder's weights, lingua's models, the gazetteer) and empty the
    embedding cache, so a phase times classifying rather than loading."""
    encoder = getattr(classifier, "encoder", None)
    if encoder is not None:
        encoder.encode_raw(["warm-up text that no post contains"])
    languages = getattr(classifier, "languages", None)
    if languages is not None:
        languages.detect(["ceci n'est pas un texte anglais du tout"])
    cache = getattr(encoder, "cache", None)  # the fast tier's static encoder keeps none: a look-up is cheaper
    if cache is not None:
        cache.clear()
    if places is not None:
        places.gazetteer  # noqa: B018 - loads the cached index


def cpu_seconds() -> float:
    """CPU time of this process, every thread (torch's included), user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RepeatedSource(Source):
    """A replay file ``copies`` times end to end: copy k shifted by k times the file's span (plus a minute),
    its ids suffixed, so a longer stream has the file's own shape. The file is streamed again for each copy
    (never held whole: a year of posts would be the bench's own memory). Records the peak RSS after each copy
    and counts the posts ``matcher`` matches."""

    def __init__(self, replay: ReplaySource, copies: int, limit: int | None, matcher: ServiceMatcher) -> None:
        self.replay = replay
        self.name = replay.name
        self.copies = max(1, copies)
        self.limit = limit
        self.matcher = matcher
        self.peaks: list[float] = []
        self.span = timedelta(0)
        self.matched = 0
        self.minutes = 0.0

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        for copy in range(self.copies):
            first = last = None
            count = 0
            for batch in self.replay.batches(None):
                chunk = list(batch.posts)
                if self.limit is not None:
                    chunk = chunk[: max(0, self.limit - count)]
                if not chunk:
                    continue
                count += len(chunk)
                first = first or chunk[0].created_at
                last = chunk[-1].created_at
                if copy:
                    chunk = [replace(p, created_at=p.created_at + copy * self.span,
                                     source_id=f"{p.source_id}~{copy}") for p in chunk]
                self.matched += sum(1 for p in chunk if self.matcher.services(p.text))
                yield SourceBatch(posts=tuple(chunk), rejected=(), cursor=None, read=len(chunk))
            if copy == 0 and first is not None:
                self.span = last - first + timedelta(minutes=1)
            self.peaks.append(round(peak_mb()))
        self.minutes = self.copies * self.span.total_seconds() / 60


def print_table(args: argparse.Namespace, results: dict[str, dict], tiers: list[str]) -> None:
    first = next(iter(results.values()))
    rate = {name: r["matched"] / r["seconds"] for name, r in results.items()}
    shown = dict(rate)
    if "encode" in rate:  # the reference: the faster of the main-thread and the own-thread encode
        rate["encode"] = max(rate["encode"], rate["encode thread"])
    print(f"file: {Path(args.file).name} x{args.repeat}: {first['matched']:,} matched posts, "
          f"{first['minutes']:,.0f} one-minute buckets; {os.cpu_count()} cores"
          + (f"; switch interval {args.switch_interval} s" if args.switch_interval is not None else "")
          + (f"; torch threads {args.torch_threads}" if args.torch_threads is not None else ""))
    print(f"{'phase':<18} {'posts/s':>9} {'seconds':>8} {'CPU s':>7} {'x raw encode':>13} {'peak RSS MB':>12}  "
          "load start-end")
    for name, r in results.items():
        ratio = f"{shown[name] / rate['encode']:13.2f}" if "encode" in rate else f"{'-':>13}"  # the faster encode
        print(f"{name:<18} {shown[name]:9,.0f} {r['seconds']:8.1f} {r['cpu']:7.1f} {ratio} "
              f"{r['peak_mb']:12,.0f}  {r['load'][0]:.1f}-{r['load'][1]:.1f}")
    for tier in tiers:
        r = results.get(f"{tier} pipeline")
        if r is not None:
            print(f"{tier} pipeline: {r['summary']}; peak RSS after each copy: {r['peak_by_copy_mb']} MB")
        if {f"{tier} pipeline", f"{tier} serial"} <= rate.keys():
            print(f"{tier} pipeline/serial: {rate[f'{tier} pipeline'] / rate[f'{tier} serial']:.2f} "
                  "(classifying the next batch while storing this one)")
    if {"fast pipeline", "model pipeline"} <= rate.keys():
        print(f"fast/model pipeline : {rate['fast pipeline'] / rate['model pipeline']:.1f}x   (target >= 10)")
    if {"encode", "model pipeline", "model classify"} <= rate.keys():
        print(f"model pipeline/encode: {rate['model pipeline'] / rate['encode']:.2f}   (target >= 0.9); "
              f"model classify/encode: {rate['model classify'] / rate['encode']:.2f}")
    if args.repeat > 1:
        print(f"(--repeat {args.repeat}: copies after the first hit the embedding cache, the raw encode does not: "
              "read the peaks per copy, and the rates of a --repeat 1 run)")


if __name__ == "__main__":
    main()
