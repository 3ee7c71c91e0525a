"""Which features pay for a head: the comparison table behind the shipped outage_report and misinformation heads.

Status (2026-11-29): written and compiled, NOT yet run — the shared machine had no time left in the session
that wrote it; `models/default/comparisons.json` does not exist until someone runs it.

    python bench/heads.py [--pheme ../shared/data/pheme-rumours/source_tweets.csv] [--out bench/heads.json]

* outage_report on the fixed test split of ``data/labelled/posts.csv`` (real posts only), per source:
  the keyword rule, MiniLM alone, the shipped MiniLM + hashed word 1-2-grams, that plus tf-idf character
  2-5-grams, and a tf-idf word+character linear SVM alone. Every learned variant is a class-balanced linear
  model whose threshold is chosen on 5-fold out-of-fold scores of the train split (max macro F1), and is
  scored with the classifier's short-text rule, so the numbers are what `export` would show.
* misinformation on PHEME (development only: read from the shared folder, never copied), leave-one-event-out
  over its 9 events: the head's own training path (`train_head`: MiniLM + word n-grams, Platt-calibrated
  logistic regression) against a plain tf-idf linear SVM, macro F1 per held-out event and their mean.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from detector.classify.heads import best_threshold, head_features  # noqa: E402
from detector.classify.model import shared_encoder, short_text_scale  # noqa: E402
from detector.classify.normalise import normalise_text  # noqa: E402
from detector.classify.training import embed, train_head  # noqa: E402

SEED = 7


def _f1s(y: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import f1_score, precision_score, recall_score

    return {"f1": round(float(f1_score(y, pred, zero_division=0)), 3),
            "precision": round(float(precision_score(y, pred, zero_division=0)), 3),
            "recall": round(float(recall_score(y, pred, zero_division=0)), 3),
            "macro_f1": round(float(f1_score(y, pred, average="macro", zero_division=0)), 3)}


def _oof_threshold(make, X, y) -> tuple[object, float]:
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(y))
    for tr, va in StratifiedKFold(5, shuffle=True, random_state=SEED).split(X, y):
        scores[va] = make().fit(X[tr], y[tr]).decision_function(X[va])
    p = 1 / (1 + np.exp(-scores))
    return make().fit(X, y), best_threshold(y, p)


def outage_table(data: Path) -> list[dict]:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    from detector.classify.keywords import KeywordClassifier
    from detector.records import Post

    frame = pd.read_csv(data, dtype=str, keep_default_na=False)
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    y_train = (train["outage_report"] == "1").to_numpy()
    y_test = (test["outage_report"] == "1").to_numpy()
    t_train = [normalise_text(t) for t in train["text"]]
    t_test = [normalise_text(t) for t in test["text"]]
    scale = short_text_scale(t_test)
    encoder = shared_encoder()
    v_train, v_test = embed(encoder, train["text"].tolist()), embed(encoder, test["text"].tolist())
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True).fit(t_train)
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True).fit(t_train)

    def logistic(C=4.0):
        return lambda: LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=SEED)

    variants = {
        "MiniLM alone": (v_train, v_test, logistic()),
        "MiniLM + hashed word 1-2-grams (shipped)": (head_features(v_train, t_train, True),
                                                      head_features(v_test, t_test, True), logistic()),
        "MiniLM + word 1-2-grams + char 2-5-grams": (
            sp.hstack([head_features(v_train, t_train, True), chars.transform(t_train)], format="csr"),
            sp.hstack([head_features(v_test, t_test, True), chars.transform(t_test)], format="csr"), logistic()),
        "tf-idf word+char linear SVM": (
            sp.hstack([words.transform(t_train), chars.transform(t_train)], format="csr"),
            sp.hstack([words.transform(t_test), chars.transform(t_test)], format="csr"),
            lambda: LinearSVC(C=0.5, class_weight="balanced")),
    }
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    keyword = np.array([v.outage_report for v in KeywordClassifier().classify(
        [Post("t", str(i), now, text) for i, text in enumerate(test["text"])])])
    rows = [_row("keyword rule", test, y_test, keyword)]
    for name, (x_train, x_test, make) in variants.items():
        started = time.perf_counter()
        model, threshold = _oof_threshold(make, x_train, y_train)
        p = 1 / (1 + np.exp(-model.decision_function(x_test))) * scale
        rows.append(_row(name, test, y_test, p >= threshold, seconds=time.perf_counter() - started))
    return rows


def _row(name: str, test: pd.DataFrame, y: np.ndarray, pred: np.ndarray, seconds: float | None = None) -> dict:
    row = {"variant": name, "all": _f1s(y, pred)}
    for source in sorted(set(test["source"])):
        mask = (test["source"] == source).to_numpy()
        row[source] = _f1s(y[mask], pred[mask])
    if seconds is not None:
        row["fit_seconds"] = round(seconds, 1)
    return row


def pheme_table(path: Path) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    frame = pd.read_csv(path)
    texts, labels = frame["text"].astype(str).tolist(), frame["label"].astype(str).to_numpy()
    encoder = shared_encoder()
    vectors = embed(encoder, texts)
    out: dict = {"events": {}}
    for event in sorted(frame["event"].unique()):
        held = (frame["event"] == event).to_numpy()
        if len(set(labels[held])) < 2:
            continue
        tr = np.flatnonzero(~held)
        head, _ = train_head("misinformation", [texts[i] for i in tr], labels[tr].tolist(), encoder,
                             seed=SEED, positive="rumour", vectors=vectors[tr])
        pred_head = head.predict(vectors[held], [normalise_text(texts[i]) for i in np.flatnonzero(held)])
        tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        svm = LinearSVC(C=0.5, class_weight="balanced").fit(tfidf.fit_transform([texts[i] for i in tr]), labels[tr])
        pred_svm = svm.predict(tfidf.transform([texts[i] for i in np.flatnonzero(held)]))
        out["events"][event] = {
            "rows": int(held.sum()),
            "head_macro_f1": round(float(f1_score(labels[held], pred_head, average="macro")), 3),
            "tfidf_svm_macro_f1": round(float(f1_score(labels[held], pred_svm, average="macro")), 3),
        }
    for key in ("head_macro_f1", "tfidf_svm_macro_f1"):
        out[f"mean_{key}"] = round(float(np.mean([e[key] for e in out["events"].values()])), 3)
    return out


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The labelled file and the PHEME source tweets the head benches read (this one and head_checks.py)."""
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "labelled" / "posts.csv")
    parser.add_argument("--pheme", type=Path, default=ROOT.parent / "shared" / "data" / "pheme-rumours"
                        / "source_tweets.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--out", type=Path, default=None, help="Also write the tables as JSON here.")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    result = {"outage_report": outage_table(args.data)}
    for row in result["outage_report"]:
        cells = "; ".join(f"{k} F1 {v['f1']:.3f} P {v['precision']:.3f} R {v['recall']:.3f}"
                          for k, v in row.items() if isinstance(v, dict))
        print(f"{row['variant']}: {cells}", flush=True)
    if args.pheme.exists():
        result["pheme"] = pheme_table(args.pheme)
        print(f"PHEME leave-one-event-out mean macro F1: head {result['pheme']['mean_head_macro_f1']:.3f}, "
              f"tf-idf SVM {result['pheme']['mean_tfidf_svm_macro_f1']:.3f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
