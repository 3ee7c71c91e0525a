"""Symptoms per service: what part of a service a complaint says is broken, in that service's own words.

A web app's users report logins and errors, an ISP's report internet, TV and phone, a bank's cards and
transfers (Downdetector's "most reported problems" are per service for this reason). So each service has
a list of symptoms, each with a short description (``internet = "no internet, modem offline, DNS not
resolving"``): its own from the config, or the default list of its ``kind``.

A complaint gets the symptom whose description is most similar to it: the cosine similarity of the post's
sentence embedding (the classifier's, already computed) to each comma-separated phrase of each
description, the best phrase counting for its symptom. ``other`` is a pseudo-symptom whose similarity is
the fixed level ``OTHER_SIMILARITY``: a post gets ``other`` only when no description comes that close.
Where labelled examples exist (the trained ``symptom`` head, whose classes are the web_app list), the
head's probabilities and the similarity's are averaged, so the labels refine the descriptions but a
service's own list still decides which symptoms exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

OTHER = "other"

# The similarity an "other" pseudo-description is given: a post gets "other" when no phrase of its list comes
# this close. MiniLM cosine similarities of a tweet to a short phrase naming its topic are mostly 0.35-0.6,
# to unrelated phrases 0-0.25. Swept over 0.20-0.45 (`python bench/symptoms.py --sweep`):
# 0.35 is the level at which both kinds measured (web_app labels, isp labels) are within two points of
# their own best accuracy; one level for every kind, not one per file.
OTHER_SIMILARITY = 0.35
# Added to a symptom's similarity when the post uses one of its own words: a word of its name or
# description that no other symptom of the list uses ("tv", "wifi", "landline"; not "down" or "working").
# The sentence embedding of a short complaint is dominated by its being a complaint ("outage", "down"), so
# the one word that says which part is broken moves it too little on its own.
WORD_BONUS = 0.1
STOP_WORDS = frozenset(
    "a all an and are at be can can't cannot don't down for from get home in is it its keeps make missing my "
    "no not of on only or out problem the to too up very was wo won't work working with".split()
)
# Softmax temperature turning similarities into probabilities that can be averaged with a head's.
TEMPERATURE = 0.05

# Default symptoms per kind of service. web_app is the list the symptom head was trained on.
SYMPTOM_KINDS: dict[str, dict[str, str]] = {
    "web_app": {
        "login": "can't log in, signed out, password or two-factor code not accepted, account locked",
        "errors": "error message, something went wrong, 500 error, crashes",
        "slow": "slow, lagging, timing out, takes forever to load",
        "app": "the mobile app is not working, iPhone or Android app crashes",
        "web": "the website won't load, page not loading in the browser",
        "api": "API requests failing, rate limit errors, SDK or endpoint down",
        "payments": "payment failed, card declined, can't pay or subscribe, charged twice",
        "data_loss": "my data is gone, chat history missing, files deleted",
    },
    "isp": {
        "total_outage": "everything is down in my area, no service at all, all services out, total blackout",
        "internet": "no internet, internet down, modem offline, can't get online, no connection, DNS not resolving",
        "slow": "slow speeds, lag, packet loss, connection keeps dropping, intermittent",
        "wifi": "wifi not working, router problem, wireless network down, hotspot",
        "tv": "cable TV out, channels missing, no picture, cable box, DVR, can't watch the game",
        "phone": "home phone out, landline, no dial tone, voice service down",
        "email": "email not working, can't receive email, webmail down",
        "account": "can't sign in to my account, website not working, My Account app not working",
    },
    "bank": {
        "login": "can't log in to online banking, password or code rejected",
        "app": "banking app not working, app crashes",
        "cards": "card declined, debit or credit card not working, contactless payment failed",
        "transfers": "transfer failed, payment not received, direct deposit missing, Zelle or wire stuck",
        "balance": "wrong balance, transactions missing, account shows zero",
        "atm": "ATM not working, can't withdraw cash",
        "web": "online banking website down, page won't load",
    },
    "game": {
        "servers": "servers down, can't connect to the game server, disconnected",
        "login": "can't log in, sign-in or account error, authentication failed",
        "matchmaking": "matchmaking not working, can't find a match, stuck in queue or lobby",
        "lag": "lag, high ping, rubber banding, packet loss",
        "store": "store or purchases not working, can't buy, items or currency missing",
        "updates": "update or download failing, patch stuck, game won't launch",
        "voice_chat": "voice chat or party chat not working",
    },
    "airline": {
        "check_in": "can't check in online, boarding pass not issued",
        "booking": "can't book or change a flight, reservation missing",
        "app": "airline app not working, app crashes",
        "web": "airline website down, page won't load",
        "flights": "flights delayed or cancelled, ground stop, system outage grounding planes",
        "baggage": "lost baggage, bags missing",
    },
    "mobile": {
        "no_signal": "no signal, no service on my phone, SOS only, no bars",
        "data": "mobile data not working, no 4G or 5G, can't get online on my phone",
        "calls": "can't make or receive calls, calls dropping",
        "texts": "texts not sending, SMS or iMessage not delivered",
        "voicemail": "voicemail not working",
        "account": "can't log in to my account, app or website down",
    },
    "streaming": {
        "playback": "video won't play, playback error, stuck on loading",
        "buffering": "buffering, low quality, stream keeps stopping",
        "login": "can't log in, signed out, profile or password problem",
        "app": "app not working on the TV, phone or console, app crashes",
        "web": "website won't load in the browser",
        "audio": "no sound, audio out of sync",
    },
}
KINDS = tuple(SYMPTOM_KINDS)
DEFAULT_KIND = "web_app"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def check_symptoms(symptoms: Mapping[str, str]) -> dict[str, str]:
    """A service's own symptom list, validated; raises ValueError saying what to fix."""
    if not symptoms:
        raise ValueError("the symptom list is empty; list at least one, or leave symptoms out to use the kind's")
    for name, description in symptoms.items():
        if not NAME.match(name):
            raise ValueError(f"symptom name {name!r} is not a short lower-case name; use letters, digits and _ "
                             "(at most 32), e.g. internet or data_loss")
        if name == OTHER:
            raise ValueError("'other' is given to complaints no description fits; remove it from the list")
        if not isinstance(description, str) or not description.strip():
            raise ValueError(f"symptom {name!r} has no description; describe it in a few comma-separated "
                             "phrases, e.g. \"no internet, modem offline\"")
    return dict(symptoms)


@dataclass(frozen=True)
class SymptomSet:
    """One service's symptoms: names and their descriptions (comma-separated phrases)."""

    symptoms: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, kind: str = DEFAULT_KIND, symptoms: Mapping[str, str] | None = None) -> "SymptomSet":
        """The service's own list when given, else its kind's default list."""
        if kind not in SYMPTOM_KINDS:
            raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        chosen = check_symptoms(symptoms) if symptoms else SYMPTOM_KINDS[kind]
        return cls(tuple(chosen.items()))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.symptoms)

    def words(self) -> dict[str, frozenset[str]]:
        """Per symptom, the words of its name and description that no other symptom of the set uses."""
        own = {name: set(text_words(name.replace("_", " ") + " " + description)) - STOP_WORDS
               for name, description in self.symptoms}
        return {name: frozenset(w for w in mine if not any(w in theirs for other, theirs in own.items()
                                                             if other != name)) for name, mine in own.items()}

    def phrases(self) -> list[tuple[str, str]]:
        """(symptom, phrase) pairs: each comma- or semicolon-separated phrase of the descriptions (the
        description says what the symptom is; its name is only an identifier)."""
        out = []
        for name, description in self.symptoms:
            out += [(name, part.strip()) for part in re.split(r"[,;]", description) if part.strip()]
        return out


class SymptomMatcher:
    """Assigns symptoms to complaint embeddings by similarity to each service's descriptions.

    ``encode`` turns phrases into unit vectors (the classifier's encoder, so phrase and post live in the
    same space; its cache makes each phrase one encoding per process).
    """

    def __init__(self, encode, sets: Mapping[str, SymptomSet] | None = None,
                 default: SymptomSet | None = None) -> None:
        self.encode = encode
        self.sets = dict(sets or {})
        self.default = default or SymptomSet.of(DEFAULT_KIND)
        self._phrases: dict[SymptomSet, tuple[np.ndarray, np.ndarray]] = {}
        self._words: dict[SymptomSet, dict[str, frozenset[str]]] = {}

    def set_for(self, services: Sequence[str]) -> SymptomSet:
        """The symptom list of a post's first watched service that has one, else the default (web_app)."""
        return next((self.sets[s] for s in services if s in self.sets), self.default)

    def _vectors(self, symptom_set: SymptomSet) -> tuple[np.ndarray, np.ndarray]:
        cached = self._phrases.get(symptom_set)
        if cached is None:
            pairs = symptom_set.phrases()
            owner = np.array([symptom_set.names.index(name) for name, _ in pairs])
            cached = self._phrases[symptom_set] = (np.asarray(self.encode([p for _, p in pairs])), owner)
        return cached

    def similarities(self, vectors: np.ndarray, symptom_set: SymptomSet) -> np.ndarray:
        """Per row, per symptom of the set: the best cosine similarity of one of its phrases."""
        phrases, owner = self._vectors(symptom_set)
        sims = np.asarray(vectors) @ phrases.T
        out = np.full((len(vectors), len(symptom_set.names)), -1.0)
        for j in range(len(symptom_set.names)):
            out[:, j] = sims[:, owner == j].max(axis=1)
        return out

    def scores(self, vectors: np.ndarray, texts: Sequence[str], symptom_set: SymptomSet) -> np.ndarray:
        """Similarities plus ``WORD_BONUS`` where the text uses one of a symptom's own words."""
        out = self.similarities(vectors, symptom_set)
        own = self._words.get(symptom_set)
        if own is None:
            own = self._words[symptom_set] = symptom_set.words()
        for row, text in enumerate(texts):
            present = set(text_words(text))
            for j, name in enumerate(symptom_set.names):
                if present & own[name]:
                    out[row, j] += WORD_BONUS
        return out

    def assign(self, vectors: np.ndarray, texts: Sequence[str], services: Sequence[Sequence[str]],
               head_proba: np.ndarray | None = None, head_classes: Sequence[str] = ()) -> list[tuple[str, float]]:
        """(symptom, probability) per row. ``head_proba``: a trained head's probabilities over
        ``head_classes``, used for the rows whose symptom list is within those classes."""
        out: list[tuple[str, float]] = [(OTHER, 0.0)] * len(vectors)
        groups: dict[SymptomSet, list[int]] = {}
        for row, names in enumerate(services):
            groups.setdefault(self.set_for(names), []).append(row)
        for symptom_set, rows in groups.items():
            labels = [*symptom_set.names, OTHER]
            proba = similarity_proba(self.scores(vectors[rows], [texts[r] for r in rows], symptom_set))
            if head_proba is not None and set(labels) <= set(head_classes):
                order = [list(head_classes).index(label) for label in labels]
                proba = (proba + head_proba[rows][:, order]) / 2
            best = np.argmax(proba, axis=1)
            for k, row in enumerate(rows):
                out[row] = (labels[best[k]], round(float(proba[k, best[k]]), 4))
        return out


def similarity_proba(similarities: np.ndarray) -> np.ndarray:
    """Probabilities over the set's symptoms and then ``other`` (the last column): a softmax of the
    similarities beside ``OTHER_SIMILARITY``, so ``other`` wins exactly when nothing reaches that level."""
    logits = np.hstack([similarities, np.full((len(similarities), 1), OTHER_SIMILARITY)]) / TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def text_words(text: str) -> list[str]:
    """The lower-case words of a text (apostrophes kept: "can't")."""
    return re.findall(r"[a-z0-9']+", text.casefold().replace("’", "'"))
