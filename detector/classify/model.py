"""The trained classifier: sentence embeddings plus scikit-learn heads, the pipeline's default.

A model folder holds one sub-folder per head (``complaint/`` is required, ``outage_report/``,
``misinformation/`` and ``symptom/`` are optional), each with ``model.joblib`` and ``card.json`` as written by ``detector train``.
Classifying a batch normalises the texts, detects languages, encodes each distinct text once (cache), runs
the heads, and matches the known claims. Odd input (empty, emoji only, another language) gets a verdict
with a low confidence, never an exception.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from detector.classify.base import Classifier
from detector.classify.claims import ClaimsMatcher
from detector.classify.embedding import DEFAULT_MODEL_NAME, EmbeddingCache, TextEncoder
from detector.classify.heads import Head
from detector.classify.language import LanguageDetector
from detector.classify.normalise import normalise_text
from detector.classify.settings import BATCH_SIZE
from detector.classify.symptoms import SymptomMatcher, SymptomSet
from detector.records import Post, Verdict
from detector.resources import bundled

HEADS = ("complaint", "outage_report", "misinformation", "symptom")
LANGUAGE_TRUST = {"en": 1.0}  # other detected languages get FOREIGN_TRUST, unknown UNKNOWN_TRUST
FOREIGN_TRUST = 0.5
UNKNOWN_TRUST = 0.6
SHORT_TEXT = 12  # characters; "down?" alone says little
SHORT_TRUST = 0.7
# An outage report needs words: a reply of fewer than this many (handles and links aside) read without the
# thread it answers ("no separate router", "OMG NO.") has its outage probability scaled by
# 0.5 + 0.5 * words / SHORT_WORDS, so it is never a confident positive. Replies whose parent text the source gave are read
# with it instead ("parent || reply") and not shrunk.
SHORT_WORDS = 6
_WORD = re.compile(r"[^\W\d_]{2,}|\d+")

_encoders: dict[str, TextEncoder] = {}
_encoders_lock = threading.Lock()


def default_model_dir() -> Path:
    """The shipped heads: ``models/default`` (in the repository; carried by the wheel)."""
    return bundled("models", "default")


def shared_encoder(
    model_path: Path | str | None = None, batch_size: int = BATCH_SIZE, cache_path: Path | str | None = None
) -> TextEncoder:
    """One loaded encoder per model folder (and cache file) per process: loading the weights is slow."""
    key = f"{Path(model_path).resolve() if model_path is not None else ''}|{cache_path or ''}"
    with _encoders_lock:
        encoder = _encoders.get(key)
        if encoder is None:
            model = next((e._model for e in _encoders.values()
                          if e.model_path == (Path(model_path) if model_path else None) and e._model), None)
            name = Path(model_path).name if model_path is not None else DEFAULT_MODEL_NAME
            cache = EmbeddingCache(path=cache_path, namespace=name)
            encoder = _encoders[key] = TextEncoder(model_path, batch_size=batch_size, cache=cache, model=model)
        return encoder


class EmbeddingClassifier(Classifier):
    """Labels posts with the heads found in ``model_dir``; symptoms from each service's own list
    (``symptom_sets``: service name -> its symptoms; others get the web_app list)."""

    def __init__(
        self,
        model_dir: Path | str | None = None,
        encoder: TextEncoder | None = None,
        claims: ClaimsMatcher | Path | str | None = None,
        languages: LanguageDetector | None = None,
        embedding_model: Path | str | None = None,
        batch_size: int = BATCH_SIZE,
        symptom_sets: Mapping[str, SymptomSet] | None = None,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        self.heads = load_heads(self.model_dir)
        self.encoder = encoder if encoder is not None else shared_encoder(embedding_model, batch_size)
        trained_on = self.heads["complaint"].encoder
        if embedding_model is None and encoder is None and trained_on != self.encoder.name:
            raise ValueError(
                f"heads in {self.model_dir} were trained on {trained_on!r}; configure that embedding model"
            )
        expected = self.heads["complaint"].extra.get("dimension")
        if embedding_model is not None and expected and self.encoder.dimension != expected:
            raise ValueError(
                f"heads in {self.model_dir} expect {expected}-dimensional embeddings ({trained_on}); "
                f"{embedding_model} gives {self.encoder.dimension}: train heads for it with `detector train`"
            )
        if isinstance(claims, (str, Path)):
            claims = ClaimsMatcher.from_file(claims, self.encoder)
        self.claims = claims
        self.languages = languages if languages is not None else LanguageDetector()
        self.symptoms = SymptomMatcher(self.encoder.encode, symptom_sets)
        self.name = f"{trained_on}+{self.model_dir.name}"

    def classify(self, posts: Sequence[Post]) -> list[Verdict]:
        if not posts:
            return []
        texts = [normalise_text(post.text) for post in posts]
        live = [i for i, text in enumerate(texts) if text]
        languages = self._languages(posts, texts)
        verdicts: list[Verdict | None] = [None] * len(posts)
        for i, post in enumerate(posts):
            if not texts[i]:
                verdicts[i] = self._empty(post, languages[i])
        if not live:
            return verdicts  # type: ignore[return-value]
        live_texts = [texts[i] for i in live]
        vectors = self.encoder.encode(live_texts)
        complaint_p = self.heads["complaint"].positive_proba(vectors, live_texts)
        complaint = complaint_p >= self.heads["complaint"].threshold
        outage_p = self._outage(posts, live, live_texts, vectors)
        misinfo_p = self._binary("misinformation", vectors, live_texts)
        symptoms = self._symptoms(vectors, live_texts, [posts[i].services for i in live])
        matches = (
            self.claims.match(vectors, [posts[i].services for i in live]) if self.claims is not None else None
        )
        for row, i in enumerate(live):
            post = posts[i]
            is_complaint = bool(complaint[row])
            symptom, symptom_p = symptoms[row] if is_complaint else (None, None)
            match = matches[row] if matches is not None else None
            misinformation = False
            if misinfo_p is not None:
                misinformation = bool(misinfo_p[row] >= self.heads["misinformation"].threshold)
            if outage_p is None:  # a model folder from before the outage head: the complaint stands in
                is_outage, p_outage = is_complaint, float(complaint_p[row])
            else:
                p_outage = float(outage_p[row])
                is_outage = p_outage >= self.heads["outage_report"].threshold
            verdicts[i] = Verdict(
                source=post.source,
                source_id=post.source_id,
                complaint=is_complaint,
                complaint_p=round(float(complaint_p[row]), 4),
                outage_report=is_outage,
                outage_report_p=round(p_outage, 4),
                misinformation=misinformation,
                misinformation_p=round(float(misinfo_p[row]), 4) if misinfo_p is not None else 0.0,
                symptom=symptom,
                symptom_p=symptom_p,
                claim=match.claim.id if match else None,
                claim_similarity=match.similarity if match else None,
                lang=languages[i],
                confidence=self._confidence(float(complaint_p[row]), languages[i], texts[i]),
                model=self.name,
            )
        return verdicts  # type: ignore[return-value]

    def _languages(self, posts: Sequence[Post], texts: list[str]) -> list[str | None]:
        missing = [i for i, post in enumerate(posts) if not post.lang and texts[i]]
        found = dict(zip(missing, self.languages.detect([texts[i] for i in missing]))) if missing else {}
        return [post.lang or found.get(i) for i, post in enumerate(posts)]

    def _outage(self, posts: Sequence[Post], live: list[int], texts: list[str],
                vectors: np.ndarray) -> np.ndarray | None:
        """Outage-report probabilities: replies with their parent's text, short texts without it shrunk."""
        head = self.heads.get("outage_report")
        if head is None:
            return None
        p = head.positive_proba(vectors, texts)
        threaded = [row for row, i in enumerate(live) if normalise_text(posts[i].context)]
        alone = set(range(len(live))) - set(threaded)
        if threaded:
            joined = [f"{normalise_text(posts[live[row]].context)} || {texts[row]}" for row in threaded]
            p[threaded] = head.positive_proba(self.encoder.encode(joined), joined)
        rows = sorted(alone)
        p[rows] *= short_text_scale([texts[row] for row in rows])
        return p

    def _binary(self, task: str, vectors: np.ndarray, texts: list[str]) -> np.ndarray | None:
        head = self.heads.get(task)
        return head.positive_proba(vectors, texts) if head is not None else None

    def _symptoms(self, vectors: np.ndarray, texts: list[str],
                  services: list[tuple[str, ...]]) -> list[tuple[str, float]]:
        """Each post's symptom from its service's list; the trained head refines lists within its classes."""
        head = self.heads.get("symptom")
        proba = head.predict_proba(vectors, texts) if head is not None else None
        return self.symptoms.assign(vectors, texts, services, proba, head.classes if head is not None else ())

    def _confidence(self, p: float, language: str | None, text: str) -> float:
        certainty = 0.5 + abs(p - 0.5)
        if language is None:
            trust = UNKNOWN_TRUST
        else:
            trust = LANGUAGE_TRUST.get(language, FOREIGN_TRUST)
        if len(text) < SHORT_TEXT:
            trust *= SHORT_TRUST
        return round(certainty * trust, 3)

    def _empty(self, post: Post, language: str | None) -> Verdict:
        return Verdict(
            source=post.source, source_id=post.source_id, complaint=False, complaint_p=0.0,
            lang=language, confidence=0.0, model=self.name,
        )


def short_text_scale(texts: Sequence[str]) -> np.ndarray:
    """Per normalised text, the factor its outage probability is scaled by when read without its thread:
    0.5 + 0.5 * words / SHORT_WORDS below SHORT_WORDS words (handles and links aside), else 1."""
    words = np.array([len(_WORD.findall(text.replace("@user", " "))) for text in texts], dtype=float)
    return np.where(words < SHORT_WORDS, 0.5 + 0.5 * np.minimum(words, SHORT_WORDS) / SHORT_WORDS, 1.0)


def load_heads(model_dir: Path) -> dict[str, Head]:
    """The heads in a model folder; ``complaint`` must be there and binary."""
    if not model_dir.is_dir():
        raise FileNotFoundError(f"model folder {model_dir} does not exist (run `make models`)")
    heads = {task: Head.load(model_dir / task) for task in HEADS if (model_dir / task).is_dir()}
    if "complaint" not in heads:
        raise FileNotFoundError(f"{model_dir} has no complaint/ head")
    for task in ("complaint", "outage_report", "misinformation"):
        if task in heads and not heads[task].binary:
            raise ValueError(f"{model_dir / task}: the {task} head must be binary")
    return heads


def load_default_classifier(
    model_dir: Path | str | None = None,
    claims_path: Path | str | None = None,
    embedding_model: Path | str | None = None,
    batch_size: int = BATCH_SIZE,
    symptom_sets: Mapping[str, SymptomSet] | None = None,
) -> Classifier:
    """The pipeline's classifier: the trained heads in ``model_dir`` (default ``models/default``)."""
    return EmbeddingClassifier(
        model_dir=model_dir, claims=claims_path, embedding_model=embedding_model, batch_size=batch_size,
        symptom_sets=symptom_sets,
    )
