"""Place finding folds each word once and joins the folded words; that must equal folding the whole name,
or the speed-up (issue 17) would change which places are found."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from detector.places.extract import _WORD, MAX_WORDS, PlaceFinder, _joined
from detector.places.gazetteer import fold

REPO = Path(__file__).resolve().parents[1]
TWEETS = REPO / "data" / "xfinity-outage-2020" / "tweets.csv"

TRICKY = [
    "Montréal QC", "MONTRÉAL, Québec", "St. John's NL", "Coeur d’Alene ID", "Straße Köln", "İstanbul",
    "ﬁnland ﬂorida", "ǅemal Ñuñoa", "O'Fallon MO", "Winston-Salem NC", "Saint-Jean-sur-Richelieu",
    "ﷺ Mecca", "Ångström Åre", "Ｔｏｋｙｏ", "ΣΊΣΥΦΟΣ Αθήνα", "kelowna glenmore and Rutland",
]


def _texts() -> list[str]:
    with open(TWEETS, encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def test_joined_folds_equal_the_folded_name_on_every_span():
    checked = 0
    for text in [*TRICKY, *_texts()]:
        words = [m.group().rstrip(".") for m in _WORD.finditer(text)]
        folded = [fold(w) for w in words]
        for i in range(len(words)):
            for length in range(1, MAX_WORDS + 1):
                if i + length > len(words):
                    break
                assert _joined(folded[i: i + length]) == fold(" ".join(words[i: i + length])), words[i: i + length]
                checked += 1
    assert checked > 100_000  # the whole file was read


@pytest.mark.parametrize("text, expected", [
    ("power out in Montréal, Québec since noon", ["Montréal, QC"]),
    ("Outage in St. John's NL again", ["St. John's, NL"]),
    ("#kelownabc no internet", ["Kelowna, BC"]),
])
def test_places_with_accents_and_punctuation_are_still_found(text, expected):
    finder = PlaceFinder()
    first = [p.label for p in finder.find(text)]
    again = [p.label for p in finder.find(text)]  # the second time from folded words it kept
    assert first == again == expected


# -- the short cuts of issue 17's second pass: each must find what the plain way finds ---------------------

class _Everything:
    """A set that holds every string: a finder given it as its prefixes tries every length of name at a
    word, as place finding did before it looked names up by their prefixes."""

    def __contains__(self, item: object) -> bool:
        return True


class _PlainFinder(PlaceFinder):
    """Looks at every word and tries every length of name there: what the short cuts must equal."""

    @property
    def prefixes(self):
        return _Everything()

    @property
    def starts(self):
        return _Everything()

    def _looked_at(self, plain, folded, ascii_only=False):
        return list(range(len(folded)))


def _pheme_texts() -> list[str]:
    from tests.conftest import shared_data

    with open(shared_data("pheme-rumours", "source_tweets.csv"), encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def _fuzz_texts(count: int = 3000) -> list[str]:
    """Texts of place names and their pieces in random case, order and punctuation, so names of several
    words, prefixes that go nowhere and words that fold to nothing (U+037A) meet at every position."""
    import random

    rng = random.Random(17)
    pieces = ["new", "York", "Mills", "st.", "John's", "NL", "bc", "B.C.", "Kelowna", "the", "dalles", "of",
              "and", "Winston-Salem", "ͺ", "Coeur", "d’Alene", "ID", "salt", "lake", "city", "UT", ",", "in",
              "Hi", "Mary", "259", "Portage", "Avenue", "#vernonbc", "Vancouver", "Alberta", "TX", "x"]
    return [" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(count)]


@pytest.fixture(scope="module")
def finders():
    now = PlaceFinder()
    return now, _PlainFinder(now.gazetteer)


@pytest.mark.parametrize("texts", [_texts, _pheme_texts, _fuzz_texts, lambda: TRICKY])
def test_looking_names_up_by_prefix_finds_what_trying_every_length_finds(finders, texts):
    now, plain = finders
    texts = texts()
    found = 0
    for text in texts:
        places = now.find(text)
        assert places == plain.find(text), text
        found += bool(places)
    assert found > len(texts) // 20  # the texts name places: the comparison was not of empty results


def test_the_ascii_word_pattern_matches_the_unicode_one_on_ascii_text():
    import random

    from detector.places.extract import _ASCII_WORD

    rng = random.Random(5)
    alphabet = "abcXYZ09 .-'_,#@é’"[:-2]  # ASCII only: letters, digits and the characters words join on
    texts = [t for t in _texts() if t.isascii()]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    for text in texts:
        assert [m.span() for m in _ASCII_WORD.finditer(text)] == [m.span() for m in _WORD.finditer(text)], text


def test_shouting_counts_letters_and_capitals_as_str_does():
    import random

    from detector.places.extract import _shouting

    rng = random.Random(9)
    alphabet = "aBcDEFGHIJ ,.!1é’ΣⒶ"
    texts = [*_texts(), *TRICKY, *("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
                                   for _ in range(5000))]
    shouted = 0
    for text in texts:
        letters = [ch for ch in text if ch.isalpha()]
        expected = len(letters) >= 8 and sum(ch.isupper() for ch in letters) > 0.6 * len(letters)
        assert _shouting(text) == expected, text
        shouted += expected
    assert shouted > 100
