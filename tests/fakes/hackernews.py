"""Algolia's Hacker News ``search_by_date``: newest first, ``numericFilters=created_at_i>=``, numbered pages."""

from __future__ import annotations

import math
import re

from tests.fakes.server import FakeAPI, Reply, Request, json_reply


class FakeHackerNews(FakeAPI):
    def __init__(self) -> None:
        self.items: list[dict] = []
        self.served: set[str] = set()
        super().__init__({"GET /api/v1/search_by_date": self.search_by_date},
                         not_found=lambda _request: json_reply({"message": "not found"}, 404))

    def add(self, key: str, t: float, text: str, author: str = "someone", kind: str = "story") -> str:
        hit = {"objectID": key, "created_at_i": int(t), "author": author, "_tags": [kind, f"author_{author}"],
               "created_at": "", "points": 1}
        if kind == "comment":
            hit.update(comment_text=f"<p>{text}</p>", story_id=1, title=None)
        else:
            hit.update(title=text, url=None, story_text=None)
        self.items.append(hit)
        return key

    def search_by_date(self, request: Request) -> Reply:
        q = request.query.get("query", "").casefold()
        floor = 0
        if match := re.search(r"created_at_i>=?(\d+)", request.query.get("numericFilters", "")):
            floor = int(match[1])
        tags = set(re.findall(r"\w+", request.query.get("tags", "story,comment")))
        pool = [h for h in self.items if h["created_at_i"] >= floor and h["_tags"][0] in tags
                and q in ((h.get("title") or "") + (h.get("comment_text") or "")).casefold()]
        pool.sort(key=lambda h: -h["created_at_i"])
        per = int(request.query.get("hitsPerPage", 20))
        page = int(request.query.get("page", 0))
        hits = pool[page * per:(page + 1) * per]
        self.served.update(h["objectID"] for h in hits)
        return json_reply({"hits": hits, "nbHits": len(pool), "page": page, "hitsPerPage": per,
                           "nbPages": math.ceil(len(pool) / per)})
