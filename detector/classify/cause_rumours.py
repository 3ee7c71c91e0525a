"""Cause rumours: posts that explain an outage with a drastic event nobody official announced.

"Lumen Bank is shutting down, that's why the app is offline" was neither flagged as misinformation nor
matched to a claim: the keyword rule wants "shutting down for good", the learned head was trained on other
rumours, and a claim matches only posts close to its own text or examples (cosine similarity to the claim
text and its paraphrases, and closer to it than to a plain outage report), so a claims file without a
"shutting down" claim cannot match it. This rule is stated in advance, not tuned: a post is a cause rumour
when it (1) says something or someone *is / was / got* one of the drastic events below (shutting down,
closing, going bust or bankrupt, hacked, breached, sold, taken over, seized, raided, under attack, DDoSed)
and (2) ties it to the problem with a causal phrase (because, that's why, due to, caused by, the reason,
'cause, so that's). Such a post is flagged as misinformation (its head's probability is kept); whether it
matches a known claim is still the claims matcher's call. "I'm closing my account because the app is down"
is not one: the event must be asserted with is / are / was / were / been / got / getting / 's.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

from detector.records import Post, Verdict

_EVENT = re.compile(
    r"\b(is|are|was|were|been|got|getting|has|have|'s|’s)\s+(being\s+|just\s+|now\s+|officially\s+)?"
    r"(shutting down|shut down|closing( down)?|going (bust|bankrupt|under|out of business)|gone (bust|under)|"
    r"bankrupt|insolvent|hacked|breached|sold|taken over|seized|raided|under (a )?(cyber ?)?attack|ddos(ed|'d)?)\b",
    re.IGNORECASE,
)
_CAUSE = re.compile(
    r"\b(because|that'?s why|that’s why|thats why|due to|caused by|the reason|'cause|cuz|so that'?s)\b",
    re.IGNORECASE,
)


def is_cause_rumour(text: str) -> bool:
    """Whether ``text`` explains the problem with a drastic event (see the module for the rule)."""
    return bool(_EVENT.search(text or "")) and bool(_CAUSE.search(text or ""))


def flag_cause_rumours(posts: Sequence[Post], verdicts: Sequence[Verdict]) -> list[Verdict]:
    """The verdicts with every cause rumour flagged as misinformation (the rest unchanged)."""
    return [replace(v, misinformation=True) if not v.misinformation and is_cause_rumour(p.text) else v
            for p, v in zip(posts, verdicts)]
