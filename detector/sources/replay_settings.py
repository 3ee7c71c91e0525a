"""Settings of the replay source, as a ``[[sources]]`` entry with ``type = "replay"``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReplaySettings(BaseModel):
    """A recorded file of posts (CSV, JSONL or Parquet) replayed through the pipeline."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["replay"] = "replay"
    name: str = Field("replay", description="Source name stored with every post.")
    path: Path = Field(description="The file to replay.")
    format: Literal["csv", "jsonl", "parquet"] | None = Field(
        None, description="File format; by default taken from the file's extension."
    )
    time_column: str = Field("created_at", description="Column with the post's time.")
    text_column: str = Field("text", description="Column with the post's text.")
    id_column: str | None = Field(None, description="Column with the post's id; default: the row number.")
    author_column: str | None = Field(None, description="Column with the author (pseudonymised on read).")
    url_column: str | None = Field(None, description="Column with a link to the post.")
    lang_column: str | None = Field(None, description="Column with the post's language code.")
    context_column: str | None = Field(
        None, description="Column with the text a reply answers (its parent post), read with the reply by the "
        "outage-report head; replies without it are judged alone.",
    )
    service: str | None = Field(
        None,
        description="Every post of this file belongs to this service (the file was collected for it); "
        "when the service has match terms, posts must also match them.",
    )
    timezone: str = Field("UTC", description="Zone of times written without an offset (IANA name).")
    speed: float | None = Field(
        None, gt=0, description="Pace the replay: 60 replays an hour of posts per minute. Default: as fast as possible."
    )
    max_text_bytes: int = Field(40_000, ge=1, description="Longer texts are quarantined as absurd.")
