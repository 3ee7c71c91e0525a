"""Atlassian Statuspage v2 (status.openai.com and most providers): ``/api/v2/incidents.json`` lists the
recent incidents with their updates, ``/api/v2/summary.json`` the unresolved ones.

The provider "said so" when it created the incident (``created_at``), which is what lead time is measured
against; ``started_at``, when present, is often backdated to when impact began, so it is kept out of it.
"""

from __future__ import annotations

from typing import Any

from detector.sources.polite import MalformedResponse
from detector.status.base import OfficialIncident, StatusSource
from detector.timeparse import parse_time


class AtlassianStatusPage(StatusSource):
    """Incidents of one Statuspage-hosted status page."""

    def incidents(self) -> list[OfficialIncident]:
        base = self.settings.url.rstrip("/")
        listed = self.client.get_json(f"{base}/api/v2/incidents.json")
        summary = self.client.get_json(f"{base}/api/v2/summary.json")
        found: dict[str, OfficialIncident] = {}
        for payload in (listed, summary):
            if not isinstance(payload, dict) or not isinstance(payload.get("incidents"), list):
                raise MalformedResponse("no incidents list in the status page's answer", base, str(payload)[:4000])
            for raw in payload["incidents"]:
                incident = self._incident(raw)
                if incident is not None:
                    found[incident.external_id] = incident  # summary.json is the fresher of the two
        return list(found.values())

    def _incident(self, raw: Any) -> OfficialIncident | None:
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("created_at"):
            return None
        try:
            created = parse_time(raw["created_at"])
            updated = parse_time(raw.get("updated_at") or raw["created_at"])
            resolved = parse_time(raw["resolved_at"]) if raw.get("resolved_at") else None
        except ValueError:
            return None
        return OfficialIncident(
            service=self.service, source=self.name, external_id=str(raw["id"]), title=str(raw.get("name") or ""),
            started_at=created, updated_at=updated, status=raw.get("status"), impact=raw.get("impact"),
            url=raw.get("shortlink"), resolved_at=resolved,
        )
