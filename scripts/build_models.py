"""Build the shipped models from ``data/labelled/posts.csv``: ``python scripts/build_models.py``.

Trains the complaint, outage_report, misinformation and symptom heads on the train split (fixed seed),
scores them and the keyword baseline on the fixed test split (real posts only), and writes ``models/default/<head>/`` (model.joblib,
card.json) plus ``models/default/MODEL_CARD.md``. Reproducible: same data and versions, same heads.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from detector.classify.keywords import KeywordClassifier
from detector.classify.language import LanguageDetector
from detector.classify.model import shared_encoder
from detector.classify.model_card import write_model_card
from detector.classify.normalise import normalise_text
from detector.classify.training import (
    HEAD_NGRAMS, data_hash, embed, metrics_from, read_table, save_head, split_scores, train_split_head,
)
from detector.records import Post

ROOT = Path(__file__).resolve().parents[1]
SEED = 7
CACHE = Path.home() / ".cache" / "detector" / "embeddings.sqlite"


def keyword_predictions(texts: list[str]) -> pd.DataFrame:
    now = datetime.now(timezone.utc)
    posts = [Post(source="test", source_id=str(i), created_at=now, text=t) for i, t in enumerate(texts)]
    verdicts = KeywordClassifier().classify(posts)
    return pd.DataFrame({
        "complaint": [str(int(v.complaint)) for v in verdicts],
        "outage_report": [str(int(v.outage_report)) for v in verdicts],
        "misinformation": [str(int(v.misinformation)) for v in verdicts],
        "symptom": [v.symptom or "none" for v in verdicts],
    })


TASKS = tuple(HEAD_NGRAMS)


def build(data: Path, out: Path, fast_tier: bool = False, cache: Path | None = CACHE,
          only: tuple[str, ...] = ()) -> dict:
    frame = read_table(data)
    for column in ("complaint", "outage_report", "misinformation"):
        frame[column] = frame[column].astype(str)
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    test = frame[frame["split"] == "test"].reset_index(drop=True)
    encoder = shared_encoder(cache_path=cache)
    train_vectors = embed(encoder, train["text"].tolist())
    test_vectors = embed(encoder, test["text"].tolist())
    test_languages = LanguageDetector().detect([normalise_text(t) for t in test["text"]])
    test["lang"] = [lang or "unknown" for lang in test_languages]
    test["lang_group"] = ["English" if lang == "en" else "other languages" for lang in test["lang"]]
    keywords = keyword_predictions(test["text"].tolist())
    report: dict = {"data": str(data.relative_to(ROOT) if data.is_relative_to(ROOT) else data),
                    "data_sha256": data_hash(frame["text"].tolist(), frame["split"].tolist()),
                    "rows": {"train": len(train), "test": len(test)},
                    "sources": frame.groupby(["source", "split"]).size().unstack(fill_value=0).to_dict("index"),
                    "heads": {}}
    for task in TASKS:
        if only and task not in only:
            report["heads"][task] = json.loads((out / task / "card.json").read_text(encoding="utf-8"))
            print(f"{task}: kept the head already in {out / task}", flush=True)
            continue
        head, card = train_split_head(task, train, train_vectors, encoder, seed=SEED)
        rows_test, y_test, predicted = split_scores(head, test, test_vectors)
        classes = list(head.classes)
        card["data_file"] = "data/labelled/posts.csv (split == train)" + (
            ", complaint == 1 with a symptom label" if task == "symptom" else "")
        card["test"] = metrics_from(y_test, predicted, classes)
        card["test"]["data"] = "data/labelled/posts.csv (split == test)"
        card["keyword_baseline_test"] = metrics_from(y_test, keywords[task][rows_test].tolist(), classes)
        card["test_by_language"] = _grouped(test[rows_test], y_test, predicted, classes, "lang")
        card["test_by_language_group"] = _grouped(test[rows_test], y_test, predicted, classes, "lang_group")
        card["test_by_source"] = _grouped(test[rows_test], y_test, predicted, classes, "source")
        save_head(head, card, out / task)
        report["heads"][task] = card
        print(f"{task}: test macro F1 {card['test']['macro_f1']:.3f} "
              f"(keywords {card['keyword_baseline_test']['macro_f1']:.3f})", flush=True)
    if fast_tier:
        from fast_tier import fast_tier_experiment  # scripts/ is on the path when this runs as a script

        report["fast_tier"] = fast_tier_experiment(train, test, report["heads"]["complaint"], seed=SEED)
    (out / "build_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_model_card(report, out / "MODEL_CARD.md")
    return report


def _grouped(test: pd.DataFrame, y_true, y_pred, classes, column: str) -> dict:
    """Metrics per value of ``column``; binary heads also get the positive class's precision, recall, F1."""
    out = {}
    values = test[column].to_numpy()
    y_true, y_pred = np.array(y_true), np.array(y_pred)
    for value in sorted(set(values)):
        mask = values == value
        if mask.sum() >= 5:
            metrics = metrics_from(y_true[mask].tolist(), y_pred[mask].tolist(), classes)
            out[str(value)] = {"rows": int(mask.sum()), "macro_f1": metrics["macro_f1"],
                               "accuracy": metrics["accuracy"]}
            if "1" in metrics["per_class"] and len(classes) == 2:
                out[str(value)]["positive"] = metrics["per_class"]["1"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "labelled" / "posts.csv")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--fast-tier", action="store_true",
                        help="Also run the model2vec fast-tier experiment and report it in the card.")
    parser.add_argument("--cache", type=Path, default=CACHE,
                        help="SQLite file caching embeddings between builds (keyed by normalised text).")
    parser.add_argument("--only", nargs="*", default=[], choices=list(TASKS),
                        help="Retrain only these heads; the others' cards are read from --out.")
    parser.add_argument("--card-only", action="store_true",
                        help="Only rewrite MODEL_CARD.md from build_report.json (and comparisons.json) in --out.")
    args = parser.parse_args()
    if args.card_only:
        report = json.loads((args.out / "build_report.json").read_text(encoding="utf-8"))
        write_model_card(report, args.out / "MODEL_CARD.md")
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    build(args.data, args.out, fast_tier=args.fast_tier, cache=args.cache, only=tuple(args.only))


if __name__ == "__main__":
    main()
