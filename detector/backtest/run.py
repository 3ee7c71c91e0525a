"""A budget sweep over a store a replay has filled: load each service's classified posts once, then let every
budget re-run the detect stage over them and score its pages against the known incidents."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Sequence

from detector.alerting.settings import AlertSettings
from detector.backtest.score import BudgetResult, Span, score_budget
from detector.backtest.sweep import counted_times, pages, with_budget, as_records
from detector.backtest.truth import KnownIncident
from detector.store.backtests import classified_posts
from detector.store.store import Store
from detector.volume.settings import VolumeSettings


@dataclass(frozen=True, slots=True)
class Sweep:
    """Every budget's result, and what the sweep ran over."""

    results: tuple[BudgetResult, ...]
    services: tuple[str, ...]
    posts: int


def sweep_budgets(store: Store, services: Sequence[str], incidents: Sequence[KnownIncident],
                  detection: VolumeSettings, alerts: AlertSettings, budgets: Sequence[float],
                  margin: timedelta, say: Callable[[str], None] = lambda line: None) -> Sweep:
    """Score each budget (in the order given) over the stored posts of ``services``."""
    loaded, spans, counted = {}, {}, {}
    for service in services:
        posts, verdicts = as_records(classified_posts(store, service), service)
        if not posts:
            say(f"{service}: no classified posts stored; its incidents are not scored")
            continue
        loaded[service] = (posts, verdicts)
        spans[service] = Span(posts[0].created_at, posts[-1].created_at)
        counted[service] = counted_times(posts, verdicts, detection)
    results = []
    for budget in budgets:
        settings = with_budget(detection, budget)
        found = []
        for service, (posts, verdicts) in loaded.items():
            started = last = time.monotonic()

            def progress(done: int, total: int = len(posts)) -> None:
                nonlocal last
                if time.monotonic() - last >= 10:
                    last = time.monotonic()
                    say(f"budget {budget:g}/week, {service}: {done:,} of {total:,} posts judged")

            service_pages = pages(posts, verdicts, settings, alerts, progress)
            found += service_pages
            say(f"budget {budget:g}/week, {service}: {len(posts):,} posts judged, {sum(p.new for p in service_pages)} alerts "
                f"({time.monotonic() - started:.1f}s)")
        results.append(score_budget(budget, found, incidents, counted, spans, margin))
    return Sweep(tuple(results), tuple(loaded), sum(len(p) for p, _ in loaded.values()))
