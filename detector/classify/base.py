"""The classifier contract: a batch of posts in, one verdict per post out, in the same order.

Batches, not single posts, because the embedding model is only fast when it encodes many texts at once.
A classifier never raises on odd input (empty text, another language): it returns a low-confidence verdict.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from detector.records import Post, Verdict


class Classifier(ABC):
    """Labels posts as outage complaints, misinformation or other, and names the symptom."""

    name: str = "classifier"

    @abstractmethod
    def classify(self, posts: Sequence[Post]) -> list[Verdict]:
        """Return one verdict per post, in order."""
