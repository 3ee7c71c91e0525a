"""Replay a recorded file of posts (CSV, JSONL or Parquet) as if it were arriving live.

Rows are read whole and sorted by time, because recorded exports are rarely in order and the detectors
need event time to move forward. Rows that cannot be posts (no parseable time, empty or absurd text,
invalid UTF-8, malformed JSON) become Rejected with their line and reason: they are quarantined, not lost.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from detector.pseudonym import Pseudonymiser
from detector.records import Post, Rejected
from detector.sources.base import Source, SourceBatch
from detector.sources.replay_settings import ReplaySettings
from detector.timeparse import parse_time


class ReplayError(Exception):
    """The file cannot be replayed at all (missing, unknown format, a mapped column absent)."""


@dataclass(frozen=True, slots=True)
class _Row:
    ref: str
    values: dict[str, Any]


def _fix_csv_field_limit() -> None:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _read_csv(path: Path) -> Iterator[_Row]:
    _fix_csv_field_limit()
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as handle:
        lines = (line.replace("\x00", "") for line in handle)
        reader = csv.DictReader(lines)
        if reader.fieldnames is None:
            return
        for row in reader:
            yield _Row(f"{path.name}:{reader.line_num}", dict(row))


def _read_jsonl(path: Path) -> Iterator[_Row]:
    with path.open("r", encoding="utf-8", errors="surrogateescape") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            ref = f"{path.name}:{number}"
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                yield _Row(ref, {"__error__": f"malformed JSON ({error.msg})", "__raw__": line[:2000]})
                continue
            if not isinstance(value, dict):
                yield _Row(ref, {"__error__": "a JSON line must be an object", "__raw__": line[:2000]})
                continue
            yield _Row(ref, value)


def _read_parquet(path: Path) -> Iterator[_Row]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        for value in batch.to_pylist():
            number += 1
            yield _Row(f"{path.name}:row {number}", value)


_READERS = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def columns_of(path: Path, fmt: str) -> list[str]:
    """The column names of a file, for error messages that say what is there."""
    if fmt == "csv":
        _fix_csv_field_limit()
        with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
            return next(csv.reader(handle), [])
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    for row in _read_jsonl(path):
        if "__error__" not in row.values:
            return list(row.values)
    return []


class ReplaySource(Source):
    """Posts from a recorded file, in time order, fast or paced."""

    def __init__(
        self,
        settings: ReplaySettings,
        pseudonymiser: Pseudonymiser,
        *,
        batch_size: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self._pseudonymiser = pseudonymiser
        self._batch_size = batch_size
        self._sleep = sleep
        path = Path(settings.path)
        if not path.exists():
            raise ReplayError(f"replay file {path} does not exist")
        self._format = settings.format or _EXTENSIONS.get(path.suffix.lower())
        if self._format is None:
            raise ReplayError(f"cannot tell the format of {path.name}; pass --format csv|jsonl|parquet")
        try:
            self._zone = ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ReplayError(f"unknown timezone {settings.timezone!r}; use an IANA name such as Europe/Paris") from None
        self._check_columns(path)

    def _check_columns(self, path: Path) -> None:
        present = columns_of(path, self._format)
        if not present:
            return
        s = self.settings
        for flag, column in (
            ("--time-column", s.time_column), ("--text-column", s.text_column), ("--id-column", s.id_column),
            ("--author-column", s.author_column), ("--url-column", s.url_column), ("--lang-column", s.lang_column),
        ):
            if column is not None and column not in present:
                raise ReplayError(
                    f"column {column!r} is not in {path.name} (columns: {', '.join(present)}); set {flag}"
                )

    def read(self) -> tuple[list[Post], list[Rejected], int]:
        """Every post of the file sorted by time, the rejected rows, and the number of rows read."""
        path = Path(self.settings.path)
        posts: list[Post] = []
        rejected: list[Rejected] = []
        read = 0
        for row in _READERS[self._format](path):
            read += 1
            outcome = self._to_post(row, read)
            if isinstance(outcome, Rejected):
                rejected.append(outcome)
            else:
                posts.append(outcome)
        posts.sort(key=lambda post: post.created_at)
        return posts, rejected, read

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        posts, rejected, read = self.read()
        done = int(cursor) if cursor else 0
        first = True
        previous_time = None
        start = done
        while start < len(posts) or first:
            if self.settings.speed:
                end = start + 1
                window = posts[start].created_at if start < len(posts) else None
                while end < len(posts) and window and (posts[end].created_at - window).total_seconds() < self.settings.speed:
                    end += 1
                end = min(end, start + self._batch_size)
                if previous_time is not None and window is not None:
                    self._sleep(max(0.0, (window - previous_time).total_seconds() / self.settings.speed))
                previous_time = window
            else:
                end = min(start + self._batch_size, len(posts))
            chunk = tuple(posts[start:end])
            yield SourceBatch(
                posts=chunk,
                rejected=tuple(rejected) if first else (),
                cursor=str(end),
                read=(read - len(posts) + len(chunk)) if first else len(chunk),
            )
            first = False
            start = end

    def _to_post(self, row: _Row, number: int) -> Post | Rejected:
        values, s = row.values, self.settings
        raw = values.get("__raw__")
        if "__error__" in values:
            return Rejected(self.name, row.ref, values["__error__"], raw)
        if raw is None:
            raw = json.dumps({k: _printable(v) for k, v in values.items()}, default=str, ensure_ascii=False)[:4000]
        text = values.get(s.text_column)
        if text is None or (isinstance(text, float) and text != text):
            return Rejected(self.name, row.ref, "empty text", raw)
        text = str(text)
        if _has_bad_utf8(text):
            return Rejected(self.name, row.ref, "invalid UTF-8 in text", _printable(raw))
        if not text.strip():
            return Rejected(self.name, row.ref, "empty text", raw)
        if len(text.encode("utf-8")) > s.max_text_bytes:
            return Rejected(self.name, row.ref, f"absurd size: text of {len(text.encode())} bytes", raw[:500])
        try:
            created_at = parse_time(values.get(s.time_column), self._zone)
        except (ValueError, OverflowError, OSError) as error:
            return Rejected(self.name, row.ref, f"bad time in {s.time_column!r}: {error}", raw)
        source_id = str(number) if s.id_column is None else _clean(values.get(s.id_column))
        if not source_id:
            return Rejected(self.name, row.ref, f"empty id in {s.id_column!r}", raw)
        author = _clean(values.get(s.author_column)) if s.author_column else None
        if author and _has_bad_utf8(author):
            author = author.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        url = _clean(values.get(s.url_column)) if s.url_column else None
        lang = _clean(values.get(s.lang_column)) if s.lang_column else None
        return Post(
            source=self.name,
            source_id=source_id[:256],
            created_at=created_at,
            text=text,
            author=self._pseudonymiser.author(self.name, author) if author else None,
            url=url or None,
            lang=lang or None,
        )


def _clean(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _has_bad_utf8(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value
