"""Static token embeddings distilled from the sentence model: the fast tier's encoder.

The recipe is model2vec's (its own distiller needs the ``model2vec[distill]`` extra, which pins other
versions of the libraries we use, so the same steps are done here with the loaded model): every token of
the model's vocabulary is passed through the transformer once, as ``[CLS] token [SEP]``, and its vector is
the mean of the three output states; the table is then centred and rotated onto its principal axes (all
dimensions kept) and each token is weighted by ``SIF / (SIF + p)``, ``p`` its Zipf-law frequency from its
rank in the vocabulary, so frequent word pieces weigh less. A text's vector is the mean of its tokens'
vectors (model2vec's ``StaticModel``), unit length: no attention, a table look-up per token, which is why it
is one to two orders of magnitude faster than the transformer and why it is built on the machine (a
minute or two of the transformer, once) rather than shipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

SIF_COEFFICIENT = 1e-4
DISTIL_BATCH = 1024
VECTORS_FILE = "vectors.npy"
TOKENIZER_FILE = "tokenizer.json"


def distil_token_vectors(sentence_model, token_ids: Sequence[int] | None = None,
                         progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """One row per vocabulary id: the transformer's mean output for ``[CLS] token [SEP]``.

    ``token_ids`` limits the work to those ids (the other rows stay zero, so a text made only of them has
    no vector); ``None`` is the whole vocabulary. ``progress(done, total)`` is called after each batch.
    """
    import torch

    tokenizer = sentence_model.tokenizer
    transformer = sentence_model[0].auto_model.eval()
    size = len(tokenizer)
    ids = np.arange(size) if token_ids is None else np.unique(np.asarray(token_ids, dtype=np.int64))
    table = np.zeros((size, transformer.config.hidden_size), dtype=np.float32)
    for start in range(0, len(ids), DISTIL_BATCH):
        chunk = torch.as_tensor(ids[start : start + DISTIL_BATCH], dtype=torch.long)
        batch = torch.stack([torch.full_like(chunk, tokenizer.cls_token_id), chunk,
                             torch.full_like(chunk, tokenizer.sep_token_id)], dim=1)
        with torch.inference_mode():
            states = transformer(input_ids=batch, attention_mask=torch.ones_like(batch),
                                 token_type_ids=torch.zeros_like(batch)).last_hidden_state
        table[chunk.numpy()] = states.mean(dim=1).float().numpy()
        if progress is not None:
            progress(min(start + DISTIL_BATCH, len(ids)), len(ids))
    return table


def static_vectors(table: np.ndarray, sif: float = SIF_COEFFICIENT) -> np.ndarray:
    """The distilled table centred, rotated onto its principal axes and weighted by Zipf-law SIF.

    Only the distilled (non-zero) rows are centred and weighted; rows never distilled stay zero.
    """
    live = np.flatnonzero(np.abs(table).sum(axis=1) > 0)
    out = np.zeros_like(table, dtype=np.float32)
    if len(live) < 2:
        return out
    rows = table[live].astype(np.float64)
    rows -= rows.mean(axis=0)
    _, axes = np.linalg.eigh(rows.T @ rows / (len(rows) - 1))
    rows = rows @ axes[:, ::-1]
    inverse_rank = 1 / np.arange(2, len(table) + 2)
    frequency = inverse_rank / inverse_rank.sum()
    out[live] = rows * (sif / (sif + frequency[live]))[:, None]
    return out


class StaticEncoder:
    """Unit vectors for normalised texts from a static token table (the interface of ``TextEncoder``)."""

    def __init__(self, vectors: np.ndarray, tokenizer_file: Path | str, name: str) -> None:
        from model2vec import StaticModel
        from tokenizers import Tokenizer

        self.name = name
        self.model = StaticModel(vectors, Tokenizer.from_file(str(tokenizer_file)), normalize=True)

    @classmethod
    def load(cls, folder: Path, name: str) -> "StaticEncoder":
        """The encoder saved in ``folder`` by ``save``."""
        return cls(np.load(folder / VECTORS_FILE), folder / TOKENIZER_FILE, name)

    @staticmethod
    def save(folder: Path, vectors: np.ndarray, tokenizer_file: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / VECTORS_FILE, vectors.astype(np.float32))
        (folder / TOKENIZER_FILE).write_bytes(Path(tokenizer_file).read_bytes())

    @property
    def dimension(self) -> int:
        return int(self.model.dim)

    def encode_raw(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for the texts (texts with no known token get a zero vector)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # One process: the pipeline's batches are small and the machine's cores are the pipeline's.
        return self.model.encode(list(texts), use_multiprocessing=False).astype(np.float32, copy=False)

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for already-normalised texts, one row per text (no cache: a look-up is cheaper)."""
        vectors = self.encode_raw(texts)
        if progress is not None:
            progress(len(texts))
        return vectors
