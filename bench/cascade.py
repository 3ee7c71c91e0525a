"""The cascade's bands, chosen on validation data, and the cascade judged on the real-post test split.

    .venv/bin/python bench/cascade.py --choose     # the bands: out-of-fold on the train split
    .venv/bin/python bench/cascade.py              # the cascade on the test split

``--choose`` gives every post of the labelled train split two out-of-fold probabilities per verdict
(complaint, outage report, misinformation): the model tier's (MiniLM vectors) and the fast tier's (static
vectors), each from the same five folds, by the training code both tiers' heads are built with
(``training.out_of_fold_proba``). Each is decided at its own shipped head's threshold (which was chosen on
these same out-of-fold probabilities). Per verdict it prints the narrowest band around the fast tier's
threshold (fewest posts inside) such that, outside it, the fast tier's verdict differs from the model tier's
on at most ``cascade.TARGET_DISAGREEMENT`` of the posts, widened to whole hundredths: the values to copy
into ``cascade.BANDS``. The test split is not read.

Without ``--choose`` it classifies the test split's posts (real posts, never trained on) with the model
tier, the fast tier and the cascade as shipped, and prints the share of posts the cascade sends to MiniLM,
its agreement with the model tier per verdict (the goal: at least 99% each), and each tier's F1.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timezone

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from detector.classify.cascade import BANDS, TARGET_DISAGREEMENT, Band, load_cascade_classifier
from detector.classify.fast import FAST_C, SEED, default_labelled_data, ensure_fast_tier
from detector.classify.heads import Head
from detector.classify.model import default_model_dir, shared_encoder
from detector.classify.training import embed, metrics_from, out_of_fold_proba, read_table
from detector.records import Post

BINARY = ("complaint", "outage_report", "misinformation")


def narrowest_band(p: np.ndarray, threshold: float, differs: np.ndarray, allowed: int) -> Band:
    """The band around ``threshold`` with the fewest ``p`` inside such that at most ``allowed`` posts outside
    it have ``differs``; its ends widened to whole hundredths."""
    ordered, wrong = np.sort(p), np.sort(p[differs])
    best: tuple[int, float, float] | None = None
    for below in range(allowed + 1):  # disagreements left below the band; the rest may lie above it
        low = min(threshold, wrong[below]) if below < len(wrong) else threshold
        keep = len(wrong) - (allowed - below) - 1
        high = max(threshold, wrong[keep]) if keep >= 0 else threshold
        inside = int(np.searchsorted(ordered, high, "right") - np.searchsorted(ordered, low, "left"))
        if best is None or inside < best[0]:
            best = (inside, low, high)
    assert best is not None
    return Band(float(np.floor(best[1] * 100) / 100), float(np.ceil(best[2] * 100) / 100))


def choose() -> None:
    frame = read_table(default_labelled_data())
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    tier = ensure_fast_tier()
    model_dir = default_model_dir()
    texts = train["text"].tolist()
    vectors = {"model": embed(shared_encoder(), texts), "fast": embed(tier.encoder(), texts)}
    routed = np.zeros(len(train), dtype=bool)
    decided: dict[str, dict[str, np.ndarray]] = {}
    print(f"{len(train):,} train-split posts, out-of-fold; allowed disagreement outside a band "
          f"{TARGET_DISAGREEMENT:.1%}")
    for task in BINARY:
        heads = {"model": Head.load(model_dir / task), "fast": Head.load(tier.heads_dir / task)}
        C = {"model": json.loads((model_dir / task / "card.json").read_text())["C"], "fast": FAST_C}
        p = {name: out_of_fold_proba(task, train, vectors[name], SEED, C[name])[0] for name in heads}
        decided[task] = {name: p[name] >= heads[name].threshold for name in heads}
        differs = decided[task]["model"] != decided[task]["fast"]
        band = narrowest_band(p["fast"], heads["fast"].threshold, differs, int(TARGET_DISAGREEMENT * len(train)))
        inside = band.low <= p["fast"]
        inside &= p["fast"] <= band.high
        routed |= inside
        print(f"{task:15} fast threshold {heads['fast'].threshold:.3f}, tiers differ on {differs.mean():6.1%}; "
              f"band [{band.low:.2f}, {band.high:.2f}] holds {inside.mean():6.1%}, outside it they differ on "
              f"{(differs & ~inside).mean():.2%}")
    complaints = decided["complaint"]["fast"]
    for name, sent in (("bands only", routed), ("bands + the fast tier's complaints", routed | complaints)):
        same = {task: 1 - float(np.mean(~sent & (decided[task]["model"] != decided[task]["fast"])))
                for task in BINARY}
        print(f"routed to MiniLM ({name}): {sent.mean():.1%}; cascade = model tier on "
              + ", ".join(f"{task} {share:.2%}" for task, share in same.items()))


def evaluate() -> None:
    frame = read_table(default_labelled_data())
    test = frame[frame["split"] == "test"].reset_index(drop=True)
    now = datetime.now(timezone.utc)
    posts = [Post(source=row.source or "test", source_id=f"{i}", created_at=now, text=row.text)
             for i, row in enumerate(test.itertuples())]
    cascade = load_cascade_classifier()
    verdicts = {"model": cascade.model.classify(posts), "fast": cascade.fast.classify(posts),
                "cascade": cascade.classify(posts)}
    sent = sum(v.model == cascade.model.name for v in verdicts["cascade"])
    print(f"{len(posts)} test-split posts; bands {', '.join(f'{k} [{b.low}, {b.high}]' for k, b in BANDS.items())}")
    print(f"sent to MiniLM: {sent} ({sent / len(posts):.1%})")
    for field in (*BINARY, "symptom"):
        for tier in ("fast", "cascade"):
            same = np.mean([getattr(a, field) == getattr(b, field) for a, b in zip(verdicts["model"], verdicts[tier])])
            print(f"  {field:15} {tier:8} = model tier on {same:.2%}")
    for task in ("outage_report", "complaint"):
        truth = test[task].astype(str).tolist()
        for tier, found in verdicts.items():
            scores = metrics_from(truth, [str(int(getattr(v, task))) for v in found], ("0", "1"))
            print(f"  {task:15} {tier:8} F1 {scores['per_class']['1']['f1']:.3f} macro {scores['macro_f1']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--choose", action="store_true", help="choose the bands on the train split (out of fold)")
    args = parser.parse_args()
    choose() if args.choose else evaluate()


if __name__ == "__main__":
    main()
