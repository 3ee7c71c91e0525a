"""Replay a recorded file of posts (CSV, JSONL or Parquet) as if it were arriving live.

Rows are read whole and sorted by time, because recorded exports are rarely in order and the detectors
need event time to move forward. Rows that cannot be posts (no parseable time, empty or absurd text,
invalid UTF-8, malformed JSON) become Rejected with their line and reason: they are quarantined, not lost.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from detector.pseudonym import Pseudonymiser
from detector.records import Post, Rejected
from detector.sources.base import Source, SourceBatch, SourceKind
from detector.timeparse import parse_time


class ReplaySettings(BaseModel):
    """A recorded file of posts (CSV, JSONL or Parquet) replayed through the pipeline."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["replay"] = "replay"
    name: str = Field("replay", description="Source name stored with every post.")
    path: Path = Field(description="The file to replay.")
    format: Literal["csv", "jsonl", "parquet"] | None = Field(
        None, description="File format; by default taken from the file's extension."
    )
    time_column: str = Field("created_at", description="Column with the post's time.")
    text_column: str = Field("text", description="Column with the post's text.")
    id_column: str | None = Field(None, description="Column with the post's id; default: the row number.")
    author_column: str | None = Field(None, description="Column with the author (pseudonymised on read).")
    url_column: str | None = Field(None, description="Column with a link to the post.")
    lang_column: str | None = Field(None, description="Column with the post's language code.")
    context_column: str | None = Field(
        None, description="Column with the text a reply answers (its parent post), read with the reply by the "
        "outage-report head; replies without it are judged alone.",
    )
    service: str | None = Field(
        None,
        description="Every post of this file belongs to this service (the file was collected for it); "
        "when the service has match terms, posts must also match them.",
    )
    timezone: str = Field("UTC", description="Zone of times written without an offset (IANA name).")
    speed: float | None = Field(
        None, gt=0, description="Pace the replay: 60 replays an hour of posts per minute. Default: as fast as possible."
    )
    max_text_bytes: int = Field(40_000, ge=1, description="Longer texts are quarantined as absurd.")


class ReplayError(Exception):
    """The file cannot be replayed at all (missing, unknown format, a mapped column absent)."""


@dataclass(frozen=True, slots=True)
class _Row:
    ref: str
    values: dict[str, Any]


def _fix_csv_field_limit() -> None:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


# A physical line longer than this is not read into memory whole: its first part is quarantined, the rest
# skipped. A record (one CSV row, which may span lines inside quotes) larger than this is a runaway field.
MAX_LINE_BYTES = 1 << 20
RAW_KEPT = 64 * 1024
FUTURE_SKEW = timedelta(minutes=5)


class _Runaway(Exception):
    """Raised from inside the CSV reader's line feed when one record grows past any plausible post."""


def _bounded_lines(handle: Any) -> Iterator[tuple[int, str, int]]:
    """(line number, line, full length) with every line cut at MAX_LINE_BYTES; NULs removed.

    Reading a 200 MB field as one string is what took a replay to 1.85 GB; here a line is never held
    beyond the limit, and its full length is still reported so the quarantine reason can say it.
    """
    number = 0
    while True:
        line = handle.readline(MAX_LINE_BYTES)
        if not line:
            return
        number += 1
        length = len(line)
        if not line.endswith("\n") and len(line) >= MAX_LINE_BYTES:
            while True:  # skip the rest of an over-long line without keeping it
                more = handle.readline(MAX_LINE_BYTES)
                length += len(more)
                if not more or more.endswith("\n"):
                    break
        yield number, line.replace("\x00", ""), length


def _read_csv(path: Path, record_limit: int = 2 * MAX_LINE_BYTES) -> Iterator[_Row]:
    """CSV rows as dicts keyed by the header, each bad stretch costing only the lines it really spans.

    A stray quote makes a field run on to the end of the file; the csv module then swallows every later
    row into it. Here the reader is strict and fed one physical line at a time: when a record fails to
    parse, or grows past ``record_limit`` without closing its quote, its first line is quarantined whole
    and reading starts again at the next line, so the rows after it are read as rows.
    """
    _fix_csv_field_limit()
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        lines = _bounded_lines(handle)
        pending: list[tuple[int, str, int]] = []  # lines handed back after a failed record
        header: list[str] | None = None
        while True:
            consumed: list[tuple[int, str, int]] = []

            def feed() -> Iterator[str]:
                size = 0
                while True:
                    item = pending.pop(0) if pending else next(lines, None)
                    if item is None:
                        return
                    consumed.append(item)
                    size += len(item[1])
                    if item[2] > len(item[1]) or (size > record_limit and len(consumed) > 1):
                        raise _Runaway()
                    yield item[1]

            reader = csv.reader(feed(), strict=True)
            try:
                for record in reader:
                    if header is None:
                        header = record
                    elif record:
                        ref = f"{path.name}:{consumed[0][0]}"
                        raw = "".join(item[1] for item in consumed).rstrip("\r\n")
                        yield _Row(ref, {**_as_dict(header, record), "__raw__": raw[:RAW_KEPT]})
                    consumed.clear()
                return
            except (csv.Error, _Runaway) as error:
                if not consumed:
                    return
                first, rest = consumed[0], consumed[1:]
                pending[:0] = rest
                ref = f"{path.name}:{first[0]}"
                if header is None:
                    raise ReplayError(f"the header line of {path.name} cannot be read as CSV") from None
                if first[2] > len(first[1]):
                    reason = f"line of {first[2]} characters is over the {MAX_LINE_BYTES} limit (first part kept)"
                elif isinstance(error, _Runaway) or "unexpected end of data" in str(error):
                    reason = "unbalanced quote: the field opened on this line never closes (the lines after it were read again)"
                else:
                    reason = f"malformed CSV ({error}); the lines after it were read again"
                yield _Row(ref, {"__error__": reason, "__raw__": first[1][:RAW_KEPT]})


def _as_dict(header: list[str], record: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = dict(zip(header, record))
    for name in header[len(record):]:
        values[name] = None
    if len(record) > len(header):
        values["__extra__"] = record[len(header):]
    return values


def _read_jsonl(path: Path) -> Iterator[_Row]:
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape") as handle:
        for number, line, length in _bounded_lines(handle):
            if not line.strip():
                continue
            ref = f"{path.name}:{number}"
            if length > len(line):
                yield _Row(ref, {"__error__": f"line of {length} characters is over the {MAX_LINE_BYTES} limit "
                                 "(first part kept)", "__raw__": line[:RAW_KEPT]})
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                yield _Row(ref, {"__error__": f"malformed JSON ({error.msg})", "__raw__": line[:RAW_KEPT]})
                continue
            except RecursionError:
                yield _Row(ref, {"__error__": "JSON nested too deep to be a post", "__raw__": line[:RAW_KEPT]})
                continue
            if not isinstance(value, dict):
                yield _Row(ref, {"__error__": "a JSON line must be an object", "__raw__": line[:RAW_KEPT]})
                continue
            yield _Row(ref, {**value, "__raw__": line.rstrip("\r\n")[:RAW_KEPT]})


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
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
            first = next(_bounded_lines(handle), None)
        if first is None:
            return []
        if first[2] > len(first[1]):
            raise ReplayError(f"the header line of {path.name} is {first[2]} characters long; is it a CSV file?")
        return next(csv.reader([first[1]]), [])
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    names: dict[str, None] = {}
    for number, row in enumerate(_read_jsonl(path)):
        if "__error__" not in row.values:
            names.update(dict.fromkeys(k for k in row.values if k != "__raw__"))
        if number >= 1000:  # optional keys show up in the first rows of any real export
            break
    return list(names)


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
        self._now = datetime.now(timezone.utc)

    def _check_columns(self, path: Path) -> None:
        present = columns_of(path, self._format)
        if not present:
            return
        s = self.settings
        for flag, column in (
            ("--time-column", s.time_column), ("--text-column", s.text_column), ("--id-column", s.id_column),
            ("--author-column", s.author_column), ("--url-column", s.url_column), ("--lang-column", s.lang_column),
            ("context_column", s.context_column),
        ):
            if column is not None and column not in present:
                listed = ", ".join(present)
                listed = listed if len(listed) <= 300 else listed[:300] + ", ..."
                raise ReplayError(f"column {column!r} is not in {path.name} (columns: {listed}); set {flag}")

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
        raw = values.pop("__raw__", None)
        if raw is None:
            raw = json.dumps({k: _printable(v) for k, v in values.items()}, default=str, ensure_ascii=False)
        raw = _storable(raw)
        if "__error__" in values:
            return Rejected(self.name, row.ref, values["__error__"], raw)
        text = values.get(s.text_column)
        if text is None or (isinstance(text, float) and text != text):
            return Rejected(self.name, row.ref, "empty text", raw)
        if not isinstance(text, str):
            return Rejected(self.name, row.ref, f"text in {s.text_column!r} is a {type(text).__name__}, not a string", raw)
        if _has_bad_utf8(text):
            return Rejected(self.name, row.ref, "invalid UTF-8 in text", raw)
        if _has_lone_surrogate(text):
            return Rejected(self.name, row.ref, "invalid Unicode in text (a lone surrogate)", raw)
        text = text.replace("\x00", "")
        if not text.strip():
            return Rejected(self.name, row.ref, "empty text", raw)
        if len(text.encode("utf-8")) > s.max_text_bytes:
            return Rejected(self.name, row.ref, f"absurd size: text of {len(text.encode())} bytes", raw)
        try:
            created_at = parse_time(values.get(s.time_column), self._zone)
        except (ValueError, OverflowError, OSError) as error:
            return Rejected(self.name, row.ref, f"bad time in {s.time_column!r}: {error}", raw)
        if created_at > self._now + FUTURE_SKEW:
            # a recorded post cannot come from the future; one dated 2099 would hold every detector there
            return Rejected(self.name, row.ref, f"dated {created_at.isoformat()}, after this machine's clock", raw)
        if s.id_column is None:
            source_id = _content_id(values.get(s.time_column), text, values.get(s.author_column) if s.author_column else None)
        else:
            source_id = _clean(values.get(s.id_column))
        if not source_id:
            return Rejected(self.name, row.ref, f"empty id in {s.id_column!r}", raw)
        author = _clean(values.get(s.author_column)) if s.author_column else None
        if author and (_has_bad_utf8(author) or _has_lone_surrogate(author)):
            author = _storable(author)
        url = _clean(values.get(s.url_column)) if s.url_column else None
        lang = _clean(values.get(s.lang_column)) if s.lang_column else None
        context = _clean(values.get(s.context_column)) if s.context_column else None
        return Post(
            source=self.name,
            source_id=_storable(source_id)[:256],
            created_at=created_at,
            text=text,
            author=self._pseudonymiser.author(self.name, author) if author else None,
            url=_storable(url)[:2048] if url else None,
            lang=_storable(lang)[:16] if lang else None,
            context=_storable(context) if context else None,
        )


def _content_id(time_value: Any, text: str, author: Any) -> str:
    """The id of a row in a file without an id column: a digest of its time, text and author.

    Row numbers collide across files (the second file's first rows looked like duplicates of the first's
    and were never stored); the content is the row's identity, so the same post in two exports is stored
    once and different posts never share an id.
    """
    key = "\x1f".join((str(time_value), text, "" if author is None else str(author)))
    return "c" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _clean(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _has_bad_utf8(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _has_lone_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _storable(text: str) -> str:
    """Text any database accepts: invalid bytes and lone surrogates spelled as escapes, NULs removed."""
    if _has_lone_surrogate(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


# not polled by `detector run`: a recorded file is history, and closing minutes with today's wall clock after it
# would walk every empty minute since; `detector replay` reads it
KIND = SourceKind(settings=ReplaySettings, build=None)
