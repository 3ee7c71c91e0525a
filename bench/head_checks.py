"""Does a feature set pay for a head on every view we have, not one split? ``python bench/head_checks.py``

For the outage_report head, with and without hashed character 2-5-grams, each trained by the shipped path
(``train_head``: class-balanced logistic regression, Platt sigmoids and threshold from 5-fold out-of-fold
scores) and scored as the classifier scores it (short texts without a thread shrunk):

* the fixed real-post test split of ``data/labelled/posts.csv``: F1 / precision / recall per source, and the
  calibration of the probability alerting thresholds (Brier score and expected calibration error, 10 bins);
* 5-fold cross-validated macro F1 on the train split (the card's number);
* leave-one-source-out: train on every row of the other sources, score every row of the held-out one.

For the misinformation head on PHEME (read from the shared folder, never copied), leave-one-event-out
macro F1 per event: the head's path with each feature set against a plain tf-idf linear SVM; and the
misinformation head on the posts.csv test split and train CV with each feature set.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from detector.classify.model import shared_encoder, short_text_scale
from detector.classify.normalise import normalise_text
from detector.classify.training import embed, train_head
from heads import add_data_arguments  # bench/ is the script's folder

SEED = 7
C = 8.0  # what build_models.py's 5-fold choice gave every head
CACHE = Path.home() / ".cache" / "detector" / "embeddings.sqlite"
VARIANTS = {"words (shipped before)": dict(ngrams=True, chars=False),
            "words + chars": dict(ngrams=True, chars=True)}


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    """Brier score and expected calibration error (equal-width bins, weighted by rows)."""
    edges = np.minimum((p * bins).astype(int), bins - 1)
    ece = sum(abs(p[edges == b].mean() - y[edges == b].mean()) * (edges == b).sum()
              for b in range(bins) if (edges == b).any()) / len(y)
    return {"brier": round(float(np.mean((p - y) ** 2)), 4), "ece": round(float(ece), 4)}


def scores(y: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import f1_score, precision_score, recall_score

    return {"f1": round(float(f1_score(y, pred, zero_division=0)), 3),
            "precision": round(float(precision_score(y, pred, zero_division=0)), 3),
            "recall": round(float(recall_score(y, pred, zero_division=0)), 3),
            "macro_f1": round(float(f1_score(y, pred, average="macro", zero_division=0)), 3)}


def outage_p(head, vectors, texts, scaled=True) -> np.ndarray:
    p = head.positive_proba(vectors, texts)
    return p * short_text_scale(texts) if scaled else p


def outage_views(frame: pd.DataFrame, vectors: np.ndarray, encoder, task: str = "outage_report") -> dict:
    texts = [normalise_text(t) for t in frame["text"]]
    y_all = (frame[task] == "1").to_numpy()
    split, source = frame["split"].to_numpy(), frame["source"].to_numpy()
    out = {}
    for name, features in VARIANTS.items():
        started = time.perf_counter()
        tr, te = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
        head, card = train_head(task, [texts[i] for i in tr], frame[task].to_numpy()[tr].tolist(), encoder,
                                seed=SEED, C=C, vectors=vectors[tr], **features)
        seconds = time.perf_counter() - started
        p = outage_p(head, vectors[te], [texts[i] for i in te], scaled=task == "outage_report")
        raw = outage_p(head, vectors[te], [texts[i] for i in te], scaled=False)
        row = {"fit_seconds": round(seconds, 1), "threshold": head.threshold,
               "train_cv_macro_f1": card["cross_validation"]["macro_f1"],
               "test": {"all": scores(y_all[te], p >= head.threshold)},
               "calibration_test": {"as served (short texts shrunk)": calibration(y_all[te], p),
                                    "head alone": calibration(y_all[te], raw)}}
        for src in sorted(set(source[te])):
            m = source[te] == src
            row["test"][src] = scores(y_all[te][m], (p >= head.threshold)[m])
        row["leave_one_source_out"] = {}
        for src in sorted(set(source)):
            held, keep = np.flatnonzero(source == src), np.flatnonzero(source != src)
            if len(set(y_all[held])) < 2:
                continue
            h, _ = train_head(task, [texts[i] for i in keep], frame[task].to_numpy()[keep].tolist(), encoder,
                              seed=SEED, C=C, vectors=vectors[keep], **features)
            ph = outage_p(h, vectors[held], [texts[i] for i in held], scaled=task == "outage_report")
            row["leave_one_source_out"][src] = {**scores(y_all[held], ph >= h.threshold),
                                                **calibration(y_all[held], ph)}
        out[name] = row
        print(task, name, json.dumps(row), flush=True)
    return out


def pheme_views(path: Path, encoder, events: list[str] | None = None) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    frame = pd.read_csv(path)
    texts, labels = frame["text"].astype(str).tolist(), frame["label"].astype(str).to_numpy()
    normal = [normalise_text(t) for t in texts]
    vectors = embed(encoder, texts)
    out: dict = {}
    for event in sorted(frame["event"].unique()):
        held = (frame["event"] == event).to_numpy()
        if len(set(labels[held])) < 2 or (events and event not in events):
            continue
        tr, te = np.flatnonzero(~held), np.flatnonzero(held)
        row = {"rows": int(held.sum())}
        for name, features in VARIANTS.items():
            head, _ = train_head("misinformation", [texts[i] for i in tr], labels[tr].tolist(), encoder,
                                 seed=SEED, C=C, positive="rumour", vectors=vectors[tr], **features)
            pred = head.predict(vectors[te], [normal[i] for i in te])
            row[name] = round(float(f1_score(labels[te], pred, average="macro")), 3)
        tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        svm = LinearSVC(C=0.5, class_weight="balanced").fit(tfidf.fit_transform([texts[i] for i in tr]), labels[tr])
        row["tf-idf SVM"] = round(float(f1_score(labels[te], svm.predict(tfidf.transform(
            [texts[i] for i in te])), average="macro")), 3)
        out[event] = row
        print("pheme", event, row, flush=True)
    names = [*VARIANTS, "tf-idf SVM"]
    out["mean"] = {n: round(float(np.mean([r[n] for e, r in out.items()])), 3) for n in names}
    print("pheme mean", out["mean"], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--only", choices=["outage_report", "misinformation", "pheme"], nargs="*", default=[])
    parser.add_argument("--events", nargs="*", default=[], help="PHEME: hold out only these events.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the results as JSON here.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(2)
    print(f"load average {os.getloadavg()}", flush=True)
    encoder = shared_encoder(cache_path=CACHE)
    frame = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    vectors = embed(encoder, frame["text"].tolist())
    result = {}
    if not args.only or "outage_report" in args.only:
        result["outage_report"] = outage_views(frame, vectors, encoder)
    if not args.only or "misinformation" in args.only:
        result["misinformation_posts"] = outage_views(frame, vectors, encoder, task="misinformation")
    if (not args.only or "pheme" in args.only) and args.pheme.exists():
        result["pheme"] = pheme_views(args.pheme, encoder, args.events)
    result["load_average_end"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
