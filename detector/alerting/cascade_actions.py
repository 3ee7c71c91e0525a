"""Acknowledge / resolve act on the group: an on-call action on a cascade's id, or on any incident of an open
cascade, acknowledges or resolves the whole cascade and every member, and the channels that heard of the
cascade hear of it once. The CLI and the dashboard both call ``act_on_group``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from detector.alerting.cascade_payload import build_cascade_payload
from detector.alerting.grouping import Cascade
from detector.alerting.settings import AlertSettings
from detector.store.cascades import cascade_of, load_cascades, set_cascade_status
from detector.store.store import Store


def group_to_act_on(store: Store, given_id: str) -> str | None:
    """The cascade an ack / resolve of ``given_id`` acts on: itself when it is a cascade, its cascade while
    that is not resolved when it is a member incident, else None (the incident alone)."""
    cascades = {c.id: c for c in load_cascades(store)}
    if given_id in cascades:
        return given_id
    owner = cascade_of(store, given_id)
    if owner is not None and cascades[owner].status != "resolved":
        return owner
    return None


def act_on_group(store: Store, cascade_id: str, status: str, at: datetime, actor: str,
                 settings: AlertSettings | None = None) -> Cascade:
    """Acknowledge or resolve the cascade and its members; ValueError when it is already so."""
    settings = settings or AlertSettings()

    def payload(cascade: Cascade, kind: str) -> dict[str, Any]:
        return {**build_cascade_payload(store, cascade, kind, at, settings), "by": actor}

    return set_cascade_status(store, cascade_id, status, at, actor, notify=payload)
