"""Bus settings, as the ``[bus]`` table of the config file: where Redis is and how much may be in flight."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BusSettings(BaseModel):
    """How the worker processes talk: a Redis URL, stream bounds, claim and lease timing."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Redis URL, e.g. redis://127.0.0.1:6379/0. Write a password as ${REDIS_PASSWORD}.")
    namespace: str = Field(
        "detector", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Prefix of every Redis key, so several deployments can share one Redis.",
    )
    max_in_flight: int = Field(
        20_000, ge=10,
        description="Backpressure: ingest waits while this many posts are published but not yet aggregated.",
    )
    stream_maxlen: int = Field(
        100_000, ge=100,
        description="Approximate length bound of each stream (MAXLEN ~); must exceed twice max_in_flight so "
        "only processed messages are ever trimmed.",
    )
    claim_idle_seconds: float = Field(
        30.0, gt=0,
        description="A message a worker has held unacknowledged this long is claimed by another (XAUTOCLAIM): "
        "longer than the slowest batch, short enough to bound the delay a killed worker causes.",
    )
    lease_seconds: float = Field(
        15.0, gt=0,
        description="The aggregate and alert roles have one active worker each; a silent one loses its lease "
        "after this long and a standby takes over.",
    )
    batch_size: int = Field(256, ge=1, le=10_000, description="Messages a worker reads at once.")
    dedup_ttl_seconds: int = Field(
        86_400, ge=60,
        description="How long ingest remembers a post key in Redis so a re-read batch is not published twice "
        "(older re-reads are caught by the database).",
    )

    @model_validator(mode="after")
    def _bounds_hold_the_flight(self) -> "BusSettings":
        if self.stream_maxlen < 2 * self.max_in_flight:
            raise ValueError(
                f"stream_maxlen ({self.stream_maxlen}) must be at least twice max_in_flight ({self.max_in_flight}); "
                "raise stream_maxlen or lower max_in_flight"
            )
        return self
