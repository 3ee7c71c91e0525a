"""Training and evaluating heads on any labelled file (CSV, JSONL or Parquet).

``train_head`` embeds the texts, cross-validates, picks a binary threshold on the out-of-fold
probabilities (the validation data), fits the final calibrated estimator on all rows and returns the head
with its card: data hash, label counts, cross-validated metrics, threshold and library versions.
``evaluate_head`` gives per-class precision/recall/F1, macro and weighted F1, accuracy and the confusion
matrix, the same numbers ``detector evaluate`` prints.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from detector.classify.embedding import TextEncoder
from detector.classify.heads import (
    CARD_FILE, Head, PlattCalibrated, best_threshold, head_features, make_linear, positive_label,
)
from detector.classify.normalise import normalise_text

# Which heads a model folder holds, and which of them also read hashed word n-grams. The symptom head reads
# embeddings only: a nine-class fit on the sparse n-gram block took over 15 minutes on the shared build
# machine, for a head that only runs on posts already called complaints.
HEAD_NGRAMS = {"complaint": True, "outage_report": True, "misinformation": True, "symptom": False}
# Which also read hashed character 2-5-grams: where they paid on every view of bench/head_checks.py (model card).
HEAD_CHARS = {"complaint": False, "outage_report": True, "misinformation": False, "symptom": False}
# The regularisations a head's C is chosen from (5-fold macro F1 on the train split), when none is given.
C_GRID = (1.0, 2.0, 4.0, 8.0)
READERS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}
Progress = Callable[[int], None]
FoldProgress = Callable[[int, int], None]  # (fits done, fits in all): the cross-validation folds, then the final fit


class LabelledDataError(ValueError):
    """The labelled file cannot be used as asked; the message says why."""


def read_table(path: Path | str) -> pd.DataFrame:
    """A CSV, JSON-lines or Parquet file as a data frame (format from the extension)."""
    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise LabelledDataError(f"{path}: unknown format {path.suffix!r} (use .csv, .jsonl or .parquet)")
    if not path.exists():
        raise LabelledDataError(f"{path}: no such file")
    try:
        if kind == "csv":
            return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", dtype=str,
                               keep_default_na=False)
        if kind == "jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_parquet(path)
    except (ValueError, OSError) as error:
        raise LabelledDataError(f"{path}: cannot read ({error})") from error


def read_labelled(path: Path | str, text_column: str, label_column: str | None) -> tuple[list[str], list[str] | None]:
    """Texts and labels (as strings) from a labelled file; rows without a label are dropped."""
    frame = read_table(path)
    for column in (text_column, label_column):
        if column is not None and column not in frame.columns:
            raise LabelledDataError(
                f"{path}: no column {column!r} (columns: {', '.join(map(str, frame.columns))})"
            )
    texts = frame[text_column].fillna("").astype(str)
    if label_column is None:
        return texts.tolist(), None
    labels = frame[label_column].map(label_text)
    keep = labels != ""
    return texts[keep].tolist(), labels[keep].tolist()


def label_text(value: Any) -> str:
    """Labels as strings: 1, 1.0 and "1" are one label; missing values become ''."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def data_hash(texts: Sequence[str], labels: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text, label in zip(texts, labels):
        digest.update(text.encode("utf-8") + b"\x1f" + label.encode("utf-8") + b"\x1e")
    return digest.hexdigest()


def training_rows(frame: pd.DataFrame, task: str) -> np.ndarray:
    """Which rows of a labelled frame a head learns from (and is scored on): every row, except that the
    symptom head learns from complaints with a symptom label (rows added later carry none)."""
    if task != "symptom":
        return np.ones(len(frame), dtype=bool)
    return ((frame["complaint"].astype(str) == "1") & (frame["symptom"].astype(str) != "")).to_numpy()


def split_predictions(head: Head, vectors: np.ndarray, texts: Sequence[str]) -> list[str]:
    """A head's labels for a test split, decided as the classifier decides them: an outage-report head's
    probability of a short text (read without a thread) is scaled down first."""
    from detector.classify.model import short_text_scale

    proba = head.predict_proba(vectors, texts)
    if head.task == "outage_report" and head.binary:
        column = list(head.classes).index(head.positive)
        proba[:, column] *= short_text_scale(texts)
        proba[:, 1 - column] = 1 - proba[:, column]
    return head.decide(proba)


def select_C(features, labels: list[str], seed: int) -> tuple[float, dict[str, float]]:
    """The regularisation with the best 5-fold macro F1 on the training rows (the test split is not used)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    scores = {}
    for C in C_GRID:
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed)
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        scores[str(C)] = round(float(cross_val_score(model, features, labels, cv=folds, scoring="f1_macro").mean()), 4)
    best = max(C_GRID, key=lambda C: (scores[str(C)], -C))
    return best, scores


def train_split_head(task: str, train: pd.DataFrame, vectors: np.ndarray, encoder: TextEncoder, seed: int,
                     C: float | None = None) -> tuple[Head, dict[str, Any]]:
    """One head of a model folder, trained on the rows of a labelled split it learns from, with the features
    ``HEAD_NGRAMS`` and ``HEAD_CHARS`` give it. The one training loop of both tiers (``make models`` and the
    fast tier's set-up), so a rule changed here (a feature block, which rows) changes both.

    ``vectors`` are the split's embeddings (one row per row of ``train``). ``C`` None chooses it by 5-fold
    macro F1 over ``C_GRID`` (the card says so); the fast tier passes the model tier's choice instead of
    paying the grid's 20 extra fits per head at set-up.
    """
    rows = training_rows(train, task)
    texts = train["text"][rows].tolist()
    labels = train[task][rows].astype(str).tolist()
    grid = None
    if C is None:
        features = head_features(vectors[rows], [normalise_text(t) for t in texts], HEAD_NGRAMS[task],
                                 HEAD_CHARS[task])
        C, grid = select_C(features, labels, seed)
    head, card = train_head(task, texts, labels, encoder, seed=seed, C=C, vectors=vectors[rows],
                            ngrams=HEAD_NGRAMS[task], chars=HEAD_CHARS[task])
    if grid is not None:
        card["C_selection"] = {"rule": "best 5-fold macro F1 on the train split", "macro_f1_by_C": grid}
    return head, card


def split_scores(head: Head, test: pd.DataFrame, vectors: np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
    """A head on a labelled split it did not learn from: the rows it is scored on, their labels and its
    decisions (as the classifier makes them, see ``split_predictions``)."""
    rows = training_rows(test, head.task)
    truth = test[head.task][rows].astype(str).tolist()
    texts = [normalise_text(t) for t in test["text"][rows]]
    predicted = split_predictions(head, vectors[rows], texts) if rows.any() else []
    return rows, truth, predicted


def embed(encoder: TextEncoder, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
    """Normalise and encode texts; empty texts get a zero vector (they carry no signal)."""
    normalised = [normalise_text(text) for text in texts]
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    live = [i for i, text in enumerate(normalised) if text]
    if live:
        vectors[live] = encoder.encode([normalised[i] for i in live], progress=progress)
    if progress is not None and len(live) < len(texts):
        progress(len(texts) - len(live))
    return vectors


def train_head(
    task: str,
    texts: Sequence[str],
    labels: Sequence[str],
    encoder: TextEncoder,
    seed: int = 0,
    folds: int = 5,
    positive: str | None = None,
    C: float = 2.0,
    progress: Progress | None = None,
    vectors: np.ndarray | None = None,
    ngrams: bool = True,
    fold_progress: FoldProgress | None = None,
    chars: bool = False,
) -> tuple[Head, dict[str, Any]]:
    """Fit a head; return it and its card (cross-validated metrics, threshold, data hash, versions).

    One logistic regression per fold gives out-of-fold decision values; Platt sigmoids fitted on them
    calibrate the final model (fitted on every row) and the threshold is chosen on the calibrated
    out-of-fold probabilities: folds + 1 fits in all.
    """
    labels = [label_text(label) for label in labels]
    if len(texts) != len(labels):
        raise LabelledDataError("texts and labels differ in length")
    counts = pd.Series(labels).value_counts().sort_index()
    if len(counts) < 2:
        raise LabelledDataError(f"need at least two classes to train, found {list(counts.index)}")
    if counts.min() < 2:
        raise LabelledDataError(f"every class needs at least 2 examples: {counts.to_dict()}")
    pos = positive_label(labels, positive)
    if vectors is None:
        vectors = embed(encoder, texts, progress)
    y = np.array(labels)
    features = head_features(vectors, [normalise_text(text) for text in texts], ngrams, chars)
    classes = tuple(sorted(counts.index))
    n_splits = int(min(folds, counts.min()))
    scores = out_of_fold_scores(features, y, classes, seed, C, n_splits, fold_progress)
    slopes, intercepts = PlattCalibrated.fit_sigmoids(scores, y, classes)
    out_of_fold = PlattCalibrated.calibrate(scores, slopes, intercepts)
    threshold = None
    if pos is not None:
        threshold = best_threshold(y == pos, out_of_fold[:, classes.index(pos)])
    estimator = PlattCalibrated(make_linear(seed, C).fit(features, y), slopes, intercepts)
    if fold_progress is not None:
        fold_progress(n_splits + 1, n_splits + 1)
    head = Head(task=task, estimator=estimator, classes=tuple(estimator.classes_), positive=pos,
                threshold=threshold, encoder=encoder.name, ngrams=ngrams, chars=chars,
                extra={"dimension": int(vectors.shape[1])})
    cv_metrics = metrics_from(y.tolist(), head.decide(out_of_fold), classes)
    card = {
        "task": task,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_sha256": data_hash(texts, labels),
        "rows": len(y),
        "label_counts": {str(k): int(v) for k, v in counts.items()},
        "classes": list(head.classes),
        "positive": pos,
        "threshold": threshold,
        "threshold_rule": "max macro F1 on out-of-fold probabilities" if pos else "arg-max",
        "estimator": "LogisticRegression(class_weight=balanced) + Platt sigmoid fitted on out-of-fold scores",
        "features": "sentence embedding" + (" + hashed word 1-2-grams" if ngrams else "")
                    + (" + hashed character 2-5-grams" if chars else ""),
        "C": C,
        "seed": seed,
        "cross_validation": {"folds": n_splits, **cv_metrics},
        "embedding_model": encoder.name,
        "versions": versions(),
    }
    return head, card


def out_of_fold_scores(features, y: np.ndarray, classes: tuple[str, ...], seed: int, C: float, n_splits: int,
                       fold_progress: FoldProgress | None = None) -> np.ndarray:
    """Each row's decision value from the fold that did not learn from it (stratified, shuffled by ``seed``:
    the same labels and seed give the same folds, so two tiers' values can be compared row by row)."""
    from sklearn.model_selection import StratifiedKFold

    binary = len(classes) == 2
    scores = np.zeros(len(y)) if binary else np.zeros((len(y), len(classes)))
    for done, (train_idx, valid_idx) in enumerate(StratifiedKFold(n_splits, shuffle=True, random_state=seed)
                                                  .split(np.zeros(len(y)), y), 1):
        model = make_linear(seed, C).fit(features[train_idx], y[train_idx])
        scores[valid_idx] = model.decision_function(features[valid_idx])
        if fold_progress is not None:
            fold_progress(done, n_splits + 1)
    return scores


def out_of_fold_proba(task: str, train: pd.DataFrame, vectors: np.ndarray, seed: int, C: float,
                      folds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A binary head's calibrated positive-class probabilities on the rows of ``train`` it learns from, each
    from the fold that did not see the row (validation data for choosing rules over two tiers' heads), with
    those rows' mask. Outage-report probabilities are scaled for short texts as the classifier scales them."""
    from detector.classify.model import short_text_scale

    rows = training_rows(train, task)
    texts = [normalise_text(t) for t in train["text"][rows]]
    y = np.array([label_text(v) for v in train[task][rows]])
    classes = tuple(sorted(set(y)))
    features = head_features(vectors[rows], texts, HEAD_NGRAMS[task], HEAD_CHARS[task])
    scores = out_of_fold_scores(features, y, classes, seed, C, folds)
    slopes, intercepts = PlattCalibrated.fit_sigmoids(scores, y, classes)
    p = PlattCalibrated.calibrate(scores, slopes, intercepts)[:, classes.index(positive_label(list(y)))]
    if task == "outage_report":
        p = p * short_text_scale(texts)
    return p, rows


def evaluate_head(head: Head, texts: Sequence[str], labels: Sequence[str], encoder: TextEncoder,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Metrics of a head on labelled texts (labels the head never saw count as errors)."""
    labels = [label_text(label) for label in labels]
    predicted = head.predict(embed(encoder, texts, progress), [normalise_text(text) for text in texts])
    return metrics_from(labels, predicted, tuple(head.classes))


def metrics_from(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> dict[str, Any]:
    """Per-class precision/recall/F1, macro and weighted F1, accuracy and the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(classes) + sorted(set(y_true) - set(classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    per_class = {
        label: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support)
    }
    # Macro F1 averages over the classes seen in either column, as scikit-learn does by default.
    seen = [label for label in labels if label in set(y_true) | set(y_pred)] or labels
    macro = float(np.mean([f for label, f in zip(labels, f1) if label in seen]))
    weighted = float(np.average(f1, weights=support)) if sum(support) else 0.0
    return {
        "per_class": per_class,
        "macro_f1": round(macro, 4),
        "weighted_f1": round(weighted, 4),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4) if len(y_true) else 0.0,
        "confusion_matrix": {"labels": labels,
                             "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()},
        "rows": len(y_true),
    }


def save_head(head: Head, card: dict[str, Any], folder: Path | str) -> Path:
    folder = Path(folder)
    head.save(folder)
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return folder


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("scikit-learn", "sentence-transformers", "torch", "numpy", "lingua-language-detector"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out
