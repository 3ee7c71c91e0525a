"""Classifier speed: raw MiniLM encode rate vs the full classify rate, and a stream with 30% duplicates.

    HF_HUB_OFFLINE=1 python bench/classify.py [--posts 2000] [--threads 2]

The full classify (normalise, language, cache, heads, claims) must keep >= 90% of the raw encode rate,
measured in the same run on the same texts (the raw rate encodes the already-normalised texts, so the
ratio is pure overhead). Each figure is the best of --rounds runs, because this machine is shared.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]

from detector.classify.embedding import EmbeddingCache, TextEncoder
from detector.classify.model import EmbeddingClassifier
from detector.classify.normalise import normalise_text
from detector.records import Post

TWEETS = REPO.parent / "shared" / "data" / "xfinity-outage-2020" / "tweets.csv"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def load_texts(n: int, seed: int) -> list[str]:
    import pandas as pd

    path = TWEETS if TWEETS.exists() else REPO / "data" / "labelled" / "posts.csv"
    texts = pd.read_csv(path)["text"].dropna().astype(str).tolist()
    distinct = list(dict.fromkeys(t for t in texts if normalise_text(t)))
    random.Random(seed).shuffle(distinct)
    return distinct[:n]


def with_duplicates(texts: list[str], share: float, seed: int) -> list[str]:
    """A stream of len(texts) posts where `share` of them repeat earlier ones (retweets, cross-posts)."""
    rng = random.Random(seed)
    originals = texts[: round(len(texts) * (1 - share))]
    repeats = [rng.choice(["RT @someone: ", "", ""]) + rng.choice(originals) + rng.choice(["", " https://t.co/x"])
               for _ in range(len(texts) - len(originals))]
    stream = originals + repeats
    rng.shuffle(stream)
    return stream


def posts_of(texts: list[str]) -> list[Post]:
    return [Post(source="bench", source_id=str(i), created_at=NOW, text=t) for i, t in enumerate(texts)]


def classify_rate(classifier: EmbeddingClassifier, texts: list[str], batch: int) -> float:
    classifier.encoder.cache = EmbeddingCache(namespace="bench")  # cold cache every run
    posts = posts_of(texts)
    start = time.perf_counter()
    for i in range(0, len(posts), batch):
        classifier.classify(posts[i : i + batch])
    return len(posts) / (time.perf_counter() - start)


def raw_rate(encoder: TextEncoder, texts: list[str], batch: int) -> float:
    normalised = [normalise_text(t) for t in texts]
    start = time.perf_counter()
    for i in range(0, len(normalised), batch):
        encoder.encode_raw(normalised[i : i + batch])
    return len(normalised) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--claims", type=Path, default=REPO / "examples" / "claims.toml")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    texts = load_texts(args.posts, args.seed)
    stream = with_duplicates(texts, 0.30, args.seed)
    encoder = TextEncoder(batch_size=args.batch)
    classifier = EmbeddingClassifier(encoder=encoder, claims=args.claims)
    classifier.classify(posts_of(texts[:64]))  # warm up: weights, lingua models, claims
    raw, full, dup = [], [], []
    for _ in range(args.rounds):
        raw.append(raw_rate(encoder, texts, args.batch))
        full.append(classify_rate(classifier, texts, args.batch))
        dup.append(classify_rate(classifier, stream, args.batch))
    raw_best, full_best, dup_best = max(raw), max(full), max(dup)
    mean_chars = sum(len(normalise_text(t)) for t in texts) / len(texts)
    print(f"posts: {len(texts)} distinct ({mean_chars:.0f} characters on average), batch {args.batch}, "
          f"torch threads {args.threads}, best of {args.rounds} rounds")
    print(f"raw MiniLM encode:            {raw_best:8.1f} posts/s")
    print(f"full classify:                {full_best:8.1f} posts/s  (normalise, language, cache, 3 heads, "
          f"{len(classifier.claims.claims) if classifier.claims else 0} claims)")
    print(f"ratio full/raw:               {full_best / raw_best:8.3f}  (target >= 0.9)")
    print(f"stream with 30% duplicates:   {dup_best:8.1f} posts/s  ({dup_best / full_best:.2f}x the distinct "
          f"stream; ideal 1/0.7 = 1.43x)")


if __name__ == "__main__":
    main()
