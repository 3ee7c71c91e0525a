"""What the posts of a range say, counted one way for the dashboard's service page and the incident report:
symptoms (of the reports the detector's metric counts), claims (with first sighting and recent pace),
languages and sources.

Over ``limit`` posts (known from the buckets, for free) the counts are estimated from every k-th 10-minute
slice of the range (``detector.store.posts.slices``), scaled up; ``Facets.sampled`` says how much was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from detector.records import DEFAULT_METRIC, report_field
from detector.store.posts import FACET_LIMIT, facet_rows, slices
from detector.store.store import Store


@dataclass(frozen=True)
class Facets:
    """What the posts of a range say: symptoms, claims, languages and sources, with their counts.

    ``posts`` is the range's post count (estimated when sampled); ``sampled`` is the share of posts
    actually read (1.0: all).
    """

    symptoms: pd.DataFrame
    claims: pd.DataFrame
    languages: pd.DataFrame
    sources: pd.DataFrame
    posts: int
    sampled: float


def facets(store: Store, service: str, since: datetime, until: datetime, limit: int | None = FACET_LIMIT,
           velocity_window: timedelta = timedelta(hours=1), metric: str = DEFAULT_METRIC) -> Facets:
    """Symptoms (of the reports ``metric`` counts: ``detector.records.report_field``), misinformation claims
    (counts, first sighting, posts per hour lately), languages and sources of one service's posts in
    [since, until), in one pass over the posts (see ``Facets``)."""
    parts, total = slices(store, service, since, until, limit)
    rows = facet_rows(store, service, parts, until - velocity_window, until - 2 * velocity_window)
    read = float(rows["posts"].sum())
    scale = total / read if total and read and len(parts) > 1 else 1.0
    for column in ("posts", "recent", "before"):
        rows[column] = rows[column].astype(float) * scale
    for column in ("first_seen", "last_seen"):
        rows[column] = pd.to_datetime(rows[column], utc=True)
    rows["lang"] = rows["lang"].fillna("unknown")

    def counts(frame: pd.DataFrame, key: str) -> pd.DataFrame:
        out = frame.groupby(key, as_index=False)["posts"].sum().sort_values(["posts", key], ascending=[False, True])
        out["posts"] = out["posts"].round().astype(int)
        return out.reset_index(drop=True)

    reports = rows[rows[report_field(metric)] == 1].assign(symptom=lambda f: f["symptom"].fillna("unspecified"))
    symptoms = counts(reports, "symptom")
    symptoms["share"] = symptoms["posts"] / symptoms["posts"].sum() if len(symptoms) else []
    rumours = rows[rows["claim"].notna()]
    claims = rumours.groupby("claim", as_index=False).agg(
        posts=("posts", "sum"), first_seen=("first_seen", "min"), last_seen=("last_seen", "max"),
        recent=("recent", "sum"), before=("before", "sum"))
    hours = velocity_window / timedelta(hours=1)
    claims["per_hour"] = claims["recent"] / hours
    claims["trend"] = (claims["recent"] - claims["before"]).round().astype(int)
    claims["posts"] = claims["posts"].round().astype(int)
    claims = claims.sort_values(["posts", "claim"], ascending=[False, True]).drop(columns=["recent", "before"])
    return Facets(symptoms=symptoms, claims=claims.reset_index(drop=True), languages=counts(rows, "lang"),
                  sources=counts(rows, "source"), posts=int(round(rows["posts"].sum())),
                  sampled=1.0 / scale)
