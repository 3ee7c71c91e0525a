"""Loading many rows at once into a new SQLite database, as SQLite stores them: the synthetic databases the
dashboard's tests and benchmarks read (``dashboard.sample``: a million posts in well under a minute).

The ordinary writers (``Store.add_posts`` and the rest) check and convert every value; a bulk load of
generated rows skips that and hands the rows, already in storage form, to the driver's ``executemany``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterable, Sequence

from detector.store import schema
from detector.store.store import Store

TableRows = tuple[str, Sequence[str], Iterable[Sequence[Any]]]


def _insert(table: str, columns: Sequence[str]) -> str:
    """The INSERT of ``columns`` into ``table``; both must be the schema's (names are never taken on trust)."""
    known = schema.metadata.tables.get(table)
    if known is None:
        raise ValueError(f"no table {table!r} in the schema")
    unknown = [name for name in columns if name not in known.c]
    if unknown:
        raise ValueError(f"table {table} has no column {', '.join(unknown)}")
    names = ", ".join(f'"{name}"' for name in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'


def load_sqlite(path: Path, tables: Sequence[TableRows]) -> None:
    """Create the schema in the new SQLite database at ``path`` and insert each (table, columns, rows) in
    order, in one transaction. Values are as SQLite keeps them: times as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC
    text, JSON as text, booleans as 0 or 1."""
    Store(path).close()  # the schema, at the current version
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")  # a generated database: nothing to lose if the machine stops
        with con:
            for table, columns, rows in tables:
                con.executemany(_insert(table, columns), rows)
    finally:
        con.close()
