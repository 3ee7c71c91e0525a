"""Classifier settings as they appear in the ``[classifier]`` table of the config file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

ClassifierKind = Literal["model", "fast", "cascade", "keywords"]
CLASSIFIER_KINDS: tuple[str, ...] = get_args(ClassifierKind)  # the --classifier choices, listed once

# Texts the encoder reads at once by default. On this project's 2-core machine, idle, the 2,500 longest Xfinity
# tweets (sorted, as encode_raw sorts them) took 20.7 s at 16, 20.8-21.0 s at 32 and 21.4 s at 64, with peak RSS
# 728, 757-792 and 950 MB (weights loaded: ~570 MB): small batches cost a CPU nothing once texts are sorted by
# length, and a batch's activations are most of the memory over the weights. (Fixing glibc's mmap threshold at
# 1 MB instead, to return activations to the OS, cut the peak as much but cost 36% more CPU: every batch's
# tensors were mapped and faulted in afresh.)
BATCH_SIZE = 16


class ClassifierSettings(BaseModel):
    """Which classifier labels posts."""

    model_config = ConfigDict(extra="forbid")

    kind: ClassifierKind = Field(
        "model",
        description="'model': the trained sentence-transformers heads (default); "
        "'fast': the same heads retrained on static token embeddings distilled from that model on this "
        "machine (built once on first use, cached under models/fast; tens of times faster, see the README); "
        "'cascade': the fast tier decides the posts it is sure of and the model the rest (and every complaint); "
        "'keywords': the transparent keyword baseline, no ML dependencies.",
    )
    model_dir: Path | None = Field(
        None, description="Folder of trained heads (see `detector train`); default: the shipped models/default."
    )
    embedding_model: Path | None = Field(
        None, description="A local sentence-transformers model folder; default: all-MiniLM-L6-v2 from its package."
    )
    claims: Path | None = Field(None, description="TOML file of known claims to match posts against.")
    batch_size: int = Field(
        BATCH_SIZE, ge=1, le=10_000, description="Most posts the encoder reads at once (fewer when they are long: "
        "at most this many 256-character texts' worth of padded characters). 16 encodes as fast as 64 on a CPU "
        "once texts are sorted by length, with less memory for activations.",
    )
    places: bool = Field(
        True, description="Look for the places posts name (towns, provinces, place hashtags, addresses) in the "
        "packaged GeoNames gazetteer; false: store no places.",
    )
