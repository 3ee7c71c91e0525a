"""Which language a post is written in, from a small set of languages so detection stays cheap.

The heads were trained mostly on English, so the language decides how much a verdict is trusted.
Detection uses lingua restricted to the languages people in our data write in; a text too short or too
mixed to call returns ``None`` (unknown) rather than a guess.
"""

from __future__ import annotations

import re
from typing import Sequence

DEFAULT_LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl", "tr", "pl", "ja")
MIN_LETTERS = 3

# Most posts are plain English; a word count settles them without lingua, which is slower and unsure
# about short questions ("is chatgpt down?" looks Dutch to it).
_WORD = re.compile(r"[a-z']+")
_ENGLISH = frozenset(
    "the a an is are was were be been my me i i'm im you your it it's its this that these those to of and or "
    "but not no can can't cant won't dont don't doesn't isn't why what when where how who anyone else just "
    "again still now today all for with on at from have has had got get getting do does did so very down "
    "out up working work broken keeps keep they their we our us he she him her there here any some will "
    "would should could been being off since over after before about than then too only really outage outages service internet wifi slow "
    "error errors please help fix fixed issue issues problem problems constant again".split()
)
_FOREIGN = frozenset(
    "de la el los las que en y por con para una un del se su al le les des et est pas je il une du au "
    "ne ce qui sur der die das und ist nicht ich mit ein eine auf den dem von zu bei kein não com um uma "
    "o os as do da em no na mais che di non è per gli het een niet ik van geen op te voor ve bir bu ile "
    "nie się jest na".split()
)


class LanguageDetector:
    """Returns ISO 639-1 codes (``"en"``) or ``None`` for each text."""

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES, min_relative_distance: float = 0.0) -> None:
        if not languages:
            raise ValueError("at least one language is needed")
        if "en" not in [code.lower() for code in languages]:
            raise ValueError("English must be among the languages (the heads are English-centric)")
        self.languages = tuple(code.lower() for code in languages)
        self.min_relative_distance = min_relative_distance
        self._detector = None

    @property
    def detector(self):
        if self._detector is None:
            from lingua import IsoCode639_1, LanguageDetectorBuilder

            codes = [getattr(IsoCode639_1, code.upper()) for code in self.languages]
            self._detector = (
                LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
                .with_minimum_relative_distance(self.min_relative_distance)
                .build()
            )
        return self._detector

    def detect(self, texts: Sequence[str]) -> list[str | None]:
        """One code (or ``None``) per text, in order."""
        result: list[str | None] = [None] * len(texts)
        todo = []
        for i, text in enumerate(texts):
            if sum(map(str.isalpha, text)) < MIN_LETTERS:  # letters, counted without a Python step each
                continue
            if looks_english(text):
                result[i] = "en"
            else:
                todo.append(i)
        if not todo:
            return result
        # One text at a time, not detect_languages_in_parallel_of: the same verdicts, but each thread of lingua's
        # pool works in its own malloc arena (PHEME's 778 texts that reach lingua: peak RSS 334-395 MB in
        # parallel, 271 MB one by one, models included; 2.0 CPU s instead of 2.9). Few texts get here.
        detector = self.detector
        found = [detector.detect_language_of(texts[i]) for i in todo]
        for i, language in zip(todo, found):
            result[i] = language.iso_code_639_1.name.lower() if language is not None else None
        return result


# Typographic quotes and dashes as their ASCII forms: phones type "it’s", and a curly apostrophe alone sent
# a third of the Xfinity tweets to lingua (2,735 of 8,787; 41 with this folding, lingua's verdicts unchanged).
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "–": "-", "—": "-"})


def looks_english(text: str) -> bool:
    """True when a text, ASCII once its typographic quotes and dashes are folded, is mostly English
    function words (cheap; lingua decides the rest)."""
    text = text.translate(_TYPOGRAPHIC)
    if not text.isascii():
        return False
    words = _WORD.findall(text.lower())
    english = sum(word in _ENGLISH for word in words)
    foreign = sum(word in _FOREIGN for word in words)
    return english >= 1 and english >= 2 * foreign and (english >= 2 or len(words) <= 6)
