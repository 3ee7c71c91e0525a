"""How incidents are grouped into cascades and which notifications the group holds back: the
``[alerts.cascades]`` and ``[alerts.inhibit]`` tables (docs/alerting.md, "Cascades")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CascadeSettings(BaseModel):
    """When incidents of several services (or one service and an upstream) are one story."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Group correlated incidents into cascades.")
    window_minutes: float = Field(
        10.0, gt=0, description="Incidents that open within this many minutes of a cascade's latest onset "
        "(or of each other) may be grouped.")
    group_wait_minutes: float = Field(
        5.0, ge=0, description="A new incident of a service that depends on an upstream, or whose posts name "
        "one, waits this long for the rest of a cascade before it is paged on its own (Alertmanager's "
        "group_wait); incidents with no such link are paged at once. 0: never wait.")
    naming_share: float = Field(
        0.15, gt=0, le=1, description="An upstream is 'named by the posts' of a service when at least this share "
        "of the service's recent reports (the posts the volume metric counts) also name it.")
    naming_minutes: float = Field(15.0, gt=0, description="How far back 'recent reports' reach.")
    official_lookback_hours: float = Field(
        6.0, gt=0, description="An upstream's status-page incident counts when posted at most this long before "
        "our incident opened and not resolved before it.")


class InhibitSettings(BaseModel):
    """Alertmanager's inhibition, for cascades: the cascade's notification holds back its members' own."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="A service incident that belongs to a cascade is not paged on its "
                          "own; the cascade's notification names it.")
    except_severity: Literal["minor", "major", "critical"] | None = Field(
        None, description="Members at least this severe are still paged on their own (none: all held back).")
