"""The database schema, declared once with SQLAlchemy Core so SQLite and PostgreSQL run the same code.

Times are stored as UTC. SQLite has no timezone type, so ``UTCDateTime`` strips the zone on the way in
and puts it back on the way out; callers only ever see aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 9


class UTCDateTime(TypeDecorator):
    """An aware-UTC datetime on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def aggregate_time(value: datetime | str | None) -> datetime | None:
    """A time read through an aggregate (MIN, MAX) as its column would give it: SQLite hands back the stored
    text without the column's type, so it is parsed and marked UTC here."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, None)


metadata = sa.MetaData()

schema_info = sa.Table(
    "schema_info",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("upgraded_at", UTCDateTime, nullable=False),
)

posts = sa.Table(
    "posts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("source_id", sa.String(256), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author", sa.String(64)),
    sa.Column("person", sa.String(64), nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("lang", sa.String(16)),
    sa.Column("metadata", sa.JSON),
    sa.Column("ingested_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("source", "source_id", name="uq_posts_source_id"),
)
sa.Index("ix_posts_created_at", posts.c.created_at)

post_services = sa.Table(
    "post_services",
    metadata,
    sa.Column("post_id", sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("service", sa.String(128), primary_key=True),
    # Denormalised from posts so "this service, this time range" is one index range scan.
    sa.Column("created_at", UTCDateTime, nullable=False),
)
sa.Index("ix_post_services_service_time", post_services.c.service, post_services.c.created_at)

verdicts = sa.Table(
    "verdicts",
    metadata,
    sa.Column("post_id", sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("complaint", sa.Boolean, nullable=False),
    sa.Column("complaint_p", sa.Float, nullable=False),
    sa.Column("misinformation", sa.Boolean, nullable=False),
    sa.Column("misinformation_p", sa.Float, nullable=False),
    sa.Column("symptom", sa.String(32)),
    sa.Column("symptom_p", sa.Float),
    sa.Column("claim", sa.String(128)),
    sa.Column("claim_similarity", sa.Float),
    sa.Column("confidence", sa.Float, nullable=False),
    # Version 9: the outage-report head. NULL on verdicts stored before it; readers take the complaint then.
    sa.Column("outage_report", sa.Boolean),
    sa.Column("outage_report_p", sa.Float),
)

buckets = sa.Table(
    "buckets",
    metadata,
    sa.Column("service", sa.String(128), primary_key=True),
    sa.Column("start", UTCDateTime, primary_key=True),
    sa.Column("width_s", sa.Integer, nullable=False),
    sa.Column("mentions", sa.Integer, nullable=False),
    sa.Column("complaints", sa.Integer, nullable=False),
    sa.Column("misinformation", sa.Integer, nullable=False),
    sa.Column("people", sa.Integer, nullable=False),
    sa.Column("complaint_people", sa.Integer, nullable=False),
    sa.Column("expected", sa.Float),
    sa.Column("upper", sa.Float),
    sa.Column("score", sa.Float),
    # Version 9: outage reports and distinct reporters (NULL in buckets counted before; read as complaints).
    sa.Column("outage_reports", sa.Integer),
    sa.Column("outage_people", sa.Integer),
)

# Verdicts and buckets stored before the outage head have NULL outage columns: the complaint ones stand in.
# One rule for every reader, so a count and the posts behind it agree.
OUTAGE_REPORT = sa.func.coalesce(verdicts.c.outage_report, verdicts.c.complaint)
BUCKET_OUTAGE_REPORTS = sa.func.coalesce(buckets.c.outage_reports, buckets.c.complaints)
BUCKET_OUTAGE_PEOPLE = sa.func.coalesce(buckets.c.outage_people, buckets.c.complaint_people)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.String(160), primary_key=True),
    sa.Column("service", sa.String(128), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("acknowledged_at", UTCDateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("peak_ratio", sa.Float, nullable=False),
    sa.Column("peak_value", sa.Float, nullable=False),
    sa.Column("expected", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("suppressed", sa.Boolean, nullable=False, default=False),
)
sa.Index("ix_alerts_service_opened", alerts.c.service, alerts.c.opened_at)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # opened escalated resolved reopened acknowledged ...
    sa.Column("detail", sa.JSON),
)
sa.Index("ix_alert_events_alert", alert_events.c.alert_id, alert_events.c.id)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(256), nullable=False, unique=True),  # idempotency: event x channel
    sa.Column("alert_id", sa.String(160), nullable=False),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("channel", sa.String(128), nullable=False),  # channel name, never its secret URL
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending sent dead
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
)
sa.Index("ix_outbox_pending", outbox.c.status, outbox.c.next_attempt_at)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("ref", sa.String(256), nullable=False),  # where in the input: file:line, URL, message id
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text),
    sa.Column("at", UTCDateTime, nullable=False),
)

source_cursors = sa.Table(
    "source_cursors",
    metadata,
    sa.Column("source", sa.String(128), primary_key=True),
    sa.Column("cursor", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

detector_state = sa.Table(
    "detector_state",
    metadata,
    sa.Column("service", sa.String(128), primary_key=True),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("as_of", UTCDateTime, nullable=False),
)

# Version 2: analysts' labels (the dashboard's labelling queue writes them, `detector train` reads them).
labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("post_id", sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("task", sa.String(64), nullable=False),
    sa.Column("label", sa.String(64), nullable=False),
    sa.Column("labeller", sa.String(128)),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("post_id", "task", name="uq_labels_post_task"),
)

# Version 3: on-call silences, and the providers' own incidents from their status pages.
silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("service", sa.String(128), nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_by", sa.String(128)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
sa.Index("ix_silences_service", silences.c.service, silences.c.ends_at)

official_incidents = sa.Table(
    "official_incidents",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("service", sa.String(128), nullable=False),
    sa.Column("source", sa.String(128), nullable=False),  # which status page / feed
    sa.Column("external_id", sa.String(256), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.String(64)),  # investigating identified monitoring resolved ...
    sa.Column("impact", sa.String(64)),
    sa.Column("url", sa.Text),
    sa.Column("started_at", UTCDateTime, nullable=False),  # the provider's first acknowledgement
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("source", "external_id", name="uq_official_source_id"),
)
sa.Index("ix_official_service_time", official_incidents.c.service, official_incidents.c.started_at)

# Version 4: the scale-out workers' leases (with fencing tokens) and the aggregate's checkpoint. Releases before
# version 4 created these two on a worker's first start, outside the versioned schema; the upgrade adopts
# such tables when their columns are these, so the columns must not change without a new version.
worker_leases = sa.Table(
    "worker_leases",
    metadata,
    sa.Column("role", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),  # grows at every change of holder
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
)

worker_checkpoints = sa.Table(
    "worker_checkpoints",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),  # the last bus sequence number applied
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),  # the lease token that wrote it
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Version 5: each `detector backtest`'s summary, one row per run with its per-budget rows (the dashboard's alerts
# page shows the latest).
backtests = sa.Table(
    "backtests",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("ran_at", UTCDateTime, nullable=False),
    sa.Column("posts_file", sa.Text, nullable=False),  # the file's name as the user gave it
    sa.Column("truth_file", sa.Text, nullable=False),
    sa.Column("services", sa.JSON, nullable=False),
    sa.Column("rows", sa.JSON, nullable=False),  # per budget: caught, leads, false alerts per week ...
    sa.Column("settings", sa.JSON, nullable=False),  # margin, default length, metric: how the rows were scored
)
sa.Index("ix_backtests_ran_at", backtests.c.ran_at)

# Version 6: cascades (incidents of several services, or of one and an upstream, grouped with a likely cause by
# `detector.alerting.grouping`), which incident belongs to which, and the cascades' own events (their
# notifications go through the outbox with the cascade id in ``alert_id``).
cascades = sa.Table(
    "cascades",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("likely_cause", sa.String(200), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open acknowledged resolved
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),  # the first member's onset
    sa.Column("recognised_at", UTCDateTime, nullable=False),  # when the group was formed
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("acknowledged_at", UTCDateTime),
    sa.Column("evidence", sa.JSON, nullable=False),  # official incidents, upstream spike, posts, confidence terms
)
sa.Index("ix_cascades_opened", cascades.c.opened_at)

cascade_members = sa.Table(
    "cascade_members",
    metadata,
    sa.Column("alert_id", sa.ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("cascade_id", sa.ForeignKey("cascades.id", ondelete="CASCADE"), nullable=False),
    sa.Column("service", sa.String(128), nullable=False),
    sa.Column("onset", UTCDateTime, nullable=False),
    sa.Column("declares", sa.Boolean, nullable=False),
    sa.Column("naming_share", sa.Float, nullable=False),
    sa.Column("paged", sa.Boolean, nullable=False),
)
sa.Index("ix_cascade_members_cascade", cascade_members.c.cascade_id)

cascade_events = sa.Table(
    "cascade_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("cascade_id", sa.ForeignKey("cascades.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # opened joined updated acknowledged resolved
    sa.Column("detail", sa.JSON),
)
sa.Index("ix_cascade_events_cascade", cascade_events.c.cascade_id, cascade_events.c.id)

# Version 7: the places each post names (detector/places), with the gazetteer's coordinates, so counting
# people per place and drawing them on a map needs no gazetteer at read time.
post_places = sa.Table(
    "post_places",
    metadata,
    sa.Column("post_id", sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("place", sa.String(200), primary_key=True),  # the label people read: "Kamloops, BC"
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # city | region | address
    sa.Column("region", sa.String(16)),
    sa.Column("country", sa.String(8)),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
)

# Version 8: what is already in quarantine, by source and a digest of the raw form, so a re-run finds a row
# it quarantined before by key instead of comparing raw texts (which took 16 s for 50,000 rows).
quarantine_keys = sa.Table(
    "quarantine_keys",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("digest", sa.String(64), primary_key=True),  # sha256 of the raw form (or of where and why)
)
