"""Cause rumours ("X is shutting down, that's why the app is offline") are flagged as misinformation by a
rule stated in advance, whichever classifier runs; ordinary complaints are not."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from detector.classify.cause_rumours import is_cause_rumour
from detector.classify.keywords import KeywordClassifier
from detector.pipeline import classify_posts
from detector.records import Post


@pytest.mark.parametrize("text", [
    "Lumen Bank is shutting down, that's why the app is offline",
    "the app is down because Lumen got hacked",
    "Heard they were sold to some hedge fund, that’s why nothing works",
    "lumen has gone bust, thats why you can't log in",
    "app offline due to the bank being under attack... it is under attack I tell you",
])
def test_cause_rumours_are_recognised(text):
    assert is_cause_rumour(text)


@pytest.mark.parametrize("text", [
    "lumen bank app is offline again",
    "I'm closing my account because the app is down every week",
    "down because of planned maintenance tonight",
    "Lumen Bank is shutting down its old branch on Main St",  # an event, but not offered as the cause
])
def test_ordinary_posts_are_not(text):
    assert not is_cause_rumour(text)


def test_the_pipeline_flags_the_issue_post_that_the_keyword_rule_missed():
    post = Post("replay", "1", datetime(2026, 3, 5, 14, 0, tzinfo=timezone.utc),
                "Lumen Bank is shutting down, that's why the app is offline", ("Lumen Bank",), author="a")
    (raw,) = KeywordClassifier().classify([post])
    assert raw.misinformation is False  # the keyword rule alone misses it (it wants "shutting down for good")
    _, (verdict,) = classify_posts(KeywordClassifier(), [post])
    assert verdict.misinformation is True and verdict.complaint is True
