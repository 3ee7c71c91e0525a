"""Alert lifecycle and routing settings, as the ``[alerts]`` table of the config file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["minor", "major", "critical"]


class ChannelSettings(BaseModel):
    """One place notifications go, and which of them it gets."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="A name for logs and the outbox; never the secret URL.")
    url: str = Field(
        description="Where to send: http(s):// generic signed webhook, slack://, pagerduty://, mailto://, "
        "teams://, cmd://, jsonl:///path, log://. Write secrets as ${ENV_NAME} or ${secret:name}."
    )
    services: list[str] = Field(default_factory=list, description="Only these services; empty means all.")
    min_severity: Severity = Field("minor", description="Only incidents at least this severe.")


class AlertSettings(BaseModel):
    """When an incident opens, escalates and resolves, and where it is announced."""

    model_config = ConfigDict(extra="forbid")

    resolve_after_minutes: float = Field(
        30, gt=0, description="Resolve once the signal stays normal this long."
    )
    cooldown_minutes: float = Field(
        60, ge=0, description="A re-fire this soon after resolving reopens the same incident."
    )
    major_ratio: float = Field(5.0, gt=1, description="Observed/expected ratio at which an incident is major.")
    critical_ratio: float = Field(20.0, gt=1, description="Observed/expected ratio at which it is critical.")
    evidence_posts: int = Field(5, ge=0, le=50, description="Representative posts kept as evidence.")
    jsonl: Path | None = Field(None, description="Append every alert event to this JSON-lines file.")
    dashboard_url: str | None = Field(None, description="Base URL of the dashboard, for links in notifications.")
    channels: list[ChannelSettings] = Field(default_factory=list)
