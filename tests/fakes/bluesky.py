"""Bluesky's ``app.bsky.feed.searchPosts``: newest first, opaque ``cursor`` pagination."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.fakes.server import FakeAPI, Reply, Request, json_reply


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


class FakeBluesky(FakeAPI):
    def __init__(self) -> None:
        self.items: list[dict] = []
        self.served: set[str] = set()
        super().__init__({r"GET /xrpc/app\.bsky\.feed\.searchPosts": self.search_posts},
                         not_found=lambda _request: json_reply({"error": "MethodNotImplemented"}, 501))

    def add(self, key: str, t: float, text: str, author: str = "someone") -> str:
        uri = f"at://did:plc:{author}/app.bsky.feed.post/{key}"
        self.items.append({
            "uri": uri, "cid": f"cid{key}", "author": {"did": f"did:plc:{author}", "handle": f"{author}.bsky.social"},
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": _iso(t), "langs": ["en"]},
            "indexedAt": _iso(t), "_t": t,
        })
        return uri

    def search_posts(self, request: Request) -> Reply:
        q = request.query.get("q", "").casefold()
        pool = sorted((i for i in self.items if q in i["record"]["text"].casefold()), key=lambda i: -i["_t"])
        start = int(request.query.get("cursor", 0))
        limit = int(request.query.get("limit", 25))
        page = pool[start:start + limit]
        self.served.update(i["uri"] for i in page)
        body = {"posts": [{k: v for k, v in i.items() if k != "_t"} for i in page], "hitsTotal": len(pool)}
        if start + limit < len(pool):
            body["cursor"] = str(start + limit)
        return json_reply(body)
