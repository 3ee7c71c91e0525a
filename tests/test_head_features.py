"""A head's feature blocks: character n-grams are read only by heads trained with them, and survive a save."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np

from detector.classify.heads import CHAR_FEATURES, NGRAM_FEATURES, Head, char_features, head_features
from detector.classify.training import train_head

TEXTS = ["my internet is down again", "no connection since this morning", "is it down for anyone",
         "wifi dead modem blinking", "tv and internet both out", "service out in my area",
         "why is my bill higher", "on hold for an hour", "love the new channels",
         "what plans do you have", "thanks for the help", "the remote is broken"]
LABELS = ["1"] * 6 + ["0"] * 6


def test_character_block_sits_beside_the_word_block_only_when_asked():
    vectors = np.zeros((2, 4), dtype=np.float32)
    texts = ["no intrnet", "no internet"]
    assert head_features(vectors, texts, ngrams=True).shape == (2, 4 + NGRAM_FEATURES)
    assert head_features(vectors, texts, ngrams=True, chars=True).shape == (2, 4 + NGRAM_FEATURES + CHAR_FEATURES)
    block = char_features(texts).toarray()
    assert np.allclose(np.linalg.norm(block, axis=1), 1.0)
    assert 0.5 < float(block[0] @ block[1]) < 1.0  # a misspelling shares most of its character grams


def test_a_head_trained_with_characters_reads_them_after_a_save(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(TEXTS), 8)).astype(np.float32)
    encoder = SimpleNamespace(name="stub", dimension=8)
    head, card = train_head("outage_report", TEXTS, LABELS, encoder, seed=1, folds=3, vectors=vectors, chars=True)
    assert head.chars and "character 2-5-grams" in card["features"]
    head.save(tmp_path)
    loaded = Head.load(tmp_path)
    assert loaded.chars
    assert np.allclose(loaded.positive_proba(vectors, TEXTS), head.positive_proba(vectors, TEXTS))


def test_a_head_saved_before_character_features_reads_without_them():
    head = Head(task="t", estimator=None, classes=("0", "1"), positive="1", threshold=0.5, ngrams=True)
    state = dict(head.__dict__)
    del state["chars"]  # what a head pickled before the field existed holds
    old = Head.__new__(Head)
    old.__dict__.update(state)
    assert pickle.loads(pickle.dumps(old)).chars is False
