"""A Reddit-compatible API for praw: OAuth token, subreddit /new and /comments, search; newest first,
``after`` pagination, X-Ratelimit-* headers on every answer. Items appear once their time has come
(``clock``), so a test can stream them; ``served`` records every fullname handed out."""

from __future__ import annotations

from typing import Any, Callable

from tests.fakes.server import FakeAPI, Reply, Request, json_reply


def submission(id: str, created: float, title: str, *, author: str | None = "someone", selftext: str = "",
               subreddit: str = "ChatGPT", removed_by_category: str | None = None) -> dict[str, Any]:
    return {"kind": "t3", "data": {
        "id": id, "name": f"t3_{id}", "created_utc": created, "title": title, "selftext": selftext,
        "author": author if author is not None else "[deleted]", "subreddit": subreddit,
        "permalink": f"/r/{subreddit}/comments/{id}/x/", "removed_by_category": removed_by_category,
    }}


def comment(id: str, created: float, body: str, *, author: str | None = "someone", subreddit: str = "ChatGPT") -> dict[str, Any]:
    return {"kind": "t1", "data": {
        "id": id, "name": f"t1_{id}", "created_utc": created, "body": body,
        "author": author if author is not None else "[deleted]", "subreddit": subreddit, "link_id": "t3_zz",
        "parent_id": "t3_zz", "permalink": f"/r/{subreddit}/comments/zz/x/{id}/",
    }}


class FakeReddit(FakeAPI):
    """The items, the rate-limit window the server reports, and what was served."""

    def __init__(self, items: list[dict[str, Any]] | None = None, clock: Callable[[], float] = lambda: float("inf")) -> None:
        self.items = list(items or [])
        self.clock = clock
        self.served: set[str] = set()
        self.ratelimit = {"x-ratelimit-remaining": "990", "x-ratelimit-used": "10", "x-ratelimit-reset": "300"}
        self.token_requests: list[str] = []
        super().__init__({
            "POST /api/v1/access_token.*": self.token,
            r"GET /r/(?P<subs>[^/]+)/(?P<kind>new|comments|search)/?(?:\.json)?": self.listing_page,
        }, not_found=self.not_found)

    def add(self, key: str, t: float, text: str, author: str = "someone") -> str:
        self.items.append(submission(key, t, text, author=author))
        return f"t3_{key}"

    def token(self, request: Request) -> Reply:
        self.token_requests.append(request.body.decode())
        if "authorization" not in request.headers:
            return json_reply({"error": 401}, 401)
        return json_reply({"access_token": "fake-token", "token_type": "bearer", "expires_in": 3600, "scope": "*"})

    def listing_page(self, request: Request, subs: str, kind: str) -> Reply:
        if request.headers.get("authorization") != "bearer fake-token":
            return json_reply({"error": 401}, 401)
        return json_reply(self.listing(subs, kind, request.query), 200, dict(self.ratelimit))

    def not_found(self, request: Request) -> Reply:
        if request.headers.get("authorization") != "bearer fake-token":
            return json_reply({"error": 401}, 401)
        return json_reply({"error": 404}, 404, self.ratelimit)

    def listing(self, subs: str, kind: str, query: dict[str, str]) -> dict[str, Any]:
        now = self.clock()
        wanted = {s.casefold() for s in subs.split("+")}
        if kind == "search":
            terms = query.get("q", "").casefold().split()
            pool = [i for i in self.items if i["kind"] == "t3"
                    and all(t in i["data"]["title"].casefold() + " " + i["data"]["selftext"].casefold() for t in terms)]
        else:
            pool = [i for i in self.items if i["kind"] == ("t3" if kind == "new" else "t1")
                    and ("all" in wanted or i["data"]["subreddit"].casefold() in wanted)]
        pool = sorted((i for i in pool if i["data"]["created_utc"] <= now),
                      key=lambda i: i["data"]["created_utc"], reverse=True)
        after = query.get("after")
        if after:
            names = [i["data"]["name"] for i in pool]
            pool = pool[names.index(after) + 1:] if after in names else []
        limit = min(int(query.get("limit", 25)), 100)
        page = pool[:limit]
        self.served.update(i["data"]["name"] for i in page)
        return {"kind": "Listing", "data": {
            "after": page[-1]["data"]["name"] if len(pool) > limit else None, "before": None,
            "dist": len(page), "children": page,
        }}
