"""Classifier heads: scikit-learn estimators on sentence embeddings, with calibrated probabilities.

A ``Head`` is what ``detector train`` writes to ``model.joblib``: the fitted estimator, its label order,
and, for a binary task, the positive label and the decision threshold chosen on out-of-fold (validation)
predictions. Thresholds are stored rather than assumed to be 0.5 because the classes are unbalanced.

Features are the sentence embedding plus hashed word unigrams and bigrams of the normalised text. The
embedding generalises to wordings and services never seen; the n-grams catch the lexical cues it blurs
("are you in an area outage?" is a support reply, not a complaint). On the project's labelled set the
combination raised cross-validated complaint macro F1 from 0.79 (embedding alone) to 0.89, for about
0.03 ms per post (see the model card).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

HEAD_FILE = "model.joblib"
CARD_FILE = "card.json"
BINARY_TRUE = {"1", "true", "yes", "y", "t", "1.0"}
NGRAM_FEATURES = 2**18
CHAR_FEATURES = 2**18


def ngram_features(texts: Sequence[str]):
    """Hashed word unigrams and bigrams, L2-normalised rows (stateless: nothing to fit or store)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=NGRAM_FEATURES,
                                   alternate_sign=False, norm="l2")
    return vectorizer.transform(list(texts))


def char_features(texts: Sequence[str]):
    """Hashed character 2-5-grams within word boundaries, counts log-damped (1 + log n) then L2-normalised.

    Stateless like the word block. They catch what words miss in short, misspelt posts ("no intrnet",
    "#xfinitydown", "wifi's out"); the damping keeps a long post's repeated letters from outweighing its
    words, as tf-idf's sublinear tf does in the comparison that chose them (bench/heads.py).
    """
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.preprocessing import normalize

    vectorizer = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), n_features=CHAR_FEATURES,
                                   alternate_sign=False, norm=None)
    counts = vectorizer.transform(list(texts)).tocsr()
    counts.data = 1.0 + np.log(counts.data)
    return normalize(counts)


def head_features(vectors: np.ndarray, texts: Sequence[str] | None, ngrams: bool, chars: bool = False):
    """The estimator's input: embeddings, with the word (and character) n-gram blocks beside them when the
    head uses them."""
    if not ngrams and not chars:
        return vectors
    if texts is None or len(texts) != len(vectors):
        raise ValueError("this head also reads the texts: pass the normalised texts with the vectors")
    import scipy.sparse as sp

    blocks = [sp.csr_matrix(vectors)]
    if ngrams:
        blocks.append(ngram_features(texts))
    if chars:
        blocks.append(char_features(texts))
    return sp.hstack(blocks, format="csr")


@dataclass
class Head:
    """A fitted head: ``predict_proba`` over ``classes``, and a threshold when the task is binary."""

    task: str
    estimator: Any
    classes: tuple[str, ...]
    positive: str | None = None  # binary tasks: the label the threshold is about
    threshold: float | None = None
    encoder: str = "all-MiniLM-L6-v2"  # embedding model the head was trained on
    ngrams: bool = False  # also reads hashed word n-grams of the normalised text
    chars: bool = False  # also reads hashed character 2-5-grams (heads saved before them read as False)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        return self.positive is not None

    def predict_proba(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """Probabilities, one column per entry of ``classes`` (``texts``: the normalised texts)."""
        if len(vectors) == 0:
            return np.zeros((0, len(self.classes)))
        return self.estimator.predict_proba(head_features(vectors, texts, self.ngrams, self.chars))

    def positive_proba(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        if not self.binary:
            raise ValueError(f"head {self.task!r} is not binary")
        return self.predict_proba(vectors, texts)[:, self.classes.index(self.positive)]

    def decide(self, proba: np.ndarray) -> list[str]:
        """Labels from probabilities: the stored threshold for binary heads, the arg-max otherwise."""
        if self.binary:
            negative = next(label for label in self.classes if label != self.positive)
            p = proba[:, self.classes.index(self.positive)]
            return [self.positive if value >= self.threshold else negative for value in p]
        return [self.classes[i] for i in np.argmax(proba, axis=1)]

    def predict(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> list[str]:
        return self.decide(self.predict_proba(vectors, texts))

    def save(self, folder: Path) -> Path:
        import joblib

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / HEAD_FILE
        joblib.dump(self, path, compress=3)
        return path

    @classmethod
    def load(cls, folder: Path) -> "Head":
        import joblib

        path = Path(folder) / HEAD_FILE
        if not path.exists():
            raise FileNotFoundError(f"no {HEAD_FILE} in {folder}")
        head = joblib.load(path)
        if not isinstance(head, cls):
            raise TypeError(f"{path} does not hold a classifier head")
        return head


def positive_label(labels: list[str], positive: str | None = None) -> str | None:
    """The label a binary task is about: given, a true-like value, or the rarer class; None if multi-class."""
    distinct = sorted(set(labels))
    if len(distinct) != 2:
        if positive is not None:
            raise ValueError(f"--positive needs exactly two classes, found {len(distinct)}")
        return None
    if positive is not None:
        if positive not in distinct:
            raise ValueError(f"positive label {positive!r} is not one of {distinct}")
        return positive
    true_like = [label for label in distinct if label.strip().lower() in BINARY_TRUE]
    if len(true_like) == 1:
        return true_like[0]
    counts = {label: labels.count(label) for label in distinct}
    return min(distinct, key=lambda label: (counts[label], label))


class PlattCalibrated:
    """A fitted linear classifier and Platt sigmoids fitted on its out-of-fold scores (one per class).

    ``train_head`` already cross-validates to choose the threshold, so the sigmoids are fitted on those same
    out-of-fold decision values instead of refitting the model on internal folds (which is what made training
    on 8,560 rows take over ten minutes: 36 fits instead of 6). Multi-class scores are calibrated one class
    against the rest and the rows renormalised.
    """

    def __init__(self, base, slopes: np.ndarray, intercepts: np.ndarray) -> None:
        self.base = base
        self.classes_ = base.classes_
        self.slopes = np.asarray(slopes, dtype=float)
        self.intercepts = np.asarray(intercepts, dtype=float)

    @classmethod
    def fit_sigmoids(cls, scores: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
        """Platt's sigmoid per class on decision values ``scores`` (1-D for two classes)."""
        from sklearn.linear_model import LogisticRegression

        columns = scores.reshape(-1, 1) if scores.ndim == 1 else scores
        positives = [classes[1]] if scores.ndim == 1 else list(classes)
        slopes, intercepts = [], []
        for j, label in enumerate(positives):
            target = (np.asarray(y) == label).astype(int)
            if target.min() == target.max():
                slopes.append(1.0)
                intercepts.append(0.0)
                continue
            fit = LogisticRegression(C=1e6, max_iter=1000).fit(columns[:, [j]], target)
            slopes.append(float(fit.coef_[0, 0]))
            intercepts.append(float(fit.intercept_[0]))
        return np.array(slopes), np.array(intercepts)

    def predict_proba(self, features) -> np.ndarray:
        return self.calibrate(self.base.decision_function(features), self.slopes, self.intercepts)

    @staticmethod
    def calibrate(scores: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
        """Probabilities, one column per class, from decision values and the fitted sigmoids."""
        if scores.ndim == 1:
            p = 1 / (1 + np.exp(-(slopes[0] * scores + intercepts[0])))
            return np.column_stack([1 - p, p])
        p = 1 / (1 + np.exp(-(scores * slopes + intercepts)))
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)

    def predict(self, features) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]


def make_linear(seed: int, C: float = 2.0):
    """The class-balanced logistic regression every head is built on."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)


def make_estimator(seed: int, n_classes: int, n_rows: int, C: float = 2.0):
    """Logistic regression on embeddings, calibrated by Platt scaling on internal folds (the older, slower
    path; ``train_head`` now calibrates on its own out-of-fold scores with ``PlattCalibrated``)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    base = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)
    folds = max(2, min(5, n_rows // max(n_classes * 4, 1)))
    return CalibratedClassifierCV(base, method="sigmoid", cv=folds, ensemble=False)


def best_threshold(y_true: np.ndarray, p: np.ndarray) -> float:
    """The threshold maximising macro F1 on validation probabilities (ties: nearest 0.5).

    Macro rather than positive-class F1: for a majority positive class (most posts that name an outage
    are complaints) positive F1 is maximised by calling nearly everything a complaint.
    """
    y_true = np.asarray(y_true, dtype=bool)
    best, best_f1 = 0.5, -1.0
    for threshold in np.round(np.arange(0.05, 0.951, 0.01), 2):
        pred = p >= threshold
        f1 = (_f1(pred, y_true) + _f1(~pred, ~y_true)) / 2
        if f1 > best_f1 + 1e-9 or (abs(f1 - best_f1) <= 1e-9 and abs(threshold - 0.5) < abs(best - 0.5)):
            best, best_f1 = float(threshold), f1
    return best


def _f1(pred: np.ndarray, truth: np.ndarray) -> float:
    denominator = pred.sum() + truth.sum()
    return float(2 * np.sum(pred & truth) / denominator) if denominator else 0.0
