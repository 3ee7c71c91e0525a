"""Replay a recorded file of posts (CSV, JSONL or Parquet) as if it were arriving live.

The detectors need event time to move forward, and recorded exports are often out of order (newest first,
or several pulls appended), so posts are handed over in time order, stably (ties keep file order) and in
bounded memory: a year of posts held whole was ~0.7 kB a post (~700 MB for a million). A first pass reads
only the times; a file already in time order is then streamed, and any other file is sorted in runs spilled
to temporary files and merged. Rows that cannot be posts (no parseable time, empty or absurd text, invalid
UTF-8, malformed JSON) become Rejected with their line and reason: they are quarantined, not lost.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import json
import pickle
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Literal
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
# Posts sorted in memory at once when a file is out of time order (~0.7 kB each: ~35 MB); a longer file is
# sorted in runs of this many, each spilled to a temporary file, and the runs merged.
RUN_POSTS = 50_000


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
        """Every post of the file sorted by time, the rejected rows, and the number of rows read (the whole
        file in memory: for small files and tests; a replay goes through ``batches``, which streams)."""
        posts: list[Post] = []
        rejected: list[Rejected] = []
        for outcome in self._in_time_order():
            (rejected if isinstance(outcome, Rejected) else posts).append(outcome)
        return posts, rejected, len(posts) + len(rejected)

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        """Posts in time order, ``batch_size`` at a time (paced: a batch per ``speed`` seconds of event time),
        each batch with the rows rejected since the last; the cursor counts posts handed over."""
        done = int(cursor) if cursor else 0
        posts: list[Post] = []
        rejected: list[Rejected] = []
        position = 0  # posts passed, in time order (the cursor)
        state = {"yielded": False, "previous": None}

        def emit() -> SourceBatch:
            window = posts[0].created_at if posts else None
            if self.settings.speed and window is not None:
                if state["previous"] is not None:
                    self._sleep(max(0.0, (window - state["previous"]).total_seconds() / self.settings.speed))
                state["previous"] = window
            state["yielded"] = True
            batch = SourceBatch(posts=tuple(posts), rejected=tuple(rejected), cursor=str(position),
                                read=len(posts) + len(rejected))
            posts.clear()
            rejected.clear()
            return batch

        for outcome in self._in_time_order():
            if isinstance(outcome, Rejected):
                rejected.append(outcome)
                if len(rejected) >= self._batch_size:  # a file of bad rows is quarantined a batch at a time
                    yield emit()
                continue
            if position < done:
                position += 1
                continue
            if posts and self._starts_batch(posts, outcome):
                yield emit()
            posts.append(outcome)
            position += 1
        if posts or rejected or not state["yielded"]:
            yield emit()

    def _starts_batch(self, posts: list[Post], post: Post) -> bool:
        if len(posts) >= self._batch_size:
            return True
        speed = self.settings.speed
        return bool(speed) and (post.created_at - posts[0].created_at).total_seconds() >= speed

    def _in_time_order(self) -> Iterator[Post | Rejected]:
        """Posts in time order (stable), and each rejected row as it is read."""
        if self._time_ordered():
            yield from self._outcomes()
            return
        runs: list[IO[bytes]] = []
        run: list[Post] = []
        try:
            for outcome in self._outcomes():
                if isinstance(outcome, Rejected):
                    yield outcome
                    continue
                run.append(outcome)
                if len(run) >= RUN_POSTS:
                    runs.append(self._spill(run))
                    run = []
            run.sort(key=_post_time)
            if not runs:
                yield from run
                return
            runs.append(self._spill(run))
            run = []
            # heapq.merge breaks ties by run order, and runs are in file order: the same order as one stable sort
            yield from heapq.merge(*(self._unspill(handle) for handle in runs), key=_post_time)
        finally:
            for handle in runs:
                handle.close()

    def _outcomes(self) -> Iterator[Post | Rejected]:
        for number, row in enumerate(_READERS[self._format](Path(self.settings.path)), start=1):
            yield self._to_post(row, number)

    def _time_ordered(self) -> bool:
        """True when the rows' times never go back (read times only; stops at the first that does). Posts are
        the rows whose time parses and is not in the future, so their order is the order checked here."""
        last = None
        for row in _READERS[self._format](Path(self.settings.path)):
            if "__error__" in row.values:
                continue
            try:
                created_at = parse_time(row.values.get(self.settings.time_column), self._zone)
            except (ValueError, OverflowError, OSError):
                continue
            if created_at > self._now + FUTURE_SKEW:
                continue
            if last is not None and created_at < last:
                return False
            last = created_at
        return True

    def _spill(self, run: list[Post]) -> IO[bytes]:
        """One sorted run in a temporary file (deleted on close). Only the fields a replay sets are kept."""
        run.sort(key=_post_time)
        handle = tempfile.TemporaryFile()
        pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
        for post in run:
            pickler.dump((post.source_id, post.created_at, post.text, post.author, post.url, post.lang, post.context))
            pickler.clear_memo()
        handle.seek(0)
        return handle

    def _unspill(self, handle: IO[bytes]) -> Iterator[Post]:
        unpickler = pickle.Unpickler(handle)
        while True:
            try:
                source_id, created_at, text, author, url, lang, context = unpickler.load()
            except EOFError:
                return
            yield Post(source=self.name, source_id=source_id, created_at=created_at, text=text, author=author,
                       url=url, lang=lang, context=context)

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


def _post_time(post: Post) -> datetime:
    return post.created_at


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


# One regex search instead of a Python step per character (the check ran over every row's text: a third of
# reading the file)
_BAD_UTF8 = re.compile(r"[\udc80-\udcff]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _has_bad_utf8(text: str) -> bool:
    return _BAD_UTF8.search(text) is not None


def _has_lone_surrogate(text: str) -> bool:
    return _LONE_SURROGATE.search(text) is not None


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
