"""The politeness pieces every live source shares: backoff, seen-set, request budget, Retry-After,
watermarks. Time is injected; nothing sleeps."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from detector.backoff import Backoff
from detector.sources.polite import RequestBudget, SeenSet, SourceUnavailable, Watermark, user_agent
from detector.timeparse import retry_after_seconds as retry_after


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets_on_new_items() -> None:
    backoff = Backoff(base=5, cap=60, rng=random.Random(1))
    waits = [backoff.failed() for _ in range(6)]
    for n, wait in enumerate(waits):
        bound = min(60, 5 * 2**n)
        assert bound / 2 <= wait <= bound
    backoff.reset()
    assert backoff.failures == 0 and backoff.failed() <= 5
    assert 54 <= backoff.quiet(60) <= 66 and backoff.failures == 0


def test_seen_set_forgets_the_oldest_beyond_its_size() -> None:
    seen = SeenSet(size=3)
    assert [seen.add(k) for k in "abca"] == [True, True, True, False]
    seen.add("d")  # 'b' is now the oldest (a was touched again)
    assert "b" not in seen and "a" in seen and len(seen) == 3


def test_request_budget_refuses_and_says_how_long_to_wait() -> None:
    now = [100.0]
    budget = RequestBudget(2, window=60, clock=lambda: now[0])
    budget.take()
    now[0] = 110.0
    budget.take()
    with pytest.raises(SourceUnavailable) as error:
        budget.take()
    assert error.value.kind == "budget" and error.value.wait == pytest.approx(50.0)
    now[0] = 161.0
    budget.take()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert retry_after("7") == 7.0
    assert retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert retry_after(None) is None and retry_after("soon") is None


def test_watermark_keeps_ids_near_its_time_and_drops_older_ones() -> None:
    mark = Watermark(1000.0, ["a"]).advanced([("b", 1100.0), ("c", 1500.0)], overlap=300)
    assert mark.t == 1500.0 and mark.ids == ["c"]  # a and b are behind 1500 - 300
    assert not mark.is_new("c", 1500.0, 300) and mark.is_new("d", 1250.0, 300)
    assert mark.behind(1199.0, 300)
    assert Watermark.load(mark.dump()) == mark and Watermark.load("junk") is None


def test_user_agent_names_the_project_and_the_source() -> None:
    agent = user_agent("reddit", "ops@example.com")
    assert agent.startswith("outage-detector/") and "source reddit" in agent and "ops@example.com" in agent
