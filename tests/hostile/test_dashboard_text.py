"""User-supplied strings (service names, post text, status-page titles, place names, the log-in name) are
shown by every dashboard page as literal text: never as Markdown or HTML, so an image in a service name is
not fetched by every viewer and a link in a post is not clickable. Real pages through AppTest, real SQLite.

AppTest gives each element's source, not the browser's rendering, so the checks are on that source: a string
rendered as Markdown must carry no unescaped payload (``![``, ``](``, ``**``, ``<``), and once the escapes
are undone it must read as the original; plain-text elements (st.text, st.code, tables, select options)
must carry the payload as it is.
"""

from __future__ import annotations

import html
import re
import sqlite3
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import sample

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboard" / "app.py")

IMAGE = "![x](http://127.0.0.1:9/x.png)"
TAG = "<img src=x onerror=alert(1)>"
BOLD = "**bold**"
LINK = "[link](javascript:alert(1))"
PAYLOADS = (IMAGE, TAG, BOLD, LINK)
SERVICE = f"Acme {IMAGE} {BOLD} {TAG} {LINK}"
TITLE = f"Status {TAG} {LINK} {IMAGE}"
PLACE = f"Town {LINK} {TAG} {BOLD}"
POST = f"acme down {BOLD} {IMAGE} {LINK} {TAG}"
# Unescaped Markdown or HTML that would become an element: an image or a link, a tag, the payload's bold
# (the pages' own bold headings are theirs), a bare URL (GitHub-flavoured Markdown links it).
LIVE_MARKUP = re.compile(r"(?<!\\)!\[|(?<!\\)\]\(|<[a-zA-Z/!]|\*\*bold|https?://")
MARKDOWN_KINDS = ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success",
                  "toast")


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> sample.Sample:
    """The sample database with a hostile service name, status-page title, place name and post text."""
    built = sample.build(tmp_path_factory.mktemp("hostile") / "hostile.db", posts=1500,
                         names=(SERVICE, "Spotify"))
    con = sqlite3.connect(built.path)
    try:
        with con:
            con.execute("UPDATE official_incidents SET title = ?", (TITLE,))
            # the open incident's clearest complaint (sample's first hostile post) now carries every payload
            post_id, created = con.execute(
                "SELECT p.id, p.created_at FROM posts p JOIN verdicts v ON v.post_id = p.id "
                "ORDER BY v.complaint_p DESC LIMIT 1").fetchone()
            con.execute("UPDATE posts SET text = ? WHERE id = ?", (POST, post_id))
            complaints = [r[0] for r in con.execute(
                "SELECT p.id FROM posts p JOIN post_services s ON s.post_id = p.id JOIN verdicts v "
                "ON v.post_id = p.id WHERE s.service = ? AND v.complaint = 1 AND p.created_at >= ? "
                "ORDER BY p.created_at DESC LIMIT 5", (SERVICE, created[:11] + "00:00:00")).fetchall()]
            con.executemany(
                "INSERT INTO post_places (post_id, place, name, kind, region, country, lat, lon) "
                "VALUES (?,?,?,?,?,?,?,?)", [(i, PLACE, PLACE, "city", "ON", "CA", 45.4, -75.7) for i in complaints])
    finally:
        con.close()
    return built


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in ("DETECTOR_DASHBOARD_PASSWORD", "DETECTOR_DASHBOARD_ANALYST_PASSWORD",
                 "DETECTOR_DASHBOARD_ONCALL_PASSWORD", "DETECTOR_SECRETS_FILE", "DETECTOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def _open(db: sample.Sample, monkeypatch, page: str, **params: str) -> AppTest:
    monkeypatch.setenv("DETECTOR_DB", str(db.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = page
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _unescape(markdown: str) -> str:
    """What the reader sees: escapes undone, entities read, the invisible word joiners gone."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown)).replace("\u2060", "")


def _markdown_sources(at: AppTest) -> list[str]:
    """Every string of the page that Streamlit renders as Markdown: bodies, and widget and metric labels."""
    sources = [str(e.value) for kind in MARKDOWN_KINDS for e in getattr(at, kind)]
    sources += [str(e.label) for kind in ("button", "expander", "metric", "selectbox", "radio") for e in getattr(at, kind)]
    sources += [str(e.label) for e in at.get("download_button")]
    return sources


def _plain_texts(at: AppTest) -> list[str]:
    """Strings shown as they are: st.text, st.code, table cells, select options."""
    texts = [str(e.value) for e in at.text] + [str(e.value) for e in at.code]
    for frame in at.dataframe:
        texts += [str(v) for v in frame.value.astype(str).to_numpy().ravel()]
    for box in at.selectbox:
        texts += [str(o) for o in box.options]
    return texts


def _check(at: AppTest, expected_as_markdown: tuple[str, ...], expected_as_text: tuple[str, ...]) -> None:
    sources = _markdown_sources(at)
    live = [s for s in sources if LIVE_MARKUP.search(s)]
    assert live == [], f"Markdown with live markup: {live}"
    shown = [_unescape(s) for s in sources]
    for value in expected_as_markdown:
        assert any(value in s for s in shown), f"{value!r} is not shown (escaped) in any label or caption"
    plain = _plain_texts(at)
    for value in expected_as_text:
        assert any(value in t for t in plain), f"{value!r} is not shown as plain text"


def test_overview_shows_hostile_service_names_as_text(hostile_db, monkeypatch):
    at = _open(hostile_db, monkeypatch, "overview")
    _check(at, expected_as_markdown=(SERVICE,), expected_as_text=(SERVICE, TITLE))


def test_service_page_shows_hostile_names_places_and_posts_as_text(hostile_db, monkeypatch):
    at = _open(hostile_db, monkeypatch, "service", service=SERVICE, range="incident")
    _check(at, expected_as_markdown=(), expected_as_text=(SERVICE, PLACE, POST))


def test_alerts_page_shows_hostile_names_titles_places_and_posts_as_text(hostile_db, monkeypatch):
    at = _open(hostile_db, monkeypatch, "alerts")
    _check(at, expected_as_markdown=(SERVICE, f"Incident {hostile_db.open_incident}"),
           expected_as_text=(TITLE, PLACE, POST))


def test_explore_page_shows_hostile_names_and_posts_as_text(hostile_db, monkeypatch):
    at = _open(hostile_db, monkeypatch, "explore")
    _check(at, expected_as_markdown=(), expected_as_text=(SERVICE, POST))


def test_the_checks_catch_a_name_rendered_as_markdown(tmp_path, monkeypatch):
    """The check above can fail: a page that writes a service name into Markdown unescaped is caught."""
    script = tmp_path / "page.py"
    script.write_text(f"import streamlit as st\nst.button({SERVICE!r})\nst.caption({SERVICE!r})\n")
    at = AppTest.from_file(str(script)).run()
    with pytest.raises(AssertionError, match="live markup"):
        _check(at, expected_as_markdown=(SERVICE,), expected_as_text=())


def test_the_report_escapes_hostile_names_titles_places_and_posts(hostile_db):
    """`detector report --format html|md` through the real CLI."""
    from click.testing import CliRunner

    from detector.cli.main import cli

    def report(fmt: str) -> str:
        result = CliRunner().invoke(cli, ["report", hostile_db.open_incident, "--db", str(hostile_db.path),
                                          "--format", fmt])
        assert result.exit_code == 0, result.output
        return result.output

    page, markdown = report("html"), report("md")
    for value in (SERVICE, TITLE, PLACE, POST):
        assert html.escape(value) in page, value
    assert "<img" not in page and "<script" not in page
    assert 'src="http://127.0.0.1:9' not in page and 'href="javascript' not in page
    assert IMAGE not in markdown and LINK not in markdown and TAG not in markdown and BOLD not in markdown


def test_a_hostile_claim_text_and_answer_are_text_on_the_service_and_alerts_pages(hostile_db, monkeypatch,
                                                                                 tmp_path):
    """A claims file's text is the user's too; its answer link is kept only when it is http(s)."""
    import json

    claim = f"Acme was hacked {IMAGE} {TAG} {BOLD}"
    claims = tmp_path / "claims.toml"
    claims.write_text(f'[[claim]]\nid = "hacked-data-breach"\ntext = {json.dumps(claim)}\nverdict = "false"\n'
                      f'reference = {json.dumps("javascript:alert(1)")}\n')
    config = tmp_path / "c.toml"
    config.write_text(f'[classifier]\nkind = "keywords"\nclaims = {json.dumps(str(claims))}\n')
    monkeypatch.setenv("DETECTOR_CONFIG", str(config))
    for page, params in (("service", {"service": SERVICE, "range": "incident"}), ("alerts", {})):
        at = _open(hostile_db, monkeypatch, page, **params)
        _check(at, expected_as_markdown=(), expected_as_text=(claim,))
        answers = [v for frame in at.dataframe for column in ("answer",) if column in frame.value.columns
                   for v in frame.value[column].tolist()]
        assert not any(str(v).startswith("javascript") for v in answers), answers
