"""What a running detector tells its operators: Prometheus ``/metrics`` and a ``/healthz`` liveness check.

Counters are kept in memory by the scheduler's thread and read by the small HTTP server's thread under a
lock; the text format is written by hand (it is a few lines) so the service needs no extra package.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Sequence

from detector.classify.base import Classifier
from detector.records import Post, Verdict


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


_HELP = {
    "detector_posts_read_total": ("counter", "Items read from each source."),
    "detector_posts_stored_total": ("counter", "New posts stored from each source."),
    "detector_posts_duplicate_total": ("counter", "Posts a source delivered again (already stored)."),
    "detector_posts_quarantined_total": ("counter", "Items of each source kept in quarantine."),
    "detector_source_polls_total": ("counter", "Polls of each source, by outcome."),
    "detector_source_errors_total": ("counter", "Failed polls of each source, by kind."),
    "detector_source_requests_total": ("counter", "HTTP requests each source made."),
    "detector_source_gaps_total": ("counter", "Polls that hit max_items before reaching the last item seen."),
    "detector_source_lag_seconds": ("gauge", "Age of the newest post each source has delivered."),
    "detector_source_last_success_timestamp_seconds": ("gauge", "When each source last polled without error."),
    "detector_classified_posts_total": ("counter", "Posts the classifier labelled."),
    "detector_classify_seconds_total": ("counter", "Time spent classifying (rate of the two is the classify rate)."),
    "detector_open_incidents": ("gauge", "Open or acknowledged incidents per service."),
    "detector_delivery_failures_total": ("counter", "Notification deliveries that failed (retried or dead)."),
    "detector_outbox_notifications": ("gauge", "Notifications in the outbox, by status."),
    "detector_official_incidents_seen_total": ("counter", "Official incidents read from status pages."),
    "detector_loop_heartbeat_timestamp_seconds": ("gauge", "Last time the scheduler loop ran."),
}


class Metrics:
    """Named counters and gauges with labels, safe to read from another thread."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self.clock = clock
        self.heartbeat = clock()
        self.sources: dict[str, dict[str, Any]] = {}  # for /healthz

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values.setdefault(name, {})[tuple(sorted(labels.items()))] = float(value)

    def replace(self, name: str, values: dict[tuple[tuple[str, str], ...], float]) -> None:
        """Set a whole gauge family at once (series that vanished go away)."""
        with self._lock:
            self._values[name] = dict(values)

    def get(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._values.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def watch(self, source: str, allowed_seconds: float | None) -> None:
        """Judge ``source`` from now on: failing when its last poll failed, or when it has not completed a
        poll within ``allowed_seconds`` (its interval plus its deadline) of its last success or of now."""
        with self._lock:
            entry = self.sources.setdefault(source, {})
            entry["watched_since"] = self.clock()
            if allowed_seconds is not None:
                entry["allowed_seconds"] = round(allowed_seconds, 1)

    def failing(self, source: str, entry: dict[str, Any], now: float) -> str | None:
        """Why ``source`` is failing, or ``None`` when it is healthy."""
        if entry.get("last_error"):
            return f"last poll failed: {entry['last_error']}"
        allowed = entry.get("allowed_seconds")
        since = entry.get("last_success", entry.get("watched_since"))
        if allowed is not None and since is not None and now - since > allowed:
            done = "no poll completed" if "last_success" not in entry else "no poll completed since the last success"
            return f"{done} in {now - since:.0f} s (allowed {allowed:.0f} s: interval plus deadline)"
        return None

    def beat(self) -> None:
        self.heartbeat = self.clock()
        self.set("detector_loop_heartbeat_timestamp_seconds", self.heartbeat)

    def render(self) -> str:
        lines = []
        with self._lock:
            for name in sorted(self._values):
                kind, text = _HELP.get(name, ("gauge", name))
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                for key, value in sorted(self._values[name].items()):
                    lines.append(f"{name}{_labels(dict(key))} {value:.17g}")
        return "\n".join(lines) + "\n"

    def health(self, stale_after: float) -> tuple[bool, dict[str, Any]]:
        """The loop's and the sources' health. Not ok (HTTP 503) when the loop has stalled or when every
        watched source is failing: nothing is being read, whatever the loop does. Some sources failing is
        ``degraded`` (still 200, so an orchestrator does not restart a service whose other sources work)."""
        now = self.clock()
        age = now - self.heartbeat
        with self._lock:
            sources = json.loads(json.dumps(self.sources, default=str))
        failing = {}
        for name, entry in sources.items():
            reason = self.failing(name, entry, now)
            entry["status"] = "ok" if reason is None else "failing"
            if reason is not None:
                entry["reason"] = reason
                failing[name] = reason
        if age > stale_after:
            status = "stalled"
        elif sources and len(failing) == len(sources):
            status = "failing"
        else:
            status = "degraded" if failing else "ok"
        ok = status in ("ok", "degraded")
        return ok, {"status": status, "loop_age_seconds": round(age, 1), "failing": sorted(failing),
                    "sources": sources}


class TimedClassifier(Classifier):
    """The configured classifier, timed, so /metrics can show the classify rate."""

    def __init__(self, inner: Classifier, metrics: Metrics) -> None:
        self.inner = inner
        self.name = inner.name
        self.metrics = metrics

    def classify(self, posts: Sequence[Post]) -> list[Verdict]:
        started = time.perf_counter()
        verdicts = self.inner.classify(posts)
        self.metrics.inc("detector_classify_seconds_total", time.perf_counter() - started)
        self.metrics.inc("detector_classified_posts_total", len(posts))
        return verdicts


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` on ``host:port`` from a daemon thread."""

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 0, stale_after: float = 300.0) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/metrics":
                    body, status, kind = metrics.render().encode(), 200, "text/plain; version=0.0.4"
                elif self.path.split("?")[0] == "/healthz":
                    ok, detail = metrics.health(owner.stale_after)
                    body, status, kind = json.dumps(detail).encode(), 200 if ok else 503, "application/json"
                else:
                    body, status, kind = b"not found; try /metrics or /healthz\n", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.stale_after = stale_after
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="metrics", daemon=True)

    def start(self) -> "MetricsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
