"""An Atlassian Statuspage v2 (``/api/v2/incidents.json``, ``/api/v2/summary.json``) and its
``history.rss`` feed, serving hand-made incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.fakes.server import FakeAPI, Reply, Request, json_reply


def incident(id: str, name: str, created: datetime, *, resolved: datetime | None = None,
             impact: str = "major") -> dict[str, Any]:
    iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    return {
        "id": id, "name": name, "status": "resolved" if resolved else "investigating", "impact": impact,
        "created_at": iso(created), "updated_at": iso(resolved or created), "started_at": iso(created),
        "resolved_at": iso(resolved) if resolved else None, "shortlink": f"https://stspg.io/{id}",
        "incident_updates": [],
    }


class FakeStatusPage(FakeAPI):
    def __init__(self, incidents: list[dict[str, Any]] | None = None) -> None:
        self.incidents = list(incidents or [])
        super().__init__({
            r"GET /api/v2/incidents\.json": self.incidents_page,
            r"GET /api/v2/summary\.json": self.summary,
            r"GET /history\.rss": self.history,
        })

    def _page(self) -> dict[str, Any]:
        return {"id": "p1", "name": "Example", "url": self.url}

    def incidents_page(self, request: Request) -> Reply:
        return json_reply({"page": self._page(), "incidents": self.incidents})

    def summary(self, request: Request) -> Reply:
        open_ = [i for i in self.incidents if i["status"] != "resolved"]
        return json_reply({"page": self._page(), "components": [], "incidents": open_,
                           "status": {"indicator": "major" if open_ else "none"}})

    def history(self, request: Request) -> Reply:
        return Reply(200, self.rss(), {"Content-Type": "application/rss+xml"})

    def rss(self) -> str:
        from email.utils import format_datetime

        from detector.timeparse import parse_time

        items = []
        for i in self.incidents:
            state = "Resolved" if i["resolved_at"] else "Investigating"
            when = format_datetime(parse_time(i["created_at"]))
            items.append(f"<item><title>{i['name']}</title><guid>{i['shortlink']}</guid><link>{i['shortlink']}</link>"
                         f"<pubDate>{when}</pubDate><description>&lt;b&gt;{state}&lt;/b&gt; - update</description></item>")
        return ("<?xml version='1.0'?><rss version='2.0'><channel><title>Status</title>"
                + "".join(items) + "</channel></rss>")
