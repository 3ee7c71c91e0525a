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
