"""A Mastodon instance: ``/api/v1/timelines/tag/:tag`` (``max_id`` paging, newest first) and
``/api/v2/search`` (statuses, needs a bearer token)."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.fakes.server import FakeAPI, Reply, Request, json_reply

TOKEN = "mastodon-token-value"


class FakeMastodon(FakeAPI):
    def __init__(self) -> None:
        self.items: list[dict] = []
        self.served: set[str] = set()
        self._next = 100
        super().__init__({"GET /api/v1/timelines/tag/(?P<tag>[^/]+)": self.tag_timeline,
                          "GET /api/v2/search": self.search},
                         not_found=lambda _request: json_reply({"error": "Record not found"}, 404))

    def add(self, key: str, t: float, text: str, author: str = "someone", tags: tuple[str, ...] = ("chatgpt",)) -> str:
        self._next += 1
        uri = f"https://example.social/users/{author}/statuses/{key}"
        self.items.append({
            "id": str(self._next), "uri": uri, "url": uri, "language": "en", "reblog": None, "spoiler_text": "",
            "created_at": datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z"),
            "content": f"<p>{text} " + " ".join(f'<a href="#">#<span>{tag}</span></a>' for tag in tags) + "</p>",
            "account": {"acct": author, "username": author}, "tags": [{"name": tag} for tag in tags], "_t": t,
        })
        return uri

    def tag_timeline(self, request: Request, tag: str) -> Reply:
        limit = int(request.query.get("limit", 20))
        pool = [i for i in self.items if tag.casefold() in {t["name"] for t in i["tags"]}]
        pool.sort(key=lambda i: -int(i["id"]))
        if "max_id" in request.query:
            pool = [i for i in pool if int(i["id"]) < int(request.query["max_id"])]
        return self._page(pool[:limit])

    def search(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return json_reply({"error": "The access token is invalid"}, 401)
        limit = int(request.query.get("limit", 20))
        q = request.query.get("q", "").casefold()
        pool = sorted((i for i in self.items if q in i["content"].casefold()), key=lambda i: -int(i["id"]))
        offset = int(request.query.get("offset", 0))
        page = self._page(pool[offset:offset + limit])
        page.body = {"accounts": [], "hashtags": [], "statuses": page.body}
        return page

    def _page(self, items: list[dict]) -> Reply:
        self.served.update(i["uri"] for i in items)
        return json_reply([{k: v for k, v in i.items() if k != "_t"} for i in items])
