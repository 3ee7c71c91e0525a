"""The fast tier: the model tier's heads retrained on static token embeddings distilled from the installed
sentence model, built on this machine on first use (or by ``make fast-tier``), never shipped.

It gives every verdict the model tier gives (complaint, outage report, misinformation, symptom, claim,
language, confidence) through the same ``EmbeddingClassifier``, with the static encoder in place of
MiniLM; the README's "Which classifier" says what it measured and where it is weaker (claims, symptoms).

Layout under the root (``models/fast`` in a checkout, gitignored; the user's cache folder,
``DETECTOR_CACHE_DIR`` or ~/.cache/detector, when the package's folder cannot be written)::

    <root>/<encoder key>/               vectors.npy, tokenizer.json, encoder.json: the distilled table
    <root>/<encoder key>/<heads key>/   complaint/ outage_report/ misinformation/ symptom/, build.json

The encoder key is a digest of every file of the sentence-model folder and of the distilling recipe, so
another or a changed encoder gets its own table (distilled again: a minute or two of the transformer); the
heads key a digest of the encoder key, the labelled file, scikit-learn's version and the training code
(``training.py``, ``heads.py`` and this module: a changed training rule, such as which heads read n-grams,
retrains the heads instead of reusing ones built by the old rule).
Each folder is written under a temporary name and renamed into place, so a concurrent first use never
reads half a tier. Older keys are left where they are (delete the root to reclaim the space).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from detector.classify.static import (
    SIF_COEFFICIENT, TOKENIZER_FILE, StaticEncoder, distil_token_vectors, static_vectors,
)
from detector.classify.symptoms import SymptomSet
from detector.resources import bundled

log = logging.getLogger("detector.fast")

# Bump when the distilling code changes what it builds: every machine then distils again (the heads key
# follows the training code by itself, see heads_key_for).
RECIPE = f"mean([CLS] token [SEP]), pca all, sif {SIF_COEFFICIENT}; heads v1"
# The regularisation 5-fold cross-validation chose for every head of the model tier (models/default's
# cards); not chosen again here, which would cost 20 more fits per head at set-up.
FAST_C = 8.0
SEED = 7
ENCODER_FILE = "encoder.json"
BUILD_FILE = "build.json"

_lock = threading.Lock()


@dataclass(frozen=True)
class FastTier:
    """Where a fast tier lives, and what the call that found it had to build."""

    encoder_dir: Path
    heads_dir: Path
    name: str  # the static encoder's name, e.g. static-all-MiniLM-L6-v2
    distilled: bool  # this call distilled the token table
    trained: bool  # this call trained the heads

    def encoder(self) -> StaticEncoder:
        return StaticEncoder.load(self.encoder_dir, self.name)


def fast_tier_root() -> Path:
    """``models/fast`` beside the shipped heads when that folder can be written, else the user's cache."""
    models = bundled("models")
    if os.access(models, os.W_OK):
        return models / "fast"
    return Path(os.environ.get("DETECTOR_CACHE_DIR") or Path.home() / ".cache" / "detector") / "fast"


def default_labelled_data() -> Path:
    """The labelled posts the model tier's heads were trained on (``data/labelled/posts.csv``)."""
    return bundled("data", "labelled", "posts.csv")


def folder_digest(folder: Path) -> str:
    """sha256 over every file of a folder (relative names and contents): the encoder's identity."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def ensure_fast_tier(
    root: Path | str | None = None,
    embedding_model: Path | str | None = None,
    data: Path | str | None = None,
    token_ids: Sequence[int] | None = None,
) -> FastTier:
    """The fast tier for this encoder and labelled file, built now if it is not there yet.

    ``token_ids`` distils only those vocabulary ids (tests; a text of other tokens gets no vector):
    it is part of the encoder key, so a partial table is never taken for the whole one.
    """
    from detector.classify.embedding import DEFAULT_MODEL_NAME, default_model_path

    model_folder = Path(embedding_model) if embedding_model is not None else default_model_path()
    name = "static-" + (model_folder.name if embedding_model is not None else DEFAULT_MODEL_NAME)
    root = Path(root) if root is not None else fast_tier_root()
    data = Path(data) if data is not None else default_labelled_data()
    vocabulary = "all" if token_ids is None else hashlib.sha256(
        np.unique(np.asarray(token_ids, dtype=np.int64)).tobytes()).hexdigest()
    with _lock:
        encoder_key = _key(RECIPE, folder_digest(model_folder), vocabulary)
        encoder_dir = root / encoder_key
        distilled = not (encoder_dir / ENCODER_FILE).exists()
        if distilled:
            _build(encoder_dir, lambda tmp: _distil(tmp, model_folder, name, token_ids, vocabulary))
        heads_key = heads_key_for(encoder_key, data)
        heads_dir = encoder_dir / heads_key
        trained = not (heads_dir / BUILD_FILE).exists()
        if trained:
            encoder = StaticEncoder.load(encoder_dir, name)
            _build(heads_dir, lambda tmp: _train(tmp, encoder, data))
    return FastTier(encoder_dir=encoder_dir, heads_dir=heads_dir, name=name, distilled=distilled, trained=trained)


def load_fast_classifier(
    root: Path | str | None = None,
    embedding_model: Path | str | None = None,
    claims_path: Path | str | None = None,
    symptom_sets: Mapping[str, SymptomSet] | None = None,
    tier: FastTier | None = None,
):
    """The fast tier's classifier (built first if needed): the model tier's classifier with the static
    encoder and the heads trained on it."""
    from detector.classify.model import EmbeddingClassifier

    tier = tier if tier is not None else ensure_fast_tier(root, embedding_model)
    return EmbeddingClassifier(model_dir=tier.heads_dir, encoder=tier.encoder(), claims=claims_path,
                               symptom_sets=symptom_sets)


def heads_key_for(encoder_key: str, data: Path) -> str:
    """The folder name of the heads trained on ``data`` over the table ``encoder_key``, by the code installed."""
    return _key(encoder_key, _file_digest(data), _sklearn_version(), _training_code_digest())


def _training_code_digest() -> str:
    """A digest of the code that decides what the heads are: the shared training rules, the head features
    and this module's training. Read from the installed files, so an edit needs no hand-bumped constant."""
    digest = hashlib.sha256()
    for path in training_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()


def training_files() -> list[Path]:
    """The source files of the training code, found without importing it (training loads pandas)."""
    names = ("detector.classify.training", "detector.classify.heads", __name__)
    return [Path(importlib.util.find_spec(name).origin) for name in names]  # type: ignore[union-attr,arg-type]


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    if not path.exists():
        raise FileNotFoundError(f"labelled data {path} does not exist: the fast tier's heads are trained on it")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__  # heads are pickles: another scikit-learn may not read them


def _build(target: Path, fill) -> None:
    """Fill a temporary sibling of ``target`` and rename it into place (another process may win the race)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        fill(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _distil(folder: Path, model_folder: Path, name: str, token_ids: Sequence[int] | None,
            vocabulary: str) -> None:
    from detector.classify.embedding import load_sentence_model

    started = time.perf_counter()
    model = load_sentence_model(model_folder)
    size = len(model.tokenizer) if token_ids is None else len(set(token_ids))
    log.warning("building the fast tier once: distilling %s tokens of %s (a few minutes of CPU, once), into %s",
                f"{size:,}", name.removeprefix("static-"), folder.parent)
    table = distil_token_vectors(model, token_ids)
    StaticEncoder.save(folder, static_vectors(table), model_folder / TOKENIZER_FILE)
    (folder / ENCODER_FILE).write_text(json.dumps({
        "encoder": str(model_folder), "name": name, "recipe": RECIPE, "vocabulary": vocabulary, "tokens": size,
        "seconds": round(time.perf_counter() - started, 1),
    }, indent=2) + "\n", encoding="utf-8")


def _train(folder: Path, encoder: StaticEncoder, data: Path) -> None:
    """The model tier's four heads over static vectors, trained by its own loop (``train_split_head``: the
    same labelled file, split, rows and features, the outage-report head's character n-grams included) at
    the C the model tier's cross-validation chose; each card carries its scores on the test split."""
    from detector.classify.training import HEAD_NGRAMS, embed, metrics_from, read_table, save_head, split_scores, \
        train_split_head

    started = time.perf_counter()
    frame = read_table(data)
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    test = frame[frame["split"] == "test"].reset_index(drop=True)
    vectors = {"train": embed(encoder, train["text"].tolist()), "test": embed(encoder, test["text"].tolist())}
    scores = {}
    for task in HEAD_NGRAMS:
        head, card = train_split_head(task, train, vectors["train"], encoder, seed=SEED, C=FAST_C)
        rows, truth, predicted = split_scores(head, test, vectors["test"])
        if rows.any():
            card["test"] = metrics_from(truth, predicted, head.classes)
            if "source" in test:
                sources = test["source"][rows].to_numpy()
                card["test_by_source"] = {
                    source: metrics_from(list(np.array(truth)[mask]), list(np.array(predicted)[mask]), head.classes)
                    for source in sorted(set(sources)) if (mask := sources == source).sum() >= 5
                }
            scores[task] = card["test"]["macro_f1"]
        save_head(head, card, folder / task)
    (folder / BUILD_FILE).write_text(json.dumps({
        "data": str(data), "rows": {"train": len(train), "test": len(test)}, "C": FAST_C,
        "test_macro_f1": scores, "seconds": round(time.perf_counter() - started, 1),
    }, indent=2) + "\n", encoding="utf-8")
