"""Alert lifecycle, routing and delivery settings, as the ``[alerts]`` table of the config file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from detector.alerting.cascade_settings import CascadeSettings, InhibitSettings

Severity = Literal["minor", "major", "critical"]


class ChannelSettings(BaseModel):
    """One place notifications go, and which of them it gets."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="A name for logs and the outbox; never the secret URL.")
    url: str = Field(
        description="Where to send: http(s):// generic signed webhook, slack://, pagerduty://, mailto:// or "
        "smtp://, teams://, cmd://, jsonl:///path, log://, or any apprise URL. Write secrets as ${ENV_NAME} "
        "or ${secret:name}."
    )
    services: list[str] = Field(default_factory=list, description="Only these services; empty means all.")
    min_severity: Severity = Field("minor", description="Only incidents at least this severe.")
    secret: str = Field(
        "webhook_secret",
        description="Name of the secret that signs generic webhook notifications (HMAC-SHA256).",
    )

    @field_validator("url")
    @classmethod
    def _no_inline_credentials(cls, url: str) -> str:
        """A password or token written into the URL would reach the database, logs and `alerts deliveries`."""
        problem = inline_credential(url)
        if problem:
            raise ValueError(f"the URL carries {problem} in clear; write ${{NAME}} in its place and set "
                             "DETECTOR_NAME in the environment or NAME in the secrets file")
        return url


_SECRET_PARAM = re.compile(r"(?i)pass|secret|token|key|sig|auth|credential")


def inline_credential(url: str) -> str | None:
    """What secret a channel URL spells out literally (a password, a token parameter), or None.

    ``cmd://`` is exempt: its arguments are the hook's own and are never shown (only the program name is).
    """
    if url.lower().startswith("cmd://"):
        return None
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return None
    if password and "${" not in password:
        return "a password"
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if _SECRET_PARAM.search(name) and "${" not in value:
            return f"a secret in its {name!r} parameter"
    return None


class AlertSettings(BaseModel):
    """When an incident opens, escalates and resolves, and where it is announced."""

    model_config = ConfigDict(extra="forbid")

    resolve_after_minutes: float = Field(
        30, gt=0, description="Resolve once the signal stays normal this long."
    )
    cooldown_minutes: float = Field(
        60, ge=0, description="A re-fire this soon after resolving reopens the same incident."
    )
    flap_resolve_factor: float = Field(
        1.0, ge=0,
        description="Flap suppression: each reopening of an incident lengthens the quiet time it needs to "
        "resolve by this multiple of resolve_after_minutes, so a flapping signal does not page resolve / "
        "reopen every few minutes.",
    )
    escalation_min_minutes: float = Field(
        5.0, ge=0,
        description="Escalation waits for its evidence: a higher severity is announced no sooner than this "
        "many minutes after the incident's previous notification (and only if the signal is still above "
        "the band then); 0 announces every rise at once.",
    )
    major_ratio: float = Field(5.0, gt=1, description="Observed/expected ratio at which an incident is major.")
    critical_ratio: float = Field(20.0, gt=1, description="Observed/expected ratio at which it is critical.")
    low_complaint_share: float = Field(
        0.3, ge=0, le=1,
        description="Below this share of complaints among the mentions, severity is one step lower "
        "(the buzz is news or jokes, not people who cannot use the service).",
    )
    high_complaint_share: float = Field(
        0.8, ge=0, le=1,
        description="At or above this complaint share, a major incident (by ratio) is critical.",
    )
    evidence_posts: int = Field(5, ge=0, le=50, description="Representative posts kept as evidence.")
    jsonl: Path | None = Field(None, description="Append every alert event to this JSON-lines file.")
    dashboard_url: str | None = Field(None, description="Base URL of the dashboard, for links in notifications.")
    max_attempts: int = Field(
        30, ge=1, description="A notification is dead after this many failed attempts (and max_age_hours)."
    )
    max_age_hours: float = Field(
        24.0, ge=0,
        description="...and only once it is this old, so a channel that is down for hours still gets it.",
    )
    retry_base_seconds: float = Field(5.0, gt=0, description="First retry delay; doubles per attempt.")
    retry_max_seconds: float = Field(600.0, gt=0, description="Longest delay between two attempts.")
    channels: list[ChannelSettings] = Field(default_factory=list)
    cascades: CascadeSettings = Field(default_factory=CascadeSettings)
    inhibit: InhibitSettings = Field(default_factory=InhibitSettings)

    @model_validator(mode="after")
    def _ordered(self) -> "AlertSettings":
        if self.critical_ratio <= self.major_ratio:
            raise ValueError(f"critical_ratio ({self.critical_ratio}) must exceed major_ratio ({self.major_ratio})")
        names = [c.name for c in self.channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"alert channel names must be unique; repeated: {', '.join(duplicates)}")
        return self
