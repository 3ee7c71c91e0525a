"""Which service a name typed on the command line means, so a typo is refused instead of paging anyone.

The rule, stated once: the services known are the config's and the database's (names with counted posts,
incidents or silences). A typed name that equals a known one ignoring case means that one (its stored
spelling is used). Any other name is refused with one line naming the closest known names (difflib
similarity of at least 0.6 on the case-folded names), unless the caller allows new names: `replay
--service NAME --match TERM` defines a new service, but even then a name that is one typo away from a
known one (similarity 0.8 or more) is refused, because that is how "Lumen Bnak" paged people twice.
"""

from __future__ import annotations

import difflib
from typing import Iterable

SUGGEST_CUTOFF = 0.6
TYPO_CUTOFF = 0.8


class UnknownService(ValueError):
    """A service name nobody configured or stored; the message suggests the close ones."""


def close_names(name: str, known: Iterable[str], cutoff: float = SUGGEST_CUTOFF) -> list[str]:
    """Known names that look like ``name`` (case-insensitive), the closest first."""
    by_folded = {k.casefold(): k for k in known}
    return [by_folded[m] for m in difflib.get_close_matches(name.casefold(), list(by_folded), n=3, cutoff=cutoff)]


def resolve_service(name: str, known: Iterable[str], *, allow_new: bool = False, what: str = "service") -> str:
    """The known spelling of ``name``; raise UnknownService for a name that is not known (see the module)."""
    known = sorted(set(known))
    for candidate in known:
        if candidate.casefold() == name.casefold():
            return candidate
    if allow_new:
        typo = close_names(name, known, TYPO_CUTOFF)
        if not typo:
            return name
        raise UnknownService(f"{what} {name!r} is not known but looks like {_quoted(typo)}: use that name, or a "
                             "clearly different one for a new service")
    if not known:
        return name
    close = close_names(name, known)
    hint = f"did you mean {_quoted(close)}?" if close else f"known: {_quoted(known[:10])}"
    raise UnknownService(f"unknown {what} {name!r}; {hint}")


def _quoted(names: list[str]) -> str:
    return " or ".join(repr(n) for n in names)
