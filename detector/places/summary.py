"""People per place, and the one line an alert says about where reports come from.

Counted from ``PlaceMention`` rows (one per place and person, read by ``detector.store.facts.place_mentions``) so
the alert, the comms view and the dashboard give the same numbers for the same range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True, slots=True)
class PlaceMention:
    """A place named by one person's complaints (``posts`` of them) about a service."""

    place: str  # the label people read: "Kamloops, BC"
    name: str
    kind: str  # city | region | address
    region: str | None
    country: str | None
    lat: float | None
    lon: float | None
    person: str
    posts: int = 1


REGION_WORDS = {"CA": ("province", "provinces"), "US": ("state", "states")}


@dataclass(frozen=True, slots=True)
class PlaceCount:
    """A place with the distinct people (and complaints) that named it."""

    place: str
    name: str
    kind: str
    region: str | None
    country: str | None
    lat: float | None
    lon: float | None
    people: int
    posts: int


def count_places(mentions: Iterable[PlaceMention]) -> list[PlaceCount]:
    """Distinct people and complaints per place, most people first (then name)."""
    people: dict[str, set[str]] = {}
    posts: dict[str, int] = {}
    first: dict[str, PlaceMention] = {}
    for m in mentions:
        people.setdefault(m.place, set()).add(m.person)
        posts[m.place] = posts.get(m.place, 0) + m.posts
        first.setdefault(m.place, m)
    out = [PlaceCount(label, m.name, m.kind, m.region, m.country, m.lat, m.lon, len(people[label]), posts[label])
           for label, m in first.items()]
    return sorted(out, key=lambda c: (-c.people, c.place))


def where_line(counts: Sequence[PlaceCount], limit: int = 5) -> str | None:
    """"reports from 7 areas in 3 provinces: Kamloops (4), Vernon (2), ..." or None when no place is named.

    Every place named is an area (a town, an address, or a province named alone: "southern Alberta"), so
    the areas are never fewer than the states or provinces they lie in.
    """
    if not counts:
        return None
    regions = {(c.country, c.region) for c in counts if c.region}
    countries = {country for country, _ in regions}
    word = REGION_WORDS.get(next(iter(countries)), ("region", "regions")) if len(countries) == 1 \
        else ("state or province", "states and provinces")
    shown = ", ".join(f"{c.name if c.kind == 'city' else c.place} ({c.people})" for c in counts[:limit])
    more = f" and {len(counts) - limit} more" if len(counts) > limit else ""
    head = f"reports from {len(counts)} area{'s' if len(counts) != 1 else ''}"
    where = f" in {len(regions)} {word[0] if len(regions) == 1 else word[1]}" if regions else ""
    return f"{head}{where}: {shown}{more}"
