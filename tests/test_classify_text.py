"""Text normalisation, cache keys, language detection and metrics: the classifier parts without a model."""

from __future__ import annotations

import numpy as np
import pytest

from detector.classify.embedding import BATCH_CHARS, EmbeddingCache, TextEncoder, padded_batches
from detector.classify.heads import best_threshold, positive_label
from detector.classify.language import LanguageDetector, looks_english
from detector.classify.normalise import normalise_text, text_key
from detector.classify.training import label_text, metrics_from


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@Xfinity 🤬🤬🤬Day 2 outage!!!!  pic.twitter.com/92L3qq", "@user furious Day 2 outage!!"),
        ("is chatgpt down? https://t.co/abc", "is chatgpt down?"),
        ("RT @someone: chatgpt is down", "chatgpt is down"),
        ("outage &amp; no wifi   \n\n again", "outage & no wifi again"),
        ("WHYYYYYYYY", "WHYYY"),
        ("Xfinity with this outage 🤦🏾‍♂️🤦🏾‍♂️", "Xfinity with this outage facepalm"),
        ("@a @b", ""),
        ("🎉🎉", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_normalise_text(raw, expected):
    assert normalise_text(raw) == expected


def test_retweets_and_cross_posts_share_a_cache_key():
    a = normalise_text("RT @bob: ChatGPT is down again https://t.co/1")
    b = normalise_text("ChatGPT is down again https://t.co/2")
    assert text_key(a) == text_key(b)
    assert text_key(a) != text_key(normalise_text("ChatGPT is up again"))


def test_cache_is_bounded_and_persists(tmp_path):
    cache = EmbeddingCache(max_items=2, path=tmp_path / "e.sqlite", namespace="m")
    vectors = {k: np.full(3, i, dtype=np.float32) for i, k in enumerate("abc")}
    cache.put_many(vectors)
    assert len(cache) == 2  # "a" fell out of memory...
    again = EmbeddingCache(path=tmp_path / "e.sqlite", namespace="m")
    found = again.get_many(["a", "b", "c", "zzz"])  # ...but not out of the file
    assert sorted(found) == ["a", "b", "c"] and found["c"].tolist() == [2, 2, 2]
    assert EmbeddingCache(path=tmp_path / "e.sqlite", namespace="other").get_many(["a"]) == {}


def test_a_cached_vector_does_not_keep_its_batch_alive():
    """The cache's bound is a bound on memory: a vector that stays cached (hit again and again) holds its own
    row, not the whole batch array it was a view of."""
    import gc
    import weakref

    cache = EmbeddingCache(max_items=1)
    batch = np.ones((200, 384), dtype=np.float32)
    alive = weakref.ref(batch)
    cache.put_many({f"k{i}": row for i, row in enumerate(batch)})  # rows are views of ``batch``
    del batch
    gc.collect()
    assert len(cache) == 1 and cache.get_many(["k199"])["k199"].tolist() == [1.0] * 384
    assert alive() is None


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("is chatgpt down?", "en"),
        ("my xfinity internet keeps dropping every few minutes", "en"),
        ("¿Se cayó ChatGPT? No me responde nada", "es"),
        ("impossible de me connecter à chatgpt depuis ce matin", "fr"),
        ("kann mich bei chatgpt nicht mehr anmelden", "de"),
        ("o chatgpt caiu? não carrega nada aqui", "pt"),
        ("ok", None),
        ("", None),
    ],
)
def test_language_detection(text, lang):
    assert LanguageDetector().detect([text]) == [lang]


def test_typographic_apostrophes_do_not_send_english_to_lingua():
    detector = LanguageDetector()
    texts = ["I don’t got no outage bruh", "Here’s the outage map.", "“No internet” again — third time"]
    assert all(looks_english(text) for text in texts)
    assert detector.detect(texts) == ["en", "en", "en"]
    assert detector._detector is None  # lingua (300 MB of models) was never loaded
    assert not looks_english("je n’ai plus internet depuis ce matin")


class _RecordingModel:
    """Stands in for the sentence model: records each call's texts, returns a vector made from the text."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts, **kwargs):
        self.calls.append(list(texts))
        return np.array([[len(t), ord(t[0]), 1.0] for t in texts], dtype=np.float32)


def test_encoder_batches_texts_of_about_one_length_and_keeps_the_callers_order():
    model = _RecordingModel()
    encoder = TextEncoder(batch_size=2, model=model)
    texts = ["a", "bbbbbb", "cc", "dddddddd", "bbbbbb", "eee"]
    vectors = encoder.encode(texts)
    assert [len(call) for call in model.calls] == [2, 2, 1]  # the repeated text is encoded once
    assert model.calls == [["dddddddd", "bbbbbb"], ["eee", "cc"], ["a"]]  # longest first: little padding
    assert vectors[:, 0].tolist() == [len(t) for t in texts] and vectors[1].tolist() == vectors[4].tolist()


def test_long_texts_come_in_smaller_batches():
    lengths = [1000, 1000, 900, 300, 120, 80, 80, 10]  # sorted longest first, as the encoder sorts them
    batches = padded_batches(lengths, batch_size=4)  # budget: 4 * BATCH_CHARS padded characters
    assert [list(b) for b in batches] == [[0], [1], [2], [3, 4, 5], [6, 7]]
    for rows in batches:
        assert len(rows) <= 4 and (len(rows) == 1 or len(rows) * lengths[rows.start] <= 4 * BATCH_CHARS)
    assert padded_batches([], 4) == []


def test_metrics_match_a_hand_computed_confusion_matrix():
    y_true = ["1", "1", "1", "1", "0", "0", "0", "0", "0", "0"]
    y_pred = ["1", "1", "1", "0", "1", "1", "0", "0", "0", "0"]
    # by hand: class 1 tp=3 fn=1 fp=2 -> P=3/5 R=3/4 F1=2/3; class 0 tp=4 fn=2 fp=1 -> P=4/5 R=4/6 F1=8/11
    metrics = metrics_from(y_true, y_pred, ["0", "1"])
    assert metrics["confusion_matrix"] == {"labels": ["0", "1"], "matrix": [[4, 2], [1, 3]]}
    assert metrics["per_class"]["1"] == {"precision": 0.6, "recall": 0.75, "f1": round(2 / 3, 4), "support": 4}
    assert metrics["per_class"]["0"]["f1"] == round(8 / 11, 4)
    assert metrics["accuracy"] == 0.7
    assert metrics["macro_f1"] == round((2 / 3 + 8 / 11) / 2, 4)
    assert metrics["weighted_f1"] == round((4 * 2 / 3 + 6 * 8 / 11) / 10, 4)


def test_labels_and_positive_class():
    assert [label_text(v) for v in (1, 1.0, "1", True, " yes ", None, float("nan"))] == \
        ["1", "1", "1", "1", "yes", "", ""]
    assert positive_label(["0", "1", "1"]) == "1"
    assert positive_label(["rumour", "non-rumour", "non-rumour"]) == "rumour"  # the rarer class
    assert positive_label(["a", "b", "c"]) is None
    with pytest.raises(ValueError):
        positive_label(["a", "b"], positive="c")


def test_threshold_maximises_macro_f1():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=bool)
    p = np.array([0.1, 0.2, 0.3, 0.65, 0.7, 0.8, 0.9, 0.95])
    assert 0.65 < best_threshold(y, p) <= 0.7


def _emoji_words_one_character_at_a_time(text: str) -> str:
    """The emoji rule as first written (issue 17 made it skip the characters below U+2000): each emoji
    that carries tone becomes its word once per run of the same word, other symbols go, the rest stays."""
    from detector.classify.normalise import EMOJI_WORDS, _is_symbol

    out, previous = [], ""
    for char in text:
        word = EMOJI_WORDS.get(char)
        if word is not None:
            if word != previous:
                out.append(f" {word} ")
            previous = word
            continue
        if _is_symbol(char):
            continue
        previous = ""
        out.append(char)
    return "".join(out)


def test_emoji_are_turned_into_words_as_one_character_at_a_time_would():
    import csv
    import random
    from pathlib import Path

    from detector.classify.normalise import _emoji_to_words

    with open(Path(__file__).resolve().parents[1] / "data" / "xfinity-outage-2020" / "tweets.csv",
              encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    rng = random.Random(3)
    pieces = ["😡", "😡", "🤬", "🙄", "a", " ", "’", "\u2000", "\u1fff", "🎉", "🏾", "\u200d", "❤", "\ufe0f",
              "é", "x", "😂", "🤣", "\U0001f000", "\x00", "\ud800"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 15))) for _ in range(5000)]
    changed = 0
    for text in texts:
        expected = _emoji_words_one_character_at_a_time(text)
        assert _emoji_to_words(text) == expected, ascii(text)
        changed += expected != text
    assert changed > 1000  # emoji were there to turn into words or drop
