"""Opening a database by path or URL, and upgrading its schema in place.

SQLite is the embedded default (a path is enough); PostgreSQL is reached by URL with the same code.
SQLite runs in WAL mode so a dashboard or an analyst can read while a replay writes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from detector.store import schema


class StoreError(Exception):
    """The database cannot be used as asked (wrong URL, newer schema than this program knows)."""


def database_url(db: str | Path) -> str:
    """Turn a plain path into an SQLite URL; leave real URLs alone."""
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_engine(db: str | Path) -> Engine:
    """An engine for ``db`` with the settings each backend needs for concurrent readers and writers."""
    url = database_url(db)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            parent = Path(path).parent
            if not parent.exists():
                raise StoreError(f"cannot create database {path}: folder {parent} does not exist")
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        return sa.create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as error:
        raise StoreError(f"cannot use database URL: {error}") from None


# Tables of each schema version, so an older database gains exactly what it lacks.
_VERSION_TABLES: dict[int, tuple[str, ...]] = {
    1: (
        "schema_info", "posts", "post_services", "verdicts", "buckets", "alerts", "alert_events",
        "outbox", "quarantine", "source_cursors", "detector_state",
    ),
    2: ("labels",),
    3: ("silences", "official_incidents"),
}


def current_version(engine: Engine | Connection) -> int | None:
    """The schema version of the database, or None when it is empty."""
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            return current_version(conn)
    if not sa.inspect(engine).has_table("schema_info"):
        return None
    return engine.execute(sa.select(sa.func.max(schema.schema_info.c.version))).scalar()


# Any constant every detector process shares: PostgreSQL advisory lock key for schema changes.
_MIGRATION_LOCK = 0x6465_7465_6374_6F72


def migrate(engine: Engine, target: int = schema.SCHEMA_VERSION) -> int:
    """Create or upgrade the schema to ``target`` in place; return the version now in force."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Workers starting together on a new database would otherwise race to create the same tables;
            # the lock serialises them and the version is read again under it.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        version = current_version(conn)
        if version is not None and version > schema.SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {version} is newer than this program's ({schema.SCHEMA_VERSION}); "
                "upgrade detector"
            )
        start = 0 if version is None else version
        if start >= target:
            return start
        for step in range(start + 1, target + 1):
            tables = [schema.metadata.tables[name] for name in _VERSION_TABLES[step]]
            schema.metadata.create_all(conn, tables=tables, checkfirst=True)
            conn.execute(
                schema.schema_info.insert().values(
                    version=step, upgraded_at=datetime.now(timezone.utc)
                )
            )
    return target
