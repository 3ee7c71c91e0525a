"""Which watched services a post talks about.

People write a service's name every way: "ChatGPT", "chat gpt", "Chat-GPT", "#ChatGPTdown", "@OpenAI".
A term matches case-insensitively on word boundaries, with its spaces and hyphens optional, and inside
hashtags and @mentions (where words run together). Exclusions veto only the occurrences they cover, so
"OpenAI Gym" is not OpenAI but "OpenAI Gym works, OpenAI's API is down" still is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence


def _term_pattern(term: str) -> str:
    words = [re.escape(word) for word in re.split(r"[\s\-_.]+", term.strip()) if word]
    if not words:
        raise ValueError("empty match term")
    return r"[\s\-_.]*".join(words)


def _compile(terms: Iterable[str]) -> re.Pattern[str] | None:
    bodies = sorted({_term_pattern(term) for term in terms}, key=len, reverse=True)
    if not bodies:
        return None
    alternation = "|".join(bodies)
    # A plain occurrence on word boundaries, or anywhere inside a hashtag / mention ("#IsChatGPTDown").
    return re.compile(
        rf"(?<![\w])(?:{alternation})(?![\w])|[#@]\w*?(?:{alternation})\w*",
        re.IGNORECASE,
    )


@dataclass(frozen=True)
class ServiceRule:
    """How one service is recognised in text."""

    name: str
    terms: tuple[str, ...]
    exclude: tuple[str, ...] = ()


class ServiceMatcher:
    """Finds every watched service a text mentions."""

    def __init__(self, rules: Sequence[ServiceRule]) -> None:
        self._rules = [(rule.name, _compile(rule.terms), _compile(rule.exclude)) for rule in rules]

    def services(self, text: str) -> tuple[str, ...]:
        """The names of the services ``text`` mentions, in configuration order."""
        found = []
        for name, pattern, exclusion in self._rules:
            if pattern is not None and self._mentions(text, pattern, exclusion):
                found.append(name)
        return tuple(found)

    @staticmethod
    def _mentions(text: str, pattern: re.Pattern[str], exclusion: re.Pattern[str] | None) -> bool:
        vetoed = [m.span() for m in exclusion.finditer(text)] if exclusion is not None else []
        for match in pattern.finditer(text):
            start, end = match.span()
            if not any(v_start <= start and end <= v_end for v_start, v_end in vetoed):
                return True
        return False


def no_blank_terms(terms: list[str]) -> list[str]:
    """``terms`` unchanged, or a ValueError: an empty term would match every post."""
    if any(not term.strip() for term in terms):
        raise ValueError("a term is empty; remove it")
    return terms
