"""The tests' one fake HTTP server (tests/fakes/server.py), checked itself: routes, faults first, a log of
every request, refused before it starts and after it stops, the same port again, and a clean stop."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.fakes.server import TOO_MANY, FakeServer, Reply, json_reply


def _server() -> FakeServer:
    return FakeServer(routes={
        "GET /items/(?P<key>[a-z0-9]+)": lambda request, key: json_reply({"key": key, "q": request.query}),
        "POST /items": lambda request: Reply(201, request.body),
    })


def test_routes_answer_by_method_and_whole_path_and_the_log_keeps_every_request():
    with _server() as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/items/a1", params={"x": "1"}).json() == {"key": "a1", "q": {"x": "1"}}
        created = client.post("/items", content=b"body")
        assert (created.status_code, created.content) == (201, b"body")
        assert client.get("/items/a1/more").status_code == 404  # the expression matches the whole path
        wrong = client.delete("/items")
        assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/items/a1"), ("POST", "/items"), ("GET", "/items/a1/more"), ("DELETE", "/items")]
    assert server.requests[1].body == b"body"


def test_a_queued_fault_is_answered_once_before_the_api():
    with _server() as server, httpx.Client(base_url=server.url) as client:
        server.fail_next(TOO_MANY, "/items/")
        first = client.get("/items/a1")
        assert (first.status_code, first.headers["retry-after"]) == (429, "7")
        assert client.get("/items/a1").status_code == 200


def test_refused_before_start_and_after_stop_and_back_on_the_same_port():
    server = _server()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/items/a", timeout=2)
    port = server.port
    with server:
        assert httpx.get(server.url + "/items/a", timeout=2).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/items/a", timeout=2)
    with server:
        assert server.port == port
        assert httpx.get(server.url + "/items/a", timeout=2).status_code == 200


def test_stop_ends_a_hanging_answer_and_closes_kept_alive_connections():
    server = FakeServer(lambda request: Reply(hang=30) if request.path == "/hang" else Reply(200, b"ok")).start()
    client = httpx.Client(base_url=server.url, timeout=5)
    assert client.get("/").text == "ok"  # leaves a kept-alive connection behind
    outcome: list[object] = []
    waiting = threading.Thread(target=lambda: outcome.append(_try(lambda: httpx.get(server.url + "/hang", timeout=30))))
    waiting.start()
    deadline = time.monotonic() + 5
    while len(server.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    waiting.join(5)
    assert not waiting.is_alive() and time.monotonic() - started < 5
    assert isinstance(outcome[0], httpx.HTTPError)  # the hanging request got no answer
    with pytest.raises(httpx.HTTPError):  # and the kept-alive connection no longer reaches a handler
        client.get("/")
    client.close()


def _try(call):
    try:
        return call()
    except httpx.HTTPError as error:
        return error
