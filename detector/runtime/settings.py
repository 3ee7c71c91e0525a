"""The ``[run]`` table: how `detector run` serves its metrics and treats time."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RunSettings(BaseModel):
    """Settings of the long-running service (`detector run`)."""

    model_config = ConfigDict(extra="forbid")

    port: int | None = Field(None, ge=0, le=65535, description="Serve /healthz and /metrics on this port (none: off).")
    host: str = Field("127.0.0.1", description="Address the metrics server listens on.")
    allowed_lateness_seconds: float = Field(
        120.0, ge=0,
        description="Minutes are closed this long after they end, so posts an API indexes late still count live.",
    )
    tick_seconds: float = Field(5.0, gt=0, description="Longest sleep of the scheduler between checks.")
    fetch_threads: int = Field(
        4, ge=1,
        description="Sources fetched at once, each on its own thread, so a slow or hanging API does not hold "
        "up the others; the store is still written by one thread, in order.",
    )
    error_wait_seconds: float = Field(60.0, gt=0, description="Wait after a source failed unexpectedly.")
    stale_after_seconds: float = Field(300.0, gt=0, description="/healthz fails when the loop has not run this long.")
    status_pages: bool = Field(
        True, description="Poll every service's status_page (Statuspage v2, or a feed URL ending .rss/.atom/.xml).",
    )
