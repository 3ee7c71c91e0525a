"""Query results as pandas DataFrames, for the readers that shape tables (dashboard, report, analysts' API),
and opening a database only to read it.

One helper so every reader gets the same frame for the same rows: the columns named as the query names them,
and an empty result still carrying its columns (a page can ask for ``frame["text"]`` of nothing). pandas is
imported when a frame is made, not with the module: the store modules that offer frames also serve the
alerting path (``posts.evidence_posts``), which must not pay pandas' start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from detector.store.store import Store

if TYPE_CHECKING:
    import pandas as pd


def frame_of(conn: Connection, query: sa.Select, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The rows of ``query`` on an open connection, as a DataFrame."""
    import pandas as pd

    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(columns or result.keys()))


def read_frame(store: Store, query: sa.Select) -> pd.DataFrame:
    """The rows of ``query`` as a DataFrame, on a connection of its own."""
    with store.engine.connect() as conn:
        return frame_of(conn, query)


def open_existing(db: str | Path) -> Store:
    """The store at ``db`` (a path or a URL), which must exist: a path that does not is ``FileNotFoundError``
    (a typo would otherwise read as a new, empty database), a file that is not a database (a CSV given by
    mistake, a corrupt file) is ``ValueError`` with one line and no SQL."""
    if "://" not in str(db) and not Path(db).is_file():
        raise FileNotFoundError(f"database {db} does not exist; give the path `detector replay` or `detector run` "
                                "wrote (or a database URL)")
    try:
        return Store(db)
    except sa.exc.DatabaseError as error:
        reason = str(getattr(error, "orig", error)).splitlines()[0]
        raise ValueError(f"{db} cannot be read as a detector database ({reason})") from None
