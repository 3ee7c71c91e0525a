"""Building a running system from settings: store, classifier, channels, pipeline, sender.

Kept apart from the CLI so the same assembly serves `detector replay`, `detector run`, the demo and the
tests, and apart from the pipeline so the stages stay unaware of how they were chosen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence

from detector.alerting.channels.base import Channel
from detector.alerting.channels.registry import channel_from_url
from detector.alerting.delivery import Sender
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
from detector.secrets import Secrets
from detector.sources.base import Source
from detector.store.store import Store

log = logging.getLogger("detector")


class ClassifierUnavailable(Exception):
    """The configured classifier cannot be loaded (e.g. no trained model at the given folder)."""


def build_classifier(settings: ClassifierSettings, services: Sequence[ServiceSettings] = ()) -> Classifier:
    """The configured classifier: the trained model by default, the keyword baseline on request; each
    service's complaints get symptoms from its own list."""
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


@dataclass
class System:
    """Everything a run needs, built once."""

    settings: Settings
    store: Store
    secrets: Secrets
    pseudonymiser: Pseudonymiser
    pipeline: Pipeline
    channels: dict[str, Channel]
    sender: Sender

    def close(self) -> None:
        self.store.close()


def build_system(
    settings: Settings,
    *,
    notify: Sequence[str] = (),
    classifier: Classifier | None = None,
    on_change: Callable[[AlertChange], None] | None = None,
) -> System:
    secrets = Secrets(settings.secrets_file)
    store = Store(settings.db)
    key = load_or_create_key(secrets.get("pseudonym_key"), key_file_for(settings.db))
    channel_settings = [*settings.alerts.channels, *quick_channels(notify)]
    if settings.alerts.jsonl is not None:
        channel_settings.append(ChannelSettings(name="jsonl", url=f"jsonl://{settings.alerts.jsonl}"))
    channels = {c.name: channel_from_url(c.name, c.url, secrets, c.secret) for c in channel_settings}
    pipeline = Pipeline(
        store,
        rules=[*(s.rule() for s in settings.services), *(u.rule() for u in settings.watched_upstreams())],
        classifier=classifier or build_classifier(settings.classifier, settings.services),
        detection=settings.detection,
        alerts=settings.alerts,
        channels=channel_settings,
        on_change=on_change,
        claims=known_claims(settings.classifier),
        grouper=build_grouper(settings, store),
        places=PlaceFinder() if settings.classifier.places else None,
    )
    sender = Sender(store, channels, secrets=secrets, settings=settings.alerts)
    return System(settings, store, secrets, Pseudonymiser(key), pipeline, channels, sender)


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
    notifications as we go."""
    report = report or RunReport()
    last: datetime | None = None
    for batch in source.batches(system.store.cursor(source.name) if resume else None):
        system.pipeline.process(batch, source=source.name, assigned=assigned, report=report)
        if batch.posts:
            last = max(last or batch.posts[-1].created_at, batch.posts[-1].created_at)
        system.sender.deliver_due()
        if progress is not None:
            progress(report)
    if flush_at_end and last is not None:
        system.pipeline.flush(last, report)
        system.sender.deliver_due()
    return report


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def describe_channels(channels: Iterable[Channel]) -> list[str]:
    return [channel.describe() for channel in channels]
