"""A live source's fetch is bounded as a whole: a server that drips bytes cannot hold it past its deadline,
and a page larger than the cap is refused instead of read into memory (issue 18, item 7)."""

from __future__ import annotations

import time

import pytest

from detector.sources.polite import MalformedResponse, PoliteClient, SourceUnavailable
from tests.fakes.server import FakeServer, Reply


def test_a_server_dripping_one_byte_at_a_time_is_cut_at_the_deadline():
    server = FakeServer(lambda request: Reply(200, b'{"posts": []}' + b" " * 200, {"Content-Type": "application/json"},
                                              drip=0.05))
    with server:
        client = PoliteClient("test", timeout=0.5)  # whole-request deadline: three times that
        started = time.monotonic()
        with pytest.raises(SourceUnavailable) as caught:
            client.get_json(server.url + "/x")
        took = time.monotonic() - started
    assert caught.value.kind == "timeout"
    assert took < 4.0  # each byte came within the 0.5 s read timeout; the whole answer would take 10 s


def test_a_page_over_the_cap_is_refused_not_read_whole():
    server = FakeServer(lambda request: Reply(200, b"[" + b"0," * 600_000 + b"0]", {"Content-Type": "application/json"}))
    with server:
        with pytest.raises(MalformedResponse) as caught:
            PoliteClient("test", max_bytes=1_000_000).get_json(server.url + "/x")
    assert "over 1000000 bytes" in str(caught.value) and len(caught.value.raw) <= 4000


def test_a_gzipped_answer_is_still_read():
    import gzip
    import json

    body = gzip.compress(json.dumps({"posts": ["a"]}).encode())
    server = FakeServer(lambda request: Reply(200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    with server:
        assert PoliteClient("test").get_json(server.url + "/x") == {"posts": ["a"]}
