"""The cascade: the fast tier decides the posts it is sure of, the model tier (MiniLM) the rest.

Most posts about a service are plainly outage reports or plainly not: the fast tier's calibrated
probabilities for them are far from its thresholds, and there the two tiers agree. Near a threshold they
disagree more often, and there MiniLM's attention (word order, negation) is worth its cost. The rule,
stated in advance:

* a post is **sure** when each of the fast tier's complaint, outage-report and misinformation
  probabilities lies outside that verdict's band ``BANDS`` (a band holds the fast tier's threshold);
* a sure post keeps the fast tier's verdict; every other post is classified again, whole, by the model
  tier, so its verdict is exactly the model tier's;
* with ``complaints_to_model`` (the default) a post the fast tier calls a complaint goes to the model tier
  too: a complaint's symptom is read from its sentence vector, and the static vectors name the wrong
  symptom far more often (the README's symptom rows);
* with a claims file, the claims are matched on MiniLM vectors for every post, as the model tier matches
  them (the static vectors' similarities are on another scale than the claims' thresholds): cheaper than
  classifying every post again, but it costs the encode the cascade otherwise saves.

The bands were chosen on validation data, never on the test split or the demo: ``python bench/cascade.py
--choose`` takes both tiers' out-of-fold probabilities on the labelled train split (the same five folds)
and, per verdict, the narrowest band around the fast tier's threshold outside which the fast tier's
verdict differs from the model tier's on at most ``TARGET_DISAGREEMENT`` of the posts. Which tier decided a
post is in its verdict's ``model`` name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from detector.classify.base import Classifier
from detector.classify.model import EmbeddingClassifier
from detector.classify.normalise import normalise_text
from detector.classify.settings import BATCH_SIZE
from detector.classify.symptoms import SymptomSet
from detector.records import Post, Verdict

# The share of validation posts on which the fast tier's verdict may differ from the model tier's outside
# a band: half the 1% the cascade is allowed on the test split, as the validation folds are not the test.
TARGET_DISAGREEMENT = 0.005


@dataclass(frozen=True)
class Band:
    """The fast tier's probabilities of one verdict it is not sure within: ``low <= p <= high``."""

    low: float
    high: float

    def holds(self, p: float) -> bool:
        return self.low <= p <= self.high


# Chosen by `python bench/cascade.py --choose` (see the module's docstring) on the 2,902 train-split posts,
# for the fast heads' thresholds 0.56, 0.54 and 0.33: outside each band the tiers differed on 0.48% of them;
# the bands hold 26%, 38% and 0.4% of them, 47% together (86% with the fast tier's complaints: the labelled
# set is mostly complaints). (On the 2,522 posts before 886f36d: 0.09-0.84, 0.18-0.79, 0.28-0.66.)
BANDS: dict[str, Band] = {
    "complaint": Band(0.09, 0.84),
    "outage_report": Band(0.14, 0.81),
    "misinformation": Band(0.33, 0.47),
}


class CascadeClassifier(Classifier):
    """The fast tier's verdict for the posts it is sure of, the model tier's for the others."""

    def __init__(self, fast: EmbeddingClassifier, model: EmbeddingClassifier,
                 bands: Mapping[str, Band] | None = None, complaints_to_model: bool = True) -> None:
        self.fast = fast
        self.model = model
        self.bands = dict(BANDS if bands is None else bands)
        self.complaints_to_model = complaints_to_model
        self.name = f"cascade({fast.name}|{model.name})"

    def sure(self, verdict: Verdict) -> bool:
        """Whether the fast tier's verdict stands (the rule of the module's docstring)."""
        if self.complaints_to_model and verdict.complaint:
            return False
        return not any(band.holds(getattr(verdict, f"{field}_p")) for field, band in self.bands.items())

    def classify(self, posts: Sequence[Post]) -> list[Verdict]:
        verdicts = self.fast.classify(posts)
        unsure = [i for i, verdict in enumerate(verdicts) if not self.sure(verdict)]
        if unsure:
            # The fast tier has detected the languages already: the model tier reads them from the post.
            again = self.model.classify([posts[i] if posts[i].lang else dataclasses.replace(posts[i], lang=verdicts[i].lang)
                                         for i in unsure])
            for i, verdict in zip(unsure, again):
                verdicts[i] = verdict
        if self.model.claims is not None:
            self._match_claims(posts, verdicts, sorted(set(range(len(posts))) - set(unsure)))
        return verdicts

    def _match_claims(self, posts: Sequence[Post], verdicts: list[Verdict], decided: list[int]) -> None:
        """Claims of the posts the fast tier decided, matched on MiniLM vectors as the model tier does."""
        texts = {i: normalise_text(posts[i].text) for i in decided}
        rows = [i for i in decided if texts[i]]
        if not rows:
            return
        vectors = self.model.encoder.encode([texts[i] for i in rows])
        matches = self.model.claims.match(vectors, [posts[i].services for i in rows])  # type: ignore[union-attr]
        for i, match in zip(rows, matches):
            verdicts[i] = dataclasses.replace(verdicts[i], claim=match.claim.id if match else None,
                                              claim_similarity=match.similarity if match else None)


def load_cascade_classifier(
    model_dir: Path | str | None = None,
    claims_path: Path | str | None = None,
    embedding_model: Path | str | None = None,
    batch_size: int = BATCH_SIZE,
    symptom_sets: Mapping[str, SymptomSet] | None = None,
) -> CascadeClassifier:
    """The fast tier (built first if needed) in front of the model tier, sharing one language detector."""
    from detector.classify.fast import ensure_fast_tier
    from detector.classify.model import load_default_classifier

    model = load_default_classifier(model_dir=model_dir, claims_path=claims_path, embedding_model=embedding_model,
                                    batch_size=batch_size, symptom_sets=symptom_sets)
    tier = ensure_fast_tier(embedding_model=embedding_model)
    fast = EmbeddingClassifier(model_dir=tier.heads_dir, encoder=tier.encoder(), languages=model.languages,
                               symptom_sets=symptom_sets)
    return CascadeClassifier(fast, model)  # type: ignore[arg-type]
