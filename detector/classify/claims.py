"""The claims registry: known claims about a service, and which posts repeat them.

Comms teams keep a TOML file of claims that circulate ("OpenAI was hacked"), each with a verdict and a
reference to the answer they give. A post whose embedding is close enough to a claim (or to one of the
claim's example wordings) carries the claim id and the similarity in its verdict, so the dashboard can say
"41 posts in the last hour repeat the false claim X".

Similarity alone is not enough: MiniLM puts "is chatgpt down?" close to "ChatGPT is shutting down" because
both are about ChatGPT being down. A post must also be closer to the claim, by ``min_margin``, than to a
plain outage report about the same service ("chatgpt is down", "is chatgpt down?", ...).

    threshold = 0.62            # optional, cosine similarity to the claim
    min_margin = 0.05           # optional, how much closer to the claim than to a plain outage report

    [[claim]]
    id = "openai-hacked"
    text = "OpenAI was hacked"
    verdict = "false"           # false | true | unverified
    reference = "https://status.openai.com/"
    service = "chatgpt"         # optional: only posts about this service can match
    examples = ["hackers breached openai", "chatgpt is down because they got hacked"]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

VERDICTS = ("false", "true", "unverified")
DEFAULT_THRESHOLD = 0.62
DEFAULT_MARGIN = 0.05
# Plain reports a claim must beat; {service} is the claim's service, or "it".
PLAIN_REPORTS = (
    "{service} is down", "is {service} down?", "{service} is not working for me", "{service} outage in my area",
    "{service} is back up now", "{service} keeps giving me errors",
)


class ClaimsFileError(ValueError):
    """The claims file is not valid; the message says where."""


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    verdict: str
    reference: str | None = None
    service: str | None = None
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimMatch:
    claim: Claim
    similarity: float


def load_claims(path: Path | str) -> tuple[list[Claim], float, float]:
    """Read and validate a claims TOML file; return the claims, the threshold and the margin."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ClaimsFileError(f"{path}: {error}") from error
    threshold = data.get("threshold", DEFAULT_THRESHOLD)
    if not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ClaimsFileError(f"{path}: threshold must be a number between 0 and 1, got {threshold!r}")
    margin = data.get("min_margin", DEFAULT_MARGIN)
    if not isinstance(margin, (int, float)) or not -1 < margin < 1:
        raise ClaimsFileError(f"{path}: min_margin must be a number between -1 and 1, got {margin!r}")
    unknown_top = set(data) - {"threshold", "min_margin", "claim"}
    if unknown_top:
        raise ClaimsFileError(f"{path}: unknown keys {sorted(unknown_top)}")
    claims: list[Claim] = []
    seen: set[str] = set()
    for n, entry in enumerate(data.get("claim", []), 1):
        where = f"{path}: claim #{n}"
        for key in ("id", "text", "verdict"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ClaimsFileError(f"{where}: '{key}' is required and must be text")
        if entry["id"] in seen:
            raise ClaimsFileError(f"{where}: duplicate id {entry['id']!r}")
        if entry["verdict"] not in VERDICTS:
            raise ClaimsFileError(f"{where}: verdict must be one of {', '.join(VERDICTS)}, got {entry['verdict']!r}")
        unknown = set(entry) - {"id", "text", "verdict", "reference", "service", "examples"}
        if unknown:
            raise ClaimsFileError(f"{where}: unknown keys {sorted(unknown)}")
        examples = entry.get("examples", [])
        if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
            raise ClaimsFileError(f"{where}: 'examples' must be a list of texts")
        seen.add(entry["id"])
        claims.append(Claim(
            id=entry["id"], text=entry["text"], verdict=entry["verdict"], reference=entry.get("reference"),
            service=entry.get("service"), examples=tuple(examples),
        ))
    return claims, float(threshold), float(margin)


class ClaimsMatcher:
    """Finds, for each post vector, the closest known claim above the threshold."""

    def __init__(
        self, claims: Sequence[Claim], encoder, threshold: float = DEFAULT_THRESHOLD,
        min_margin: float = DEFAULT_MARGIN,
    ) -> None:
        from detector.classify.normalise import normalise_text

        self.claims = list(claims)
        self.threshold = threshold
        self.min_margin = min_margin
        wordings: list[str] = []
        self._owner: list[int] = []
        for index, claim in enumerate(self.claims):
            for wording in (claim.text, *claim.examples):
                wordings.append(normalise_text(wording))
                self._owner.append(index)
        self._owner_array = np.array(self._owner, dtype=int)
        self._vectors = encoder.encode(wordings) if wordings else np.zeros((0, 1), dtype=np.float32)
        services = sorted({claim.service or "it" for claim in self.claims})
        plain = [normalise_text(t.format(service=s)) for s in services for t in PLAIN_REPORTS]
        self._plain = encoder.encode(plain) if plain else np.zeros((0, 1), dtype=np.float32)

    @classmethod
    def from_file(cls, path: Path | str, encoder) -> "ClaimsMatcher":
        claims, threshold, margin = load_claims(path)
        return cls(claims, encoder, threshold, margin)

    def match(
        self, vectors: np.ndarray, services: Sequence[Sequence[str]] | None = None
    ) -> list[ClaimMatch | None]:
        """The best claim per vector, or None; a claim tied to a service only matches posts about it."""
        if not self.claims or len(vectors) == 0:
            return [None] * len(vectors)
        similarity = vectors @ self._vectors.T  # unit vectors: cosine similarity
        plain = (vectors @ self._plain.T).max(axis=1)
        per_claim = np.full((len(vectors), len(self.claims)), -1.0, dtype=np.float32)
        for index in range(len(self.claims)):
            per_claim[:, index] = similarity[:, self._owner_array == index].max(axis=1)
        results: list[ClaimMatch | None] = []
        for row, scores in enumerate(per_claim):
            allowed = services[row] if services is not None else ()
            best: ClaimMatch | None = None
            for index in np.argsort(-scores):
                if scores[index] < self.threshold or scores[index] - plain[row] < self.min_margin:
                    break
                claim = self.claims[index]
                if claim.service and allowed and claim.service.lower() not in {s.lower() for s in allowed}:
                    continue
                best = ClaimMatch(claim, round(float(scores[index]), 4))
                break
            results.append(best)
        return results
