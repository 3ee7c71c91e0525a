"""Precision of the complaint and outage_report heads on real tweets nobody labelled for training:
``python bench/unlabelled_precision.py [--model models/default]``.

Why: the labelled test split is 439 real posts; what a support account's stream looks like (replies,
fragments, billing, generic grumbles) is much larger. The Xfinity collection has 8,787 tweets and ~1,950 of
them are labelled; the rest are split in two halves by a hash of the tweet id (``pool_halves``): half A may
be labelled for training (the active-learning pass of 2026-11), half B is never used for training. This
bench scores half B, takes the model's positives, and orders them by a fixed hash of the id; the first
``--sample`` (100) are its sample — a uniform random sample of the positives that mostly overlaps the sample
of any other model with similar positives, so two models are compared on largely the same judged tweets.

Precision = share of the sampled positives judged positive in ``data/labelled/xfinity_heldout_judged.csv``
(judged by hand against the guideline in ``data/labelled/README.md``). Sampled positives without a
judgement are written to ``--unjudged`` (default ``heldout_unjudged.csv`` in the working folder) and
counted: judge them, add them to the file, run again. The shared data is read from ../shared/data, never
copied; the judgements file stores ids and labels only.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from detector.classify.model import load_heads, shared_encoder, short_text_scale
from detector.classify.normalise import normalise_text
from detector.classify.training import embed

ROOT = Path(__file__).resolve().parents[1]

CACHE = Path.home() / ".cache" / "detector" / "embeddings.sqlite"
JUDGED = ROOT / "data" / "labelled" / "xfinity_heldout_judged.csv"
HEADS = ("complaint", "outage_report")


def _mask_handles():
    """``data/labelled/build_dataset.py``'s @handle masking, so pool texts match posts.csv's exactly."""
    spec = importlib.util.spec_from_file_location("build_dataset", ROOT / "data" / "labelled" / "build_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.mask_handles


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def pool_halves(shared: Path) -> pd.DataFrame:
    """The Xfinity tweets not labelled in posts.csv (by id or by exact normalised text), one row per distinct
    text, with ``half`` A (may be labelled for training) or B (held out)."""
    labels = pd.read_csv(ROOT / "data" / "labelled" / "xfinity_labels.csv", dtype=str)
    posts = pd.read_csv(ROOT / "data" / "labelled" / "posts.csv", dtype=str, keep_default_na=False)
    tweets = pd.read_csv(shared / "xfinity-outage-2020" / "tweets.csv", dtype={"tweet_id": str})
    pool = pd.DataFrame({"source": "xfinity-tweets", "post_id": tweets["tweet_id"],
                         "text": tweets["text"].astype(str).map(_mask_handles())})
    pool["norm"] = pool["text"].map(normalise_text)
    labelled = set(labels.loc[labels["source"] == "xfinity-tweets", "post_id"])
    known = {normalise_text(t) for t in posts["text"]}
    pool = pool[~pool["post_id"].isin(labelled) & ~pool["norm"].isin(known)].drop_duplicates("norm")
    pool["half"] = ["A" if _hash(f"xfinity-tweets:{p}") % 2 == 0 else "B" for p in pool["post_id"]]
    return pool.reset_index(drop=True)


def head_positives(model: Path, pool: pd.DataFrame) -> pd.DataFrame:
    """Each head's probability and decision, decided as the classifier decides (short texts shrunk)."""
    encoder = shared_encoder(cache_path=CACHE)
    vectors = embed(encoder, pool["text"].tolist())
    heads = load_heads(model)
    texts = pool["norm"].tolist()
    out = pool.copy()
    for task in HEADS:
        p = heads[task].positive_proba(vectors, texts)
        if task == "outage_report":
            p = p * short_text_scale(texts)
        out[f"p_{task}"] = p
        out[task] = (p >= heads[task].threshold).astype(int)
    return out


def precision_table(scored: pd.DataFrame, judged: pd.DataFrame, sample: int) -> tuple[dict, pd.DataFrame]:
    """Per head: positives, the hash-ordered sample of them, judged share and precision over the judged."""
    result, missing = {}, []
    verdicts = judged.set_index("post_id")
    for task in HEADS:
        positives = scored[scored[task] == 1].copy()
        positives["order"] = [_hash(f"h-precision:{p}") for p in positives["post_id"]]
        chosen = positives.sort_values("order").head(sample)
        have = chosen["post_id"].isin(verdicts.index)
        labels = verdicts.loc[chosen.loc[have, "post_id"], task].astype(int)
        n, k = int(have.sum()), int(labels.sum())
        precision = k / n if n else float("nan")
        half_width = 1.96 * np.sqrt(precision * (1 - precision) / n) if n else float("nan")
        result[task] = {"rows": len(scored), "positives": len(positives),
                        "positive_share": round(len(positives) / len(scored), 3), "sampled": len(chosen),
                        "judged": n, "judged_positive": k, "precision": round(precision, 3),
                        "ci95": round(float(half_width), 3)}
        missing.append(chosen.loc[~have, ["post_id", "text"]])
    return result, pd.concat(missing).drop_duplicates("post_id")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--unjudged", type=Path, default=Path("heldout_unjudged.csv"))
    parser.add_argument("--out", type=Path, default=None, help="Also write the table as JSON here.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    pool = pool_halves(args.shared)
    scored = head_positives(args.model, pool[pool["half"] == "B"].reset_index(drop=True))
    judged = pd.read_csv(JUDGED, dtype={"post_id": str})
    result, missing = precision_table(scored, judged, args.sample)
    result["model"] = str(args.model)
    print(json.dumps(result, indent=2))
    if len(missing):
        missing.to_csv(args.unjudged, index=False)
        print(f"{len(missing)} sampled positives have no judgement: written to {args.unjudged}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
