"""Being a good API citizen: timeouts, a user agent naming the project, request budgets, backoff, dedup.

Every live source polls through these pieces, so the rules are written once: a request never waits
forever, never goes out once the source's budget is spent, a 429 waits as long as the server asked, a 5xx
or a timeout backs off exponentially with jitter (reset as soon as new items arrive), and what was already
seen is remembered in a bounded set. Nothing here sleeps: a source reports *how long* to wait and the
scheduler waits, so tests drive time by hand.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from detector.timeparse import retry_after_seconds

if TYPE_CHECKING:
    import httpx

PROJECT_URL = "https://github.com/outage-detector/outage-detector"


def user_agent(source: str, contact: str | None = None) -> str:
    """The User-Agent every request carries: the project, its version, the source, and who to contact."""
    try:
        from importlib.metadata import version

        ver = version("outage-detector")
    except Exception:  # an uninstalled checkout still needs a user agent
        ver = "0"
    who = f"; contact {contact}" if contact else ""
    return f"outage-detector/{ver} (source {source}; +{PROJECT_URL}{who})"


class SourceUnavailable(Exception):
    """This poll cannot go on: the server refused, failed or timed out. ``wait`` is how long to wait,
    when the server said so (Retry-After, a rate-limit reset)."""

    def __init__(self, message: str, *, wait: float | None = None, kind: str = "error") -> None:
        super().__init__(message)
        self.wait = wait
        self.kind = kind  # rate_limited | server_error | timeout | budget | auth | error


class MalformedResponse(Exception):
    """The server answered 200 with a body that is not what the API documents; ``raw`` is kept."""

    def __init__(self, message: str, url: str, raw: str) -> None:
        super().__init__(message)
        self.url = url
        self.raw = raw


class SeenSet:
    """The last ``size`` ids seen, oldest forgotten first, so a long run's memory stays bounded.

    Forgetting is safe because this set only saves work, it is not what keeps a post from being stored
    twice: an id re-read near a stream's watermark is dropped by the watermark's own ids, and one that comes
    back after both forgot it (an API re-serving an old item) reaches the pipeline, which finds its key in
    the store (``PostSelector.select``, the posts table's unique key) and counts it a duplicate. At the
    default 5,000 ids (~100 bytes each) it holds about 0.5 MB per source, whatever the stream's length.
    """

    def __init__(self, size: int = 5000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, key: str) -> bool:
        """Remember ``key``; return True when it is new."""
        if key in self._ids:
            self._ids.move_to_end(key)
            return False
        self._ids[key] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


class RequestBudget:
    """At most ``limit`` requests in any ``window`` seconds; a spent budget refuses instead of waiting."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: list[float] = []

    def take(self) -> None:
        now = self._clock()
        self._times = [t for t in self._times if t > now - self.window]
        if len(self._times) >= self.limit:
            wait = self._times[0] + self.window - now
            raise SourceUnavailable(
                f"request budget of {self.limit} per {self.window:.0f}s spent", wait=max(wait, 0.0), kind="budget"
            )
        self._times.append(now)


class PoliteClient:
    """An httpx client bound to one source's budget, timeout and user agent; errors become
    ``SourceUnavailable`` (retry later) or ``MalformedResponse`` (quarantine the body)."""

    def __init__(
        self,
        source: str,
        *,
        timeout: float = 10.0,
        budget: RequestBudget | None = None,
        contact: str | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        max_bytes: int = 20 * 1024 * 1024,
        deadline: float | None = None,
    ) -> None:
        self.source = source
        self.budget = budget or RequestBudget(60, 60.0)
        self.requests = 0
        # for the whole request, headers to last byte: three reads' worth, so a slow but honest answer passes
        # and a server dripping a byte per read timeout is cut off
        self.deadline = deadline if deadline is not None else 3 * timeout
        self.max_bytes = max_bytes
        import httpx  # here and below, not at the top: the config reads every source's settings, and
        # importing httpx there cost every command ~0.1 s

        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent(source, contact), "Accept": "application/json", **(headers or {})},
            follow_redirects=True,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """GET ``url``; return the 2xx response, read whole within the deadline and size cap, or raise
        SourceUnavailable (or MalformedResponse for a body over the cap)."""
        import httpx

        self.budget.take()
        self.requests += 1
        try:
            response = self._fetch(url, params, headers)
        except httpx.TimeoutException:
            raise SourceUnavailable(f"{_where(url)} timed out", kind="timeout") from None
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"{_where(url)} unreachable ({type(error).__name__})", kind="error") from None
        if response.status_code == 429:
            raise SourceUnavailable(
                f"{_where(url)} rate-limited us (429)", wait=retry_after_seconds(response.headers.get("retry-after")),
                kind="rate_limited",
            )
        if response.status_code >= 500:
            raise SourceUnavailable(
                f"{_where(url)} failed ({response.status_code})", wait=retry_after_seconds(response.headers.get("retry-after")),
                kind="server_error",
            )
        if response.status_code in (401, 403):
            raise SourceUnavailable(f"{_where(url)} refused our credentials ({response.status_code})", kind="auth")
        if response.status_code >= 400:
            raise SourceUnavailable(f"{_where(url)} answered {response.status_code}", kind="error")
        return response

    def _fetch(self, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None) -> httpx.Response:
        """The response with its body, read against one deadline for the whole request.

        httpx's timeout bounds each read, so a server dripping one byte every few seconds held a fetch for
        minutes; the body is read in chunks here and abandoned when the deadline passes or it outgrows the cap
        (a 100 MB page took a run to 2.7 GB).
        """
        import httpx

        deadline = time.monotonic() + self.deadline
        with self._client.stream("GET", url, params=params, headers=headers) as response:
            body = bytearray()
            for chunk in response.iter_bytes():  # decoded: the cap also bounds a gzip bomb
                body += chunk
                if len(body) > self.max_bytes:
                    raise MalformedResponse(f"response over {self.max_bytes} bytes", _where(url),
                                            bytes(body[:4000]).decode("utf-8", "replace"))
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(f"no whole answer within {self.deadline:g}s")
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout(f"no whole answer within {self.deadline:g}s")
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
        return httpx.Response(response.status_code, headers=kept, content=bytes(body), request=response.request)

    def get_json(self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Any:
        response = self.get(url, params, headers)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise MalformedResponse(f"malformed JSON ({error})", _where(str(response.url)), response.text[:4000]) from None


def _where(url: str) -> str:
    """The URL without its query string: queries can carry tokens, and logs must not."""
    return url.split("?", 1)[0]


@dataclass
class Watermark:
    """How far one stream has been read: the newest item time, and the ids seen near it.

    Items older than ``t - overlap`` are behind us; newer ones are new unless their id is in ``ids``. The
    overlap re-reads a few minutes so items that an API indexes late are still picked up, while the ids
    keep re-read items from counting twice. Stored as JSON in the source's cursor.
    """

    t: float = 0.0
    ids: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, value: Any) -> "Watermark | None":
        if not isinstance(value, dict):
            return None
        return cls(float(value.get("t", 0.0)), [str(i) for i in value.get("ids", [])])

    def dump(self) -> dict[str, Any]:
        return {"t": self.t, "ids": list(self.ids)}

    def behind(self, t: float, overlap: float) -> bool:
        """True when an item at ``t`` is older than anything this stream still re-reads."""
        return t < self.t - overlap

    def is_new(self, item_id: str, t: float, overlap: float) -> bool:
        return not self.behind(t, overlap) and item_id not in self.ids

    def advanced(self, items: Iterable[tuple[str, float]], overlap: float, keep: int = 500) -> "Watermark":
        """The watermark after ``items`` (id, time) were taken; at most ``keep`` ids, the newest (the cursor is
        stored with every batch, so it must not grow with the stream: an id dropped here while still inside
        the overlap is re-read at worst, and then dropped by the seen-set or, past it, by the store's key)."""
        items = list(items)
        newest = max([self.t, *(t for _, t in items)])
        # the old ids are known only to be no newer than the old watermark: give them its time, so they
        # are kept exactly as long as anything of that time could still be re-read
        times = {i: self.t for i in self.ids}
        times.update(items)
        recent = [i for i, t in times.items() if t >= newest - overlap]
        return Watermark(newest, recent[-keep:])


def cursor_streams(cursor: str | None) -> dict[str, Any]:
    """The per-stream state stored in a source's cursor (JSON object); empty when none or unreadable."""
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
