"""Places a post names: towns and cities, states and provinces, place hashtags and street addresses.

Precision matters more than recall here (a false "Mobile, AL" on a map misleads comms), so the rules are
stated in advance rather than tuned, and a word is taken as a place only when one of them holds:

1. **Hashtag**: ``#kamloops`` is the place; ``#vernonbc`` is a place followed by its own state or province
   abbreviation; ``#alberta`` a province. A bare hashtag needs a place of ``MIN_HASHTAG`` people.
2. **Place, region**: a name followed by its state or province ("Vernon BC", "Mobile, AL", "Calgary,
   Alberta", "Windsor, 06095 CT") is that place, whatever its size and even if it is a common word.
3. **Capitalised** (not the first word of a sentence, and the post is not written in capitals): a name of
   ``MIN_CAPITALISED`` people or more ("Colwood", "Rutland").
4. **Any case**: a name of ``MIN_ANY_CASE`` people or more ("kelowna", "calgary").
5. **Near a place**: a smaller name, capitalised or of five letters or more, in the same state or province
   as a place found by rules 1-4 ("Deer Run Calgary", "kelowna glenmore and Rutland").
6. **State or province** by its full name ("southern Alberta", "Texas"); postal abbreviations count alone
   only for Canada's unambiguous ones (``STANDALONE``), elsewhere only after a place (rule 2).
7. **Address**: a house number, one to three capitalised words and a street type ("259 Portage Avenue",
   "15347-37 St").

Rules 3-5 never take a word of ``STOP_WORDS``: everyday words and brands that are also place names
("Mobile", "Reading", "Normal", "Hope", "Deal", "Rogers", "Bell"), nor a name right after a greeting ("Hi
Mary", "Thanks Linda": a person). Among places of one name the one in the state or province the post names wins, then one in the same region or country as the post's other
places, then the most populous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from detector.places.gazetteer import Entry, Gazetteer, fold, load_gazetteer
from detector.records import Place

MIN_HASHTAG = 5_000
MIN_CAPITALISED = 15_000
MIN_ANY_CASE = 100_000
CONTEXT_LETTERS = 5
STANDALONE = frozenset({"BC", "B.C.", "NS", "NB", "QC", "SK", "MB", "NL", "PEI", "NWT", "PQ"})

STOP_WORDS = frozenset("""
home don over many send page point start haven eye box hope gateway nice mobile deal normal happy early
center centre cool post price man worth luck downtown street friend okay chase guy outlook north south east
west media claude wall metro college virgin central tornado strong sale reading lead knock surprise story
quarter hub advance wells orange hurt green fargo effort bridge bay section rock purchase progress minor
mark keys junction jack friendly battle welcome tool success rush portal loyal law hospital concrete banning
white stock split research plenty miles kill holder halfway broke beer ball down internet online service
services cable phone best why love energy power most plain liberty independence commerce enterprise
justice union unity victory paradise eden bliss temple church school university park lake river beach
mountain valley spring springs summit crown royal king queen prince princess bishop bell rogers shaw telus
cox frontier spectrum optimum sprint boost mint charter comcast xfinity verizon windstream starlink ideal
ring alexa echo galaxy pixel apple amazon netflix hulu disney youtube google twitter facebook gaming
cali saga white house march may august sunday monday friday christmas easter of the and or in on at to for is it no new
""".split())
STREET = (r"Avenue|Ave|Street|St|Road|Rd|Drive|Dr|Boulevard|Blvd|Lane|Ln|Way|Crescent|Cres|Court|Ct|Place|"
          r"Pl|Trail|Trl|Highway|Hwy|Parkway|Pkwy|Terrace|Circle|Cir")
_ADDRESS = re.compile(rf"\b\d{{1,6}}(?:-\d{{1,4}})?\s+(?:(?:[A-Z][a-z]+|\d{{1,3}}(?:st|nd|rd|th)?)\s+){{1,3}}"
                      rf"(?:{STREET})\b\.?|\b\d{{3,6}}-\d{{1,3}}\s+(?:{STREET})\b\.?")
# A word, its group the word without the full stop that may end it (what ``.rstrip(".")`` of the match
# gives: inside a word a stop is followed by a letter)
_WORD = re.compile(r"([^\W\d_]+(?:[’'.-][^\W\d_]+)*)\.?")
# _WORD for a text of ASCII only, where a letter ([^\W\d_]) is [A-Za-z] and ’ cannot occur: the same matches,
# in half the time (no Unicode category look-up per character)
_ASCII_WORD = re.compile(r"([A-Za-z]+(?:['.-][A-Za-z]+)*)\.?")
_NOISE = re.compile(r"https?://\S+|www\.\S+|pic\.twitter\.com/\S+|@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_ZIP = re.compile(r",?\s*(?:\d{5}(?:-\d{4})?\s*,?)?")
DIRECTIONS = ("north", "south", "east", "west", "downtown", "central", "greater")
CONNECTORS = {"of", "and", "upon", "the", "de", "la", "on"}
MAX_WORDS = 4
FOLDED_WORDS = 1 << 16  # distinct words whose folded form a finder keeps


@dataclass
class _Found:
    start: int
    end: int
    candidates: list[Entry]
    strong: bool  # rules 1, 2, 6, or a stated region: counts as context for rule 5
    entry: Entry | None = None


class PlaceFinder:
    """Finds the places in post texts with a gazetteer (the packaged GeoNames one by default)."""

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self._gazetteer = gazetteer
        # Folding (unicode decomposition, case folding) was most of the time spent finding places: every
        # word was folded again in each of the up to MAX_WORDS names tried through it. Words repeat across
        # posts, so each is folded once per finder (bounded) and names are joined from folded words.
        self._fold_word = lru_cache(maxsize=FOLDED_WORDS)(fold)
        self._names: frozenset[str] | None = None
        self._prefixes: frozenset[str] | None = None
        self._starts: frozenset[str] | None = None

    @property
    def gazetteer(self) -> Gazetteer:
        if self._gazetteer is None:
            self._gazetteer = load_gazetteer()
        return self._gazetteer

    def find(self, text: str) -> tuple[Place, ...]:
        """The distinct places ``text`` names, in the order it names them."""
        if not text:
            return ()
        g = self.gazetteer
        clean = _NOISE.sub(lambda m: " " * len(m.group()), text)
        addresses = [" ".join(m.group().rstrip(".").split()) for m in _ADDRESS.finditer(clean)]
        clean = _ADDRESS.sub(lambda m: " " * len(m.group()), clean)  # "259 Portage Avenue" is not Portage
        shouting = _shouting(clean)
        found: list[_Found] = []
        weak: list[_Found] = []
        for match in _HASHTAG.finditer(clean):
            hit = self._hashtag(match.group(1))
            if hit is not None:
                found.append(_Found(match.start(), match.end(), *hit))
        clean = _HASHTAG.sub(lambda m: " " * len(m.group()), clean)
        word_pattern = _ASCII_WORD if clean.isascii() else _WORD
        plain = word_pattern.findall(clean)
        folded = list(map(self._fold_word, plain))
        looked_at = self._looked_at(plain, folded)
        if looked_at:  # two texts in three have no word to look at: their words' places are never needed
            words = [(m.start(), m.end(), m.group(1)) for m in word_pattern.finditer(clean)]
            i = 0
            for at in looked_at:
                if at >= i:
                    i = at + self._words_at(clean, words, folded, at, shouting, found, weak)
        settled = [f for f in found if f.entry is not None or len(f.candidates) == 1]
        strong_regions = {(f.entry or f.candidates[0]).region for f in found}
        for item in weak:
            near = [e for e in item.candidates if e.region in strong_regions]
            if near:
                item.entry = near[0]
                found.append(item)
                settled.append(item)
        places: list[Place] = []
        for item in sorted(found, key=lambda f: f.start):
            others = [(f.entry or f.candidates[0]) for f in settled if f is not item]
            entry = item.entry or _choose(item.candidates, {e.region for e in others}, {e.country for e in others})
            place = Place(entry.name, entry.kind, entry.region, entry.country, round(entry.lat, 4),
                          round(entry.lon, 4))
            if place not in places:
                places.append(place)
        for address in addresses:
            place = Place(address, "address")
            if place not in places:
                places.append(place)
        return tuple(places)

    @property
    def names(self) -> frozenset[str]:
        """Every folded name the gazetteer knows: places, states and provinces."""
        if self._names is None:
            self._index()
        return self._names

    @property
    def prefixes(self) -> frozenset[str]:
        """Every proper prefix of a name that ends between two of its words ("new", "new york" for "new
        york mills"): a name of more words is looked for only while the words so far are such a prefix."""
        if self._prefixes is None:
            self._index()
        return self._prefixes

    @property
    def starts(self) -> frozenset[str]:
        """What a word, folded, must be to begin a name: a name or a prefix of one."""
        if self._starts is None:
            self._index()
        return self._starts

    def _looked_at(self, plain: list[str], folded: list[str]) -> list[int]:
        """The words where ``_words_at`` can find something, in order: a word that folds to nothing, a name,
        a standalone province abbreviation, or a prefix of a name that the next word continues ("new" in
        "new york", not in "new router"). Elsewhere it would find nothing (every name it could try begins
        with a known name's prefix), so most words are passed over without the call."""
        names, prefixes, starts = self.names, self.prefixes, self.starts
        last = len(folded) - 1
        return [
            i for i, word in enumerate(folded)
            if not word or word in names
            or (len(plain[i]) <= 3 and plain[i].upper() in STANDALONE)  # upper() never shortens a word
            or (word in prefixes and i < last and (not folded[i + 1] or f"{word} {folded[i + 1]}" in starts))
        ]

    def _index(self) -> None:
        g = self.gazetteer
        names = frozenset(name for table in (g.by_name, g.region_names) for name in table)
        prefixes = set()
        for name in names:
            parts = name.split(" ")
            prefixes.update(" ".join(parts[:k]) for k in range(1, len(parts)))
        self._names, self._prefixes = names, frozenset(prefixes)
        self._starts = names | self._prefixes

    # -- rules -------------------------------------------------------------------------------------
    def _hashtag(self, body: str) -> tuple[list[Entry], bool] | None:
        g = self.gazetteer
        key = fold(body).replace(" ", "")
        if not key or key in STOP_WORDS:
            return None
        region = next((e for name, e in g.region_names.items() if name.replace(" ", "") == key), None)
        if region is not None:
            return [region], True
        for cut in (2, 3):  # "vernonbc", "kelownabc", "seattlewa", "halifaxns"; "charlottetownpei"
            head, tail = key[:-cut], key[-cut:]
            places = [e for e in g.cities(_spaced(g, head)) if e.region.lower() == tail]
            if head and places:
                return places, True
        places = [e for e in g.cities(_spaced(g, key)) if e.population >= MIN_HASHTAG]
        if not places:  # "#westseattle", "#downtownvancouver": the city
            direction = next((d for d in DIRECTIONS if key.startswith(d) and len(key) > len(d) + 3), None)
            if direction:
                return self._hashtag(key[len(direction):])
        return (places, True) if places else None

    def _words_at(self, text: str, words: list[tuple[int, int, str]], folded: list[str], i: int,
                  shouting: bool, found: list[_Found], weak: list[_Found]) -> int:
        """Try the longest name starting at word ``i``; record it; return how many words were used."""
        g = self.gazetteer
        names, prefixes = self.names, self.prefixes
        named: list[tuple[int, str]] = []  # (words, folded name) of the names starting here, shortest first
        top = min(MAX_WORDS, len(words) - i)
        key = ""
        for length in range(1, top + 1):
            word = folded[i + length - 1]
            if word:  # key = _joined(folded[i: i + length]), a word at a time
                key = f"{key} {word}" if key else word
            if key in names:
                named.append((length, key))
            # a longer span's name is "key " and more (or key again, over a word that folds to nothing)
            if key and key not in prefixes and (length == top or folded[i + length]):
                break
        for length, key in reversed(named):
            span = words[i: i + length]
            if span[0][2].lower() in CONNECTORS or span[-1][2].lower() in CONNECTORS:
                continue
            region = g.region_names.get(key)
            cities = g.cities(key)
            if region is None and not cities:
                continue
            start, end = span[0][0], span[-1][1]
            capitalised = not shouting and all(w[0].isupper() or w.lower() in CONNECTORS for _, _, w in span)
            first = _sentence_start(text, start)
            stated, used = self._stated_region(text, words, folded, i + length)
            if cities and stated:
                inside = [e for e in cities if (e.country, e.region) in stated]
                if inside:
                    found.append(_Found(start, end, inside, True, inside[0]))
                    return length + used
            if region is not None and (capitalised or key not in STOP_WORDS):
                found.append(_Found(start, end, [region], True, region))
                return length
            if not cities or key in STOP_WORDS or _addressed(text, start):
                continue
            biggest = cities[0].population
            if biggest >= MIN_ANY_CASE or (capitalised and not (first and length == 1)
                                           and biggest >= MIN_CAPITALISED):
                found.append(_Found(start, end, cities, False))
                return length
            if capitalised or len(key) >= CONTEXT_LETTERS:
                weak.append(_Found(start, end, cities, False))
                return length
        word = words[i][2]
        if word in STANDALONE or (word.upper() == word and word.upper() in STANDALONE and not shouting):
            regions = g.region(word)
            if regions:
                found.append(_Found(words[i][0], words[i][1], regions, True, regions[0]))
        return 1

    def _stated_region(self, text: str, words: list[tuple[int, int, str]], folded: list[str],
                       at: int) -> tuple[set, int]:
        """The states or provinces written right after a name ("Vernon BC", "Mobile, AL", "Calgary,
        Alberta"), as (country, abbreviation) pairs, and how many words they take."""
        if at >= len(words):
            return set(), 0
        between = text[words[at - 1][1]: words[at][0]]
        if _ZIP.fullmatch(between.strip()) is None:  # nothing, a comma, or a ZIP code ("Windsor, 06095 CT")
            return set(), 0
        word = words[at][2]
        if word.replace(".", "").isupper() and 2 <= len(word.replace(".", "")) <= 3:
            return {(e.country, e.region) for e in self.gazetteer.region(word)}, 1
        for length in (3, 2, 1):
            key = _joined(folded[at: at + length])
            region = self.gazetteer.region_names.get(key)
            if region is not None and words[at][2][0].isupper():
                return {(region.country, region.region)}, length
        return set(), 0


def _joined(folded_words: list[str]) -> str:
    """``fold`` of several words joined by spaces, from each word's own fold: folding works character by
    character (no decomposition or case fold crosses a space) and collapses spaces, so this is equal."""
    return " ".join(word for word in folded_words if word)


def _spaced(g: Gazetteer, squashed: str) -> str:
    """A hashtag's name as the gazetteer spells it: "portcoquitlam" -> "port coquitlam" when known."""
    if squashed in g.by_name:
        return squashed
    return g.squashed().get(squashed, squashed)


def _choose(candidates: list[Entry], regions: set[str], countries: set[str]) -> Entry:
    for wanted in (lambda e: e.region in regions, lambda e: e.country in countries):
        picked = [e for e in candidates if wanted(e)]
        if picked:
            return picked[0]
    return candidates[0]


GREETINGS = frozenset({"hi", "hey", "hello", "dear", "thanks", "thank", "sorry", "welcome", "ok", "okay"})


def _addressed(text: str, start: int) -> bool:
    """The name follows a greeting ("Hi Mary", "Thanks Linda"): a person, not a place."""
    before = text[:start].rstrip(" ,").split()
    return bool(before) and before[-1].strip(",.!").casefold() in GREETINGS


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?:;\"“(\n"


def _shouting(text: str) -> bool:
    """Most letters are capitals: capitalisation says nothing about names."""
    if text.isascii():  # the same count on bytes, where a letter is [A-Za-z] and a capital [A-Z]
        ascii_letters = text.encode("ascii").translate(None, _ASCII_NOT_LETTERS)
        capitals = len(ascii_letters.translate(None, _ASCII_LOWER))
        return len(ascii_letters) >= 8 and capitals > 0.6 * len(ascii_letters)
    letters = "".join(filter(str.isalpha, text))  # str.isalpha, str.isupper per character, without a Python call each
    return len(letters) >= 8 and sum(map(str.isupper, letters)) > 0.6 * len(letters)


_ASCII_NOT_LETTERS = bytes(b for b in range(128) if not chr(b).isalpha())
_ASCII_LOWER = bytes(b for b in range(128) if chr(b).islower())
