"""Acknowledge / resolve act on the group: an on-call action on a cascade's id, or on any incident of an open
cascade, acknowledges or resolves the whole cascade and every member, and the channels that heard of the
cascade hear of it once. The CLI and the dashboard both call ``act_on_group``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from detector.alerting.actions import set_status
from detector.alerting.cascade_payload import build_cascade_payload
from detector.alerting.routing import closing_routes
from detector.alerting.settings import AlertSettings
from detector.records import Cascade
from detector.store.deliveries import enqueue, notified_channels
from detector.store.cascades import cascade_of, load_cascades, mark_cascade
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


def set_cascade_status(
    store: Store, cascade_id: str, status: str, at: datetime, actor: str,
    notify: Callable[[Cascade, str], dict[str, Any]] | None = None,
) -> Cascade:
    """Acknowledge or resolve a cascade and every member incident not already in that state; queue the
    cascade's acknowledge / resolve for the channels that heard of it. A member paged on its own before it
    joined is told too (its channels heard of it); the others carry an empty notice nowhere. KeyError: no
    such cascade; ValueError: it is already in that state."""
    kind = "acknowledged" if status == "acknowledged" else "resolved"
    found = {c.id: c for c in load_cascades(store)}.get(cascade_id)
    if found is None:
        raise KeyError(cascade_id)
    if found.status == status or found.status == "resolved":
        raise ValueError(f"cascade {cascade_id} is already {found.status}")
    for member in found.members:
        if member.status == "resolved" or member.status == status:
            continue
        try:
            set_status(store, member.alert_id, status, at, actor=actor,
                       notify=None if member.paged else (lambda alert: {}))
        except ValueError:
            pass  # changed meanwhile
    event_id = mark_cascade(store, cascade_id, status, at, actor)
    done = {x.id: x for x in load_cascades(store)}[cascade_id]
    if notify is not None:
        payload = notify(done, kind)
        with store.transaction() as conn:
            enqueue(conn, cascade_id, event_id, closing_routes(notified_channels(conn, cascade_id), payload), at)
    return done
