"""Upstream providers (clouds, CDNs, code hosts) that watched services depend on.

An upstream is watched like a service in one respect: posts that name it ("cloudflare down", "aws outage")
are matched to it, counted and judged, so its own spike of reports is known. It is never paged for by
itself: its incidents and its status page's incidents are evidence for grouping our services' incidents
into a cascade (``detector.alerting.grouping``).

The shipped defaults below are data, not behaviour: a default is used only when the config names it (in
``[[upstreams]]`` or in a service's ``depends_on``), and its status page is fetched only by
`detector run` (with ``[run] status_pages`` on) or `detector replay --status-pages`, never by tests.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detector.sources.matching import ServiceRule, no_blank_terms

# Public status pages of the big clouds and CDNs: Atlassian Statuspage bases, or RSS/Atom feeds.
DEFAULT_UPSTREAMS: dict[str, dict[str, object]] = {
    "AWS": {"status_page": "https://status.aws.amazon.com/rss/all.rss", "format": "feed",
            "match": ["aws", "amazon web services", "us-east-1", "us east 1"]},
    "Cloudflare": {"status_page": "https://www.cloudflarestatus.com", "format": "atlassian",
                   "match": ["cloudflare"]},
    "Azure": {"status_page": "https://azure.status.microsoft/en-us/status/feed/", "format": "feed",
              "match": ["azure", "azure front door"]},
    "Google Cloud": {"status_page": "https://status.cloud.google.com/en/feed.atom", "format": "feed",
                     "match": ["google cloud", "gcp"]},
    "Fastly": {"status_page": "https://www.fastlystatus.com", "format": "atlassian", "match": ["fastly"]},
    "Akamai": {"status_page": "https://www.akamaistatus.com", "format": "atlassian", "match": ["akamai"]},
    "GitHub": {"status_page": "https://www.githubstatus.com", "format": "atlassian", "match": ["github"]},
}


class UpstreamSettings(BaseModel):
    """A provider our services depend on: how posts name it and where it posts its own incidents."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="The upstream's name, e.g. 'Cloudflare' (a shipped default "
                      "name fills in the status page and match terms left out).")
    status_page: str | None = Field(None, description="Its public status page (Statuspage base URL) or feed URL.")
    format: Literal["atlassian", "feed"] | None = Field(
        None, description="Statuspage v2 JSON or RSS/Atom; default: by the URL (.rss/.atom/.xml/feed: a feed).")
    match: list[str] = Field(default_factory=list, description="Names that mean this upstream in posts.")
    exclude: list[str] = Field(default_factory=list, description="Phrases that are not this upstream.")

    @field_validator("match", "exclude")
    @classmethod
    def _no_blank_terms(cls, terms: list[str]) -> list[str]:
        return no_blank_terms(terms)

    def with_defaults(self) -> "UpstreamSettings":
        """This entry with a shipped default's status page, format and terms where it leaves them out."""
        default = DEFAULT_UPSTREAMS.get(self.name)
        if default is None:
            return self
        update: dict[str, object] = {}
        if self.status_page is None:
            update["status_page"] = default["status_page"]
            update["format"] = self.format or default["format"]
        if not self.match:
            update["match"] = list(default["match"])  # type: ignore[arg-type]
        return self.model_copy(update=update)

    @property
    def status_format(self) -> str:
        if self.format:
            return self.format
        url = (self.status_page or "").lower().rstrip("/")
        return "feed" if url.endswith((".rss", ".atom", ".xml", "/feed")) else "atlassian"

    def rule(self) -> ServiceRule:
        return ServiceRule(self.name, tuple(self.match or [self.name]), tuple(self.exclude))


def resolve_upstreams(configured: list[UpstreamSettings], referenced: set[str]) -> list[UpstreamSettings]:
    """The upstreams in force: the configured ones (defaults filled in), then every shipped default a
    service's ``depends_on`` names that is not configured."""
    out = [u.with_defaults() for u in configured]
    names = {u.name for u in out}
    for name in sorted(referenced - names):
        if name in DEFAULT_UPSTREAMS:
            out.append(UpstreamSettings(name=name).with_defaults())
    return out


def upstream_status_settings(upstreams: list[UpstreamSettings]) -> list:
    """A status source per upstream with a status page (its incidents are stored under the upstream's name)."""
    from detector.status.base import StatusPageSettings

    return [StatusPageSettings(name=f"status:{u.name}", service=u.name, url=u.status_page.rstrip("/"),
                               format=u.status_format)  # type: ignore[arg-type]
            for u in upstreams if u.status_page]
