"""All of the project's SQL (SQLAlchemy Core; SQLite by path, PostgreSQL by URL), one module per table family.

- ``database`` opens and upgrades a database; ``schema`` declares every table; ``store.Store`` is the handle
  (``store.transaction()`` for a batch's writes) and writes posts, verdicts, buckets, cursors, detector state.
- posts and verdicts: ``posts`` (reads), ``post_search`` (the Explore page), ``quarantine``, ``labels``;
  minutes: ``buckets``; an incident's stored facts: ``facts``.
- incidents and their events: ``alerts`` (writes, ``Alert`` records), ``incidents`` (tables); ``cascades``.
- notifications: ``deliveries`` (the outbox); ``silences``; ``ledger`` answers alerting's routing questions
  inside a batch's transaction. The store records what ``detector.alerting`` decided; it decides nothing.
- the providers' incidents: ``official`` (with the one overlap rule); workers' ``leases`` and checkpoints;
  ``backtests``; ``bulk`` loads synthetic databases; ``frames`` turns reads into DataFrames.

Outside this package nothing imports SQLAlchemy, a driver or the schema, or opens the engine (``tests/test_layout.py``;
the embedding cache keeps a SQLite file of its own).
"""
