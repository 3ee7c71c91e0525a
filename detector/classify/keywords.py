"""The transparent keyword classifier: the baseline every learned model must beat.

It is deliberately simple and readable so an analyst can tell exactly why a post was called a complaint;
the trained model replaces it as the default, and model cards compare against it on the same test split.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from detector.classify.base import Classifier
from detector.classify.symptoms import DEFAULT_KIND, OTHER, SymptomSet, text_words
from detector.records import Post, Verdict

_COMPLAINT = re.compile(
    r"\b(down|outage|outages|not working|isn'?t working|doesn'?t work|won'?t (load|work|connect)|"
    r"can'?t (log ?in|sign ?in|connect|access|load|get)|cannot (log ?in|connect|access)|broken|"
    r"no (internet|service|connection|signal)|offline|error|errors|crash(ed|ing)?|not loading|"
    r"keeps? (crashing|dropping|disconnecting)|disconnect(ed|ing|s)?|is it (just )?me|anyone else|"
    r"(are|is) .{0,20} down|server(s)? (issue|problem)s?|timed? ?out|timeout|502|503|504|500 error)\b",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(r"\b(back up|working again|fixed|restored|resolved|is back)\b", re.IGNORECASE)
_RUMOUR = re.compile(
    r"\b(hack(ed|ers)?|breach(ed)?|leak(ed)?|shut(ting)? down (for good|forever|permanently)|"
    r"going away|ddos(ed)?|cyber ?attack|conspiracy|rumou?r|they are (deleting|selling)|"
    r"sabotage|insider says|i heard)\b",
    re.IGNORECASE,
)
_SYMPTOMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("login", re.compile(r"\b(log ?in|sign ?in|logged out|password|2fa|auth\w*|account)\b", re.I)),
    ("payments", re.compile(r"\b(pay(ment)?s?|billing|charged|card|subscription|refund)\b", re.I)),
    ("data_loss", re.compile(r"\b(history (is )?gone|lost (my|all)|deleted|missing (chats?|data|files))\b", re.I)),
    ("slow", re.compile(r"\b(slow|lag+(y|ing)?|timed? ?out|timeout|takes forever|loading forever)\b", re.I)),
    ("api", re.compile(r"\b(api|endpoint|rate limit|sdk)\b", re.I)),
    ("app", re.compile(r"\b(app|ios|android|iphone|mobile)\b", re.I)),
    ("errors", re.compile(r"\b(error|errors|5\d\d|something went wrong|crash\w*)\b", re.I)),
    ("web", re.compile(r"\b(website|site|browser|web|page)\b", re.I)),
)


class KeywordClassifier(Classifier):
    """Calls a post a complaint when it uses outage words and does not say the service is back.

    Symptoms: the web_app patterns below for services of that list; for a service with another list,
    the first symptom one of whose own words (``SymptomSet.words``) the post uses, else ``other``.
    """

    name = "keywords"

    def __init__(self, symptom_sets: Mapping[str, SymptomSet] | None = None) -> None:
        web_app = SymptomSet.of(DEFAULT_KIND)
        self.symptom_sets = {name: s for name, s in (symptom_sets or {}).items() if s != web_app}
        self._words = {s: s.words() for s in self.symptom_sets.values()}

    def classify(self, posts: Sequence[Post]) -> list[Verdict]:
        return [self._one(post) for post in posts]

    def _one(self, post: Post) -> Verdict:
        text = post.text or ""
        complaint = bool(_COMPLAINT.search(text)) and not _NEGATIVE.search(text)
        rumour = bool(_RUMOUR.search(text))
        symptom = None
        if complaint:
            symptom = self._symptom(text, post.services)
        return Verdict(
            source=post.source,
            source_id=post.source_id,
            complaint=complaint,
            complaint_p=1.0 if complaint else 0.0,
            outage_report=complaint,  # the rule has no notion of billing or support: its complaint is its report
            outage_report_p=1.0 if complaint else 0.0,
            misinformation=rumour,
            misinformation_p=1.0 if rumour else 0.0,
            symptom=symptom,
            symptom_p=1.0 if symptom else None,
            lang=post.lang,
            confidence=0.5 if text.strip() else 0.0,
            model=self.name,
        )

    def _symptom(self, text: str, services: Sequence[str]) -> str:
        own = next((self.symptom_sets[s] for s in services if s in self.symptom_sets), None)
        if own is None:
            return next((name for name, pattern in _SYMPTOMS if pattern.search(text)), OTHER)
        present = set(text_words(text))
        return next((name for name, words in self._words[own].items() if present & words), OTHER)
