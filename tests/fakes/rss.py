"""An RSS 2.0 feed listing its latest ``window`` entries, newest first, as feeds do."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timezone
from xml.sax.saxutils import escape

from tests.fakes.server import FakeAPI, Reply, Request


class FakeFeed(FakeAPI):
    def __init__(self, window: int = 50) -> None:
        self.items: list[dict] = []
        self.window = window
        self.served: set[str] = set()
        super().__init__({r"GET /feed\.xml": self.feed})

    def add(self, key: str, t: float, text: str, author: str = "someone", dated: bool = True) -> str:
        guid = f"https://forum.example/t/{key}"
        self.items.append({"guid": guid, "t": t, "text": text, "author": author, "dated": dated})
        return guid

    def feed(self, request: Request) -> Reply:
        latest = sorted(self.items, key=lambda i: -i["t"])[: self.window]
        self.served.update(i["guid"] for i in latest)
        body = "".join(
            f"<item><title>{escape(i['text'])}</title><link>{i['guid']}</link><guid>{i['guid']}</guid>"
            f"<author>{i['author']}@forum.example</author>"
            + (f"<pubDate>{format_datetime(datetime.fromtimestamp(i['t'], timezone.utc))}</pubDate>" if i["dated"] else "")
            + "<description>&lt;p&gt;details&lt;/p&gt;</description></item>"
            for i in latest
        )
        return Reply(200, f"<?xml version='1.0'?><rss version='2.0'><channel><title>Forum</title>{body}</channel></rss>",
                     {"Content-Type": "application/rss+xml"})
