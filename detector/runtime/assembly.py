"""Building a running system from settings: store, classifier, channels, pipeline, sender.

Kept apart from the CLI so the same assembly serves `detector replay`, `detector run`, the demo, every
worker role of the distributed detector and the tests, and apart from the pipeline so the stages stay
unaware of how they were chosen. What a process of a role gets is decided here, once: nothing is swapped
into a ``System`` after it is built.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Sequence

from detector.alerting.channels.base import Channel
from detector.alerting.channels.registry import channel_from_url
from detector.alerting.delivery import NoDelivery, Sender
from detector.alerting.leased import FencedChannel, LeasedSender
from detector.alerting.manager import AlertChange
from detector.alerting.settings import ChannelSettings
from detector.classify.base import Classifier
from detector.classify.claims import Claim
from detector.classify.keywords import KeywordClassifier
from detector.classify.settings import ClassifierSettings
from detector.config import ServiceSettings, Settings
from detector.pipeline import Pipeline, RunReport
from detector.places.extract import PlaceFinder
from detector.pseudonym import Pseudonymiser, key_file_for, load_or_create_key
from detector.runtime.metrics import Metrics, TimedClassifier
from detector.secrets import Secrets
from detector.sources.base import Source, SourceBatch
from detector.store.leases import Lease
from detector.store.store import Store

if TYPE_CHECKING:  # the bus roles' pieces load Redis: only the processes that use them import it
    from detector.bus.publish import BusPipeline
    from detector.workers.base import Connections

log = logging.getLogger("detector")


class ClassifierUnavailable(Exception):
    """The configured classifier cannot be loaded (e.g. no trained model at the given folder)."""


def build_classifier(settings: ClassifierSettings, services: Sequence[ServiceSettings] = ()) -> Classifier:
    """The configured classifier: the trained model by default, its fast tier (built on first use), the
    cascade of the two or the keyword baseline on request; each service's complaints get symptoms from its own list."""
    symptom_sets = {service.name: service.symptom_set() for service in services}
    if settings.kind == "keywords":
        return KeywordClassifier(symptom_sets)
    try:
        from detector.classify.model import load_default_classifier
    except ImportError as error:
        raise ClassifierUnavailable(
            f"the model classifier cannot be imported ({error}); install the project with its ML "
            "dependencies (make install) or set [classifier] kind = \"keywords\""
        ) from None
    from detector.classify.claims import ClaimsFileError

    try:
        if settings.kind == "cascade":
            from detector.classify.cascade import load_cascade_classifier

            return load_cascade_classifier(
                model_dir=settings.model_dir, claims_path=settings.claims, embedding_model=settings.embedding_model,
                batch_size=settings.batch_size, symptom_sets=symptom_sets)
        if settings.kind == "fast":
            from detector.classify.fast import load_fast_classifier

            return load_fast_classifier(embedding_model=settings.embedding_model, claims_path=settings.claims,
                                        symptom_sets=symptom_sets)
        return load_default_classifier(
            model_dir=settings.model_dir, claims_path=settings.claims, embedding_model=settings.embedding_model,
            batch_size=settings.batch_size, symptom_sets=symptom_sets,
        )
    except ClaimsFileError as error:  # the claims file is the user's, not the models `make models` builds
        raise ClassifierUnavailable(
            f"the claims file cannot be used ({error}); fix [classifier] claims (relative paths are taken "
            "from the config's folder) or remove it"
        ) from None
    except (FileNotFoundError, ValueError) as error:
        raise ClassifierUnavailable(
            f"the model classifier cannot be loaded ({error}); run `make models` or set [classifier] "
            "kind = \"keywords\" (or --classifier keywords)"
        ) from None


def known_claims(settings: ClassifierSettings) -> dict[str, Claim]:
    """The claims file's claims by id (their text, verdict and reference), for notifications and reports;
    empty without a claims file. Reading it needs no model, so the keyword classifier gets them too."""
    if settings.claims is None:
        return {}
    from detector.classify.claims import load_claims

    claims, _, _ = load_claims(settings.claims)
    return {claim.id: claim for claim in claims}


def quick_channels(urls: Sequence[str]) -> list[ChannelSettings]:
    """Channels given on the command line with --notify: every service, every severity."""
    return [ChannelSettings(name=f"notify-{i + 1}", url=url) for i, url in enumerate(urls)]


def channel_settings(settings: Settings, notify: Sequence[str] = ()) -> list[ChannelSettings]:
    """The channels notifications are routed to: the config's, the --notify ones, and the JSONL file.
    The outbox records a channel by name, so the process that routes and the one that sends agree on
    these names."""
    channels = [*settings.alerts.channels, *quick_channels(notify)]
    if settings.alerts.jsonl is not None:
        channels.append(ChannelSettings(name="jsonl", url=f"jsonl://{settings.alerts.jsonl}"))
    return channels


# What one process does: everything (`detector replay`, `detector run`, the demo), or one role of the
# distributed detector (`detector worker ROLE`, joined by the bus).
ROLES = ("single", "ingest", "classify", "aggregate", "alert")


@dataclass
class System:
    """Everything one process needs for its role, built once by ``build_system``."""

    settings: Settings
    store: Store
    secrets: Secrets
    pseudonymiser: Pseudonymiser | None  # None in roles that read no source (classify, aggregate, alert)
    pipeline: Pipeline | BusPipeline | None  # None in the classify and alert roles
    channels: dict[str, Channel]
    sender: Sender | LeasedSender | NoDelivery
    role: str = "single"
    classifier: Classifier | None = None  # the classify role's; the single role's is its pipeline's
    places: PlaceFinder | None = None  # the classify role's; the single role's is its pipeline's
    owns_store: bool = True  # False when the store is the worker's connection's, which closes it

    def close(self) -> None:
        if isinstance(self.sender, LeasedSender):
            self.sender.close()
        if self.owns_store:
            self.store.close()


def build_system(
    settings: Settings,
    *,
    role: str = "single",
    bus: Connections | None = None,
    name: str | None = None,
    notify: Sequence[str] = (),
    classifier: Classifier | None = None,
    on_change: Callable[[AlertChange], None] | None = None,
    metrics: Metrics | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> System:
    """The store, pipeline, sender (and, for the classify role, classifier) one process of ``role`` uses,
    wired here and nowhere else.

    - ``single``: the whole detector in one process: classify in the pipeline, deliver the outbox. With
      ``metrics`` the classifier's time is counted for /metrics (`detector run`).
    - ``ingest``: sources' batches are published to the bus (``bus``); nothing is delivered here.
    - ``classify``: the classifier and place finder for a classify worker; no pipeline.
    - ``aggregate``: the detect stage only (no classifier, no places, no cascades); its state is restored
      from the worker's checkpoint (``Pipeline.restore``); notifications are routed to the config's
      channel names, and no channel is opened here.
    - ``alert``: the config's channels, fenced by the ``alert`` lease held as ``name``, and a sender that
      delivers only while it holds it.

    The bus roles use the store of ``bus`` (its connections) and leave closing it to them.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role != "single" and bus is None:
        raise ValueError(f"the {role} role needs the bus and the shared store (workers.base.connect)")
    if role == "alert" and not name:
        raise ValueError("the alert role needs the name its lease is held under")
    if bus is None:
        secrets, store, owns_store = Secrets(settings.secrets_file), Store(settings.db), True
    else:
        secrets, store, owns_store = bus.secrets, bus.store, False
    pseudonymiser = None
    if role in ("single", "ingest"):  # the roles that read sources pseudonymise their authors
        pseudonymiser = Pseudonymiser(load_or_create_key(secrets.get("pseudonym_key"), key_file_for(settings.db)))
    routes = channel_settings(settings, notify)
    channels: dict[str, Channel] = {}
    if role in ("single", "alert"):
        channels = {c.name: channel_from_url(c.name, c.url, secrets, c.secret) for c in routes}
    pipeline: Pipeline | BusPipeline | None = None
    sender: Sender | LeasedSender | NoDelivery = NoDelivery()
    classify_with, places = None, None
    if role in ("single", "classify"):
        classify_with = classifier or build_classifier(settings.classifier, settings.services)
        places = PlaceFinder() if settings.classifier.places else None
    if role == "single":
        if metrics is not None:
            classify_with = TimedClassifier(classify_with, metrics)
        pipeline = Pipeline(
            store,
            rules=[*(s.rule() for s in settings.services), *(u.rule() for u in settings.watched_upstreams())],
            classifier=classify_with, detection=settings.detection, alerts=settings.alerts, channels=routes,
            on_change=on_change, claims=known_claims(settings.classifier), grouper=build_grouper(settings, store),
            places=places,
        )
        sender = Sender(store, channels, secrets=secrets, settings=settings.alerts)
        classify_with = places = None  # the pipeline's own
    elif role == "ingest":
        from detector.bus.publish import BusPipeline

        pipeline = BusPipeline(store, bus.bus, [s.rule() for s in settings.services], settings.detection.bucket_width,
                               sleep=sleep)
    elif role == "aggregate":
        pipeline = Pipeline(
            store, rules=[s.rule() for s in settings.services], classifier=None, detection=settings.detection,
            alerts=settings.alerts, channels=routes, on_change=on_change, claims=known_claims(settings.classifier),
        )
    elif role == "alert":
        lease = Lease(store, "alert", name, bus.bus_settings.lease_seconds)
        channels = {channel_name: FencedChannel(channel, lease) for channel_name, channel in channels.items()}
        sender = LeasedSender(Sender(store, channels, secrets=secrets, settings=settings.alerts), lease)
    return System(settings, store, secrets, pseudonymiser, pipeline, channels, sender, role=role,
                  classifier=classify_with, places=places, owns_store=owns_store)


def build_grouper(settings: Settings, store: Store):
    """The cascade grouper for these settings (None when cascades are off), resuming the open cascades."""
    if not settings.alerts.cascades.enabled:
        return None
    from detector.alerting.grouping import CascadeGrouper
    from detector.store.cascades import load_cascades

    upstreams = {u.name for u in settings.watched_upstreams()}

    def official(since, until):
        from detector.store.official import load_official

        return [o for o in load_official(store, since=since) if o.service in upstreams and o.started_at <= until]

    from detector.store.cascades import interrupted

    linked = {s.name for s in settings.services if s.depends_on}
    known = load_cascades(store, open_only=True)
    unannounced, unpaged = interrupted(store, [c.id for c in known], linked)
    return CascadeGrouper(settings.alerts, depends_on={s.name: s.depends_on for s in settings.services},
                          upstreams=upstreams, official=official, known=known, unannounced=unannounced,
                          unpaged=unpaged)


def run_source(
    system: System,
    source: Source,
    *,
    assigned: str | None = None,
    report: RunReport | None = None,
    progress: Callable[[RunReport], None] | None = None,
    flush_at_end: bool = True,
    resume: bool = True,
) -> RunReport:
    """Feed one finite source through the pipeline (from its saved cursor when ``resume``); deliver
    notifications as we go. The pipeline classifies each batch while it stores the one before
    (``Pipeline.process_all``)."""
    report = report or RunReport()
    last: datetime | None = None

    def stored(batch: SourceBatch) -> None:
        nonlocal last
        if batch.posts:
            last = max(last or batch.posts[-1].created_at, batch.posts[-1].created_at)
        system.sender.deliver_due()
        if progress is not None:
            progress(report)

    system.pipeline.process_all(source.batches(system.store.cursor(source.name) if resume else None),
                                source=source.name, assigned=assigned, report=report, after=stored)
    if flush_at_end and last is not None:
        system.pipeline.flush(last, report)
        system.sender.deliver_due()
    return report
