"""Opening a database by path or URL, and upgrading its schema in place.

SQLite is the embedded default (a path is enough); PostgreSQL is reached by URL with the same code.
SQLite runs in WAL mode so a dashboard or an analyst can read while a replay writes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from detector.store import schema


class StoreError(Exception):
    """The database cannot be used as asked (wrong URL, newer schema than this program knows, a table that
    differs from the schema)."""


# What an unreachable database (a restart, a failover, a dropped connection) raises: a caller that can wait
# and retry catches these, and only these, without importing the driver's exceptions itself.
UNREACHABLE: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError)


def insert(dialect: str, table: sa.Table) -> Any:
    """The backend's own INSERT of ``table``: the one that can say ON CONFLICT (the generic one cannot)."""
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"unsupported database {dialect}")


def upsert(dialect: str, table: sa.Table, keys: Sequence[str], update: Sequence[str]) -> Any:
    """An INSERT of ``table`` rows that, on a conflict over ``keys``, overwrites the ``update`` columns
    (both backends spell it ON CONFLICT ... DO UPDATE); execute it with the rows."""
    stmt = insert(dialect, table)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_={name: stmt.excluded[name] for name in update})


def database_url(db: str | Path) -> str:
    """Turn a plain path into an SQLite URL; fill ``${NAME}`` references of a real URL from the secrets.

    So a config can say ``db = "postgresql+psycopg://detector:${PG_PASSWORD}@db/detector"`` and the password
    lives in the environment (DETECTOR_PG_PASSWORD) or the secrets file, never in the config.
    """
    text = str(db)
    if "://" in text:
        if "${" in text:
            from detector.secrets import SecretError, Secrets

            try:
                return Secrets().expand(text)
            except SecretError as error:
                raise StoreError(f"database URL: {error}") from None
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
    4: ("worker_leases", "worker_checkpoints"),
    5: ("backtests",),
    6: ("cascades", "cascade_members", "cascade_events"),
    7: ("post_places",),
    8: ("quarantine_keys",),
    9: (),
}
# Columns a version added to tables that already existed (nullable, so old rows need no value).
_VERSION_COLUMNS: dict[int, dict[str, tuple[str, ...]]] = {
    9: {"verdicts": ("outage_report", "outage_report_p"), "buckets": ("outage_reports", "outage_people")},
}


def current_version(engine: Engine | Connection) -> int | None:
    """The schema version of the database, or None when it is empty."""
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            return current_version(conn)
    if not sa.inspect(engine).has_table("schema_info"):
        return None
    return engine.execute(sa.select(sa.func.max(schema.schema_info.c.version))).scalar()


def _type_name(type_: sa.types.TypeEngine, dialect: sa.engine.Dialect) -> str:
    """The type as this backend spells it in DDL, so a declared and a reflected type compare equal."""
    try:
        return type_.compile(dialect=dialect)
    except sa.exc.CompileError:  # a type reflection did not recognise
        return repr(type_)


def _nullability(nullable: bool) -> str:
    return "nullable" if nullable else "NOT NULL"


def _differences(conn: Connection, table: sa.Table) -> list[str]:
    """How the existing ``table`` in the database differs from its declaration in the schema (empty when
    the columns, their types and nullability, and the primary key are the same)."""
    inspector = sa.inspect(conn)
    found = {column["name"]: column for column in inspector.get_columns(table.name)}
    differences = []
    missing = [name for name in table.c.keys() if name not in found]
    if missing:
        differences.append("no column " + ", ".join(missing))
    extra = [name for name in found if name not in table.c]
    if extra:
        differences.append("extra column " + ", ".join(extra))
    for column in table.columns:
        if column.name not in found:
            continue
        have = _type_name(found[column.name]["type"], conn.dialect)
        want = _type_name(column.type, conn.dialect)
        if have != want:
            differences.append(f"{column.name} is {have}, expected {want}")
        if found[column.name]["nullable"] != column.nullable:
            differences.append(f"{column.name} is {_nullability(found[column.name]['nullable'])}, "
                               f"expected {_nullability(column.nullable)}")
    key = inspector.get_pk_constraint(table.name)["constrained_columns"]
    if set(key) != set(table.primary_key.columns.keys()):
        expected = ", ".join(table.primary_key.columns.keys())
        differences.append(f"primary key is ({', '.join(key)}), expected ({expected})")
    return differences


def _adopt_existing(conn: Connection, tables: list[sa.Table], step: int) -> None:
    """Accept the tables of ``step`` that already exist when they match the schema; raise StoreError naming
    the first that does not, rather than guess how to convert it.

    Tables can predate their version: releases before version 4 created the workers' tables on a worker's
    first start, and on SQLite a failed upgrade keeps the tables it created (the driver does not roll
    back DDL run before the transaction's first write).
    """
    inspector = sa.inspect(conn)
    for table in tables:
        if not inspector.has_table(table.name):
            continue
        differences = _differences(conn, table)
        if differences:
            raise StoreError(
                f"cannot upgrade the database to schema version {step}: table {table.name} already exists "
                f"and differs from the schema ({'; '.join(differences)}); it was left as it is"
            )


def _add_columns(conn: Connection, columns: dict[str, tuple[str, ...]]) -> None:
    """Add the named (nullable) columns to existing tables where they are missing."""
    inspector = sa.inspect(conn)
    for table_name, names in columns.items():
        have = {column["name"] for column in inspector.get_columns(table_name)}
        table = schema.metadata.tables[table_name]
        for name in names:
            if name in have:
                continue
            column = table.c[name]
            kind = column.type.compile(dialect=conn.dialect)
            preparer = conn.dialect.identifier_preparer
            conn.execute(sa.text(f"ALTER TABLE {preparer.quote(table_name)} ADD COLUMN {preparer.quote(name)} {kind}"))


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
            _adopt_existing(conn, tables, step)
            schema.metadata.create_all(conn, tables=tables, checkfirst=True)
            _add_columns(conn, _VERSION_COLUMNS.get(step, {}))
            conn.execute(
                schema.schema_info.insert().values(
                    version=step, upgraded_at=datetime.now(timezone.utc)
                )
            )
    return target
