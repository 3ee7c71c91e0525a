"""The fast-tier experiment: can a cheap model stand in for MiniLM, or screen out obviously unrelated posts?

Cheap features are compared with the shipped ones (MiniLM + hashed word n-grams) on the complaint head's
test split:

* static embeddings distilled from MiniLM the way model2vec does it (each vocabulary token passed through
  the model once; a text is the mean of its tokens' vectors), no attention at classification time, alone
  and with the n-grams;
* the hashed n-grams alone;

and one cascade: the static tier answers alone when it is sure a post is not a complaint, the shipped
model answers the rest. A tier qualifies only if the complaint macro F1 drops by less than one point.
(model2vec's own distiller needs ``model2vec[distill]``, which pins an older transformers, so the same
recipe is done here with the loaded model.)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from detector.classify.heads import best_threshold
from detector.classify.normalise import normalise_text

CACHE = Path.home() / ".cache" / "detector" / "static-minilm.npy"
KEEP_IF_DROP_BELOW = 1.0  # F1 points


class StaticEncoder:
    """Mean of per-token vectors distilled from a sentence-transformers model (no attention)."""

    def __init__(self, sentence_model, cache: Path | None = CACHE, batch_size: int = 1024) -> None:
        self.tokenizer = sentence_model.tokenizer
        self.vectors = self._distil(sentence_model, cache, batch_size)

    def _distil(self, model, cache: Path | None, batch_size: int) -> np.ndarray:
        if cache is not None and cache.exists():
            return np.load(cache)
        tokens = [self.tokenizer.convert_ids_to_tokens(i) for i in range(self.tokenizer.vocab_size)]
        # Each token alone, as a one-word "sentence"; word pieces lose their "##" so they read as text.
        texts = [token.removeprefix("##") for token in tokens]
        vectors = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                               show_progress_bar=False).astype(np.float32)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, vectors)
        return vectors

    def encode(self, texts: list[str]) -> np.ndarray:
        ids = self.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=256)["input_ids"]
        out = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        for row, token_ids in enumerate(ids):
            if token_ids:
                out[row] = self.vectors[token_ids].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


def _fit_with_threshold(make, X, y, seed: int):
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros(len(y))
    for train_idx, valid_idx in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y):
        oof[valid_idx] = make().fit(X[train_idx], y[train_idx]).predict_proba(X[valid_idx])[:, 1]
    return make().fit(X, y), best_threshold(y, oof), oof


def _scores(y_true, p, threshold):
    from sklearn.metrics import f1_score

    pred = p >= threshold
    return f1_score(y_true, pred, average="macro"), f1_score(y_true, pred)


def fast_tier_experiment(train: pd.DataFrame, test: pd.DataFrame, complaint_card: dict, seed: int = 7) -> dict:
    """Compare the fast variants with the shipped complaint features on the same test split."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    from detector.classify.heads import ngram_features
    from detector.classify.model import shared_encoder

    encoder = shared_encoder()
    x_train = [normalise_text(t) for t in train["text"]]
    x_test = [normalise_text(t) for t in test["text"]]
    y_train = (train["complaint"].astype(str) == "1").to_numpy()
    y_test = (test["complaint"].astype(str) == "1").to_numpy()
    C = float(complaint_card.get("C", 2.0))

    def logistic():
        return LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed)

    def timed(encode, texts):
        start = time.perf_counter()
        out = encode(texts)
        return out, len(texts) / (time.perf_counter() - start)

    _, minilm_rate = timed(encoder.encode_raw, x_test)
    ngram_train, ngram_rate = timed(ngram_features, x_train)
    ngram_test = ngram_features(x_test)
    minilm_train, minilm_test = encoder.encode(x_train), encoder.encode(x_test)
    static = StaticEncoder(encoder.model)
    static_test, static_rate = timed(static.encode, x_test)
    static_train = static.encode(x_train)

    def both(dense, sparse):
        return sp.hstack([sp.csr_matrix(dense), sparse], format="csr")

    candidates = [
        ("shipped: MiniLM + word n-grams (reference)", both(minilm_train, ngram_train), both(minilm_test, ngram_test),
         1 / (1 / minilm_rate + 1 / ngram_rate)),
        ("MiniLM alone", minilm_train, minilm_test, minilm_rate),
        ("static MiniLM tokens (model2vec-style) + word n-grams", both(static_train, ngram_train),
         both(static_test, ngram_test), 1 / (1 / static_rate + 1 / ngram_rate)),
        ("static MiniLM tokens alone", static_train, static_test, static_rate),
        ("hashed word n-grams alone", ngram_train, ngram_test, ngram_rate),
    ]
    variants, probabilities = [], {}
    for name, f_train, f_test, rate in candidates:
        model, threshold, oof = _fit_with_threshold(logistic, f_train, y_train, seed)
        p = model.predict_proba(f_test)[:, 1]
        macro, pos = _scores(y_test, p, threshold)
        probabilities[name] = (p, threshold, oof)
        variants.append({"name": name, "f1": macro, "complaint_f1": pos, "rate": rate})
    reference = variants[0]["f1"]
    for row in variants:
        row["delta_points"] = 100 * (row["f1"] - reference)

    # Cascade: the static tier answers alone when it is sure a post is not a complaint (at most 1% of the
    # training complaints fall below the screen); the shipped features answer the rest.
    p_fast, _, oof_fast = probabilities[candidates[2][0]]
    p_full, full_threshold, _ = probabilities[candidates[0][0]]
    screen = float(np.quantile(oof_fast[y_train], 0.01))
    screened = p_fast < screen
    macro, pos = _scores(y_test, np.where(screened, 0.0, p_full), full_threshold)
    fast_rate = variants[2]["rate"]
    cascade_rate = 1 / (1 / fast_rate + (1 - screened.mean()) / minilm_rate)
    variants.append({"name": f"cascade: static tier settles {screened.mean():.0%} of test posts, shipped model the rest",
                     "f1": macro, "complaint_f1": pos, "delta_points": 100 * (macro - reference),
                     "rate": cascade_rate})

    kept = [v for v in variants[2:] if v["delta_points"] > -KEEP_IF_DROP_BELOW]
    decision = (
        "qualifies (drops less than one point): " + "; ".join(
            f"{v['name']} ({v['delta_points']:+.1f} points, {v['rate']:.0f} posts/s)" for v in kept)
        if kept else
        "not kept: every fast variant loses at least one point of complaint macro F1 on the test split"
    )
    return {
        "summary": "Complaint head, same train/test split as above, uncalibrated logistic regression with the "
                   "shipped C and a threshold chosen on out-of-fold predictions for every variant. Rates are "
                   "feature extraction only, measured in the same run on this shared 2-core machine.",
        "variants": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()} for row in variants],
        "decision": decision,
        "screen_threshold": round(screen, 4),
    }
