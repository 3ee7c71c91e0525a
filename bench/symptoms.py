"""Symptom accuracy per kind of service, and the share of complaints given a symptom other than ``other``.

    python bench/symptoms.py [--sweep] [--tier model|fast]

* ``web_app``: the complaints of data/labelled/posts.csv (labels: the web_app list + other), per split.
* ``isp``: the hand-labelled Xfinity complaints of data/labelled/xfinity_symptoms.csv under the isp list:
  ``first`` (182, the descriptions were edited after reading their errors) and ``blind`` (70 more, labelled
  after the last edit and never used to change anything: the fair number).

Methods: ``similarity`` (descriptions only), ``head`` (the trained symptom head, web_app only) and
``combined`` (their average: what the classifier does when a service's list is within the head's classes).
``--sweep`` prints the same for several ``OTHER_SIMILARITY`` levels (chosen on web_app train; not on isp).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from detector.classify import symptoms as sym
from detector.classify.model import default_model_dir, load_heads, shared_encoder
from detector.classify.normalise import normalise_text

ROOT = Path(__file__).resolve().parents[1]


def load() -> dict[str, pd.DataFrame]:
    posts = pd.read_csv(ROOT / "data/labelled/posts.csv", dtype={"post_id": str})
    complaints = posts[posts["complaint"] == 1]
    isp = pd.read_csv(ROOT / "data/labelled/xfinity_symptoms.csv", dtype={"post_id": str})
    isp = isp.merge(posts[["source", "post_id", "text", "split"]], on=["source", "post_id"])
    return {"web_app train": complaints[complaints["split"] == "train"],
            "web_app test": complaints[complaints["split"] == "test"],
            "isp first": isp[isp["pass"] == "first"], "isp blind": isp[isp["pass"] == "blind"]}


def score(frame: pd.DataFrame, kind: str, encoder, head, level: float) -> dict[str, float]:
    sym.OTHER_SIMILARITY = level
    texts = [normalise_text(t) for t in frame["text"]]
    vectors = encoder.encode(texts)
    matcher = sym.SymptomMatcher(encoder.encode, default=sym.SymptomSet.of(kind))
    services = [()] * len(texts)
    truth = frame["symptom"].to_numpy()
    out = {}
    proba = head.predict_proba(vectors, texts)
    runs = {"similarity": matcher.assign(vectors, texts, services)}
    if kind == "web_app":
        runs["combined"] = matcher.assign(vectors, texts, services, proba, head.classes)
        runs["head"] = [(head.classes[j], 0.0) for j in np.argmax(proba, axis=1)]
    for name, assigned in runs.items():
        labels = np.array([label for label, _ in assigned])
        out[f"{name} acc"] = float((labels == truth).mean())
        out[f"{name} not-other"] = float((labels != sym.OTHER).mean())
    out["truth not-other"] = float((truth != sym.OTHER).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="Try several OTHER_SIMILARITY levels.")
    parser.add_argument("--only", help="Only the sets whose name starts with this (web_app, isp).")
    parser.add_argument("--tier", choices=["model", "fast"], default="model",
                        help="The classifier tier whose encoder and symptom head are scored (fast: built if needed).")
    args = parser.parse_args()
    if args.tier == "fast":
        from detector.classify.fast import ensure_fast_tier

        tier = ensure_fast_tier()
        encoder, head = tier.encoder(), load_heads(tier.heads_dir)["symptom"]
    else:
        encoder, head = shared_encoder(), load_heads(default_model_dir())["symptom"]
    levels = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45] if args.sweep else [sym.OTHER_SIMILARITY]
    rows = []
    for name, frame in load().items():
        if args.only and not name.startswith(args.only):
            continue
        kind = name.split()[0]
        for level in levels:
            rows.append({"set": name, "n": len(frame), "other_similarity": level,
                         **score(frame, kind, encoder, head, level)})
    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
