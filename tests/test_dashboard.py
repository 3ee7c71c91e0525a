"""Every dashboard page through streamlit.testing's AppTest, against a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]

import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import sample
from detector.store import schema
from detector.store.store import Store

APP = str(REPO / "dashboard" / "app.py")
PASSWORDS = ("DETECTOR_DASHBOARD_PASSWORD", "DETECTOR_DASHBOARD_ANALYST_PASSWORD", "DETECTOR_DASHBOARD_ONCALL_PASSWORD")


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory) -> sample.Sample:
    """A database the read-only tests share (the writing tests build their own)."""
    return sample.build(tmp_path_factory.mktemp("dash") / "read.db", posts=3000)


@pytest.fixture
def own_db(tmp_path) -> sample.Sample:
    return sample.build(tmp_path / "write.db", posts=1500)


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in PASSWORDS + ("DETECTOR_SECRETS_FILE", "DETECTOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page(db: sample.Sample, monkeypatch, page: str, **params: str) -> AppTest:
    monkeypatch.setenv("DETECTOR_DB", str(db.path))
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["page"] = page
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_overview_lists_services_outage_first(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "overview")
    no_exceptions(at)
    assert at.header[0].value == "Overview"
    table = at.dataframe[0].value
    assert table["service"].tolist()[0] == "Xfinity"
    assert table["state"].tolist()[0] == "OUTAGE"
    assert at.metric[0].value == "1"  # one service with an open incident
    assert len(table["sparkline"].iloc[0]) > 10


def test_overview_button_opens_the_service_page(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "overview")
    at.button(key="open-ChatGPT").click().run()
    no_exceptions(at)
    assert at.header[0].value == "Service"
    assert at.selectbox(key="service").value == "ChatGPT"


def test_service_page_shows_chart_symptoms_rumours_and_escaped_posts(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "service", service="Xfinity", range="24h")
    no_exceptions(at)
    assert at.selectbox(key="service").value == "Xfinity"
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    subheaders = [s.value for s in at.subheader]
    assert {"Most reported problems", "Rumours being repeated", "What people say", "Languages"} <= set(subheaders)
    texts = [t.value for t in at.text]
    assert any(t.startswith("<script>alert(1)</script>") for t in texts)  # shown as text, verbatim
    assert any(t.startswith("<img src=x onerror=alert(1)>") for t in texts)
    assert not any("<script>" in m.value for m in at.markdown)  # never handed to markdown
    assert any(m.label == "State" and "outage" in m.value for m in at.metric)


@pytest.mark.parametrize("choice", ["1h", "7d", "custom"])
def test_service_page_ranges(shared_db, monkeypatch, choice):
    at = open_page(shared_db, monkeypatch, "service", service="ChatGPT", range=choice)
    no_exceptions(at)
    assert at.radio(key="range").value == choice


def test_alerts_page_shows_evidence_timeline_and_dead_deliveries(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "alerts")
    no_exceptions(at)
    assert at.selectbox(key="incident").value == shared_db.open_incident  # open incidents first
    assert any("dead" in e.value for e in at.error)
    frames = [d.value for d in at.dataframe]
    deliveries = next(f for f in frames if "channel" in f.columns)
    assert deliveries.set_index("channel").loc["pagerduty", "dead"] == 1
    assert any(t.value.startswith("<script>") for t in at.text)  # evidence posts, as text
    assert not at.button(key=f"ack-{shared_db.open_incident}").disabled


def test_ack_and_resolve_do_what_the_cli_does(own_db, monkeypatch):
    at = open_page(own_db, monkeypatch, "alerts")
    at.button(key=f"ack-{own_db.open_incident}").click().run()
    no_exceptions(at)
    with Store(own_db.path) as store:
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(schema.alerts).where(schema.alerts.c.id == own_db.open_incident)).one()
            events = conn.execute(sa.select(schema.alert_events.c.kind, schema.alert_events.c.detail)
                                  .where(schema.alert_events.c.alert_id == own_db.open_incident)).all()
    assert row.status == "acknowledged" and row.acknowledged_at is not None
    assert events[-1].kind == "acknowledged" and events[-1].detail == {"by": "dashboard:local", "manual": True}
    at.button(key=f"resolve-{own_db.open_incident}").click().run()
    no_exceptions(at)
    with Store(own_db.path) as store, store.engine.connect() as conn:
        status = conn.execute(sa.select(schema.alerts.c.status).where(schema.alerts.c.id == own_db.open_incident)).scalar()
    assert status == "resolved"


def test_silence_form_writes_a_silence(own_db, monkeypatch):
    at = open_page(own_db, monkeypatch, "alerts")
    at.selectbox(key="silence_service").select("ChatGPT")
    at.number_input(key="silence_hours").set_value(2.0)
    at.text_input(key="silence_reason").input("planned maintenance")
    at.button[[b.label for b in at.button].index("Silence notifications")].click().run()
    no_exceptions(at)
    with Store(own_db.path) as store, store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.silences)).all()
    assert len(rows) == 1
    assert rows[0].service == "ChatGPT" and rows[0].reason == "planned maintenance"
    assert rows[0].created_by == "dashboard:local"
    assert abs((rows[0].ends_at - rows[0].starts_at).total_seconds() - 7200) < 1


def test_explore_filters_pages_and_downloads(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "explore")
    no_exceptions(at)
    everything = at.dataframe[0].value
    assert len(everything) == 100  # one page
    at.selectbox(key="explore_service").select("Xfinity")
    at.selectbox(key="explore_label").select("complaint")
    at.text_input(key="explore_text").input("<script>").run()
    no_exceptions(at)
    page = at.dataframe[0].value
    assert len(page) == 1 and page["text"].iloc[0].startswith("<script>")
    assert {b.proto.label for b in at.get("download_button")} >= {"CSV", "Parquet"}


def test_labelling_queue_writes_labels_least_certain_first(own_db, monkeypatch):
    at = open_page(own_db, monkeypatch, "explore")
    queue_keys = [r.key for r in at.radio if r.key and r.key.startswith("lc-")]
    assert len(queue_keys) == 5
    post_id = int(queue_keys[0].split("-")[1])
    at.radio(key=f"lc-{post_id}").set_value("1")
    at.radio(key=f"lm-{post_id}").set_value("0")
    at.selectbox(key=f"ls-{post_id}").select("login")
    save = next(b for b in at.button if b.label == "Save labels")
    save.click().run()
    no_exceptions(at)
    with Store(own_db.path) as store, store.engine.connect() as conn:
        rows = {r.task: r for r in conn.execute(sa.select(schema.labels).where(schema.labels.c.post_id == post_id))}
        p = conn.execute(sa.select(schema.verdicts.c.complaint_p)).scalars().all()
    assert {t: r.label for t, r in rows.items()} == {"complaint": "1", "misinformation": "0", "symptom": "login"}
    assert rows["complaint"].labeller == "local"
    assert f"lc-{post_id}" not in [r.key for r in at.radio]  # labelled posts leave the queue
    assert min(abs(x - 0.5) for x in p) <= 0.01


def test_missing_database_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_DB", str(tmp_path / "nope.db"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert any("does not exist" in e.value for e in at.error)


def test_service_page_ranges_around_an_incident(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "service", service="Xfinity", range="incident",
                   incident=shared_db.resolved_incident)
    no_exceptions(at)
    assert at.selectbox(key="incident_view").value == shared_db.resolved_incident
    assert any(c.value.startswith("2026-01-14 08:") for c in at.caption)  # opened 10:05, two hours before


def test_alerts_page_links_an_incident_to_the_service_page(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "alerts")
    at.button(key=f"show-{shared_db.open_incident}").click().run()
    no_exceptions(at)
    assert at.header[0].value == "Service"
    assert at.radio(key="range").value == "incident"
    assert at.selectbox(key="incident_view").value == shared_db.open_incident


def test_a_resolved_incident_can_be_acknowledged_for_the_record(own_db, monkeypatch):
    at = open_page(own_db, monkeypatch, "alerts")
    at.selectbox(key="incident").select(own_db.resolved_incident).run()
    button = at.button(key=f"ack-{own_db.resolved_incident}")
    assert not button.disabled
    button.click().run()
    no_exceptions(at)
    with Store(own_db.path) as store, store.engine.connect() as conn:
        row = conn.execute(sa.select(schema.alerts).where(schema.alerts.c.id == own_db.resolved_incident)).one()
    assert row.status == "resolved" and row.acknowledged_at is not None
    assert at.button(key=f"ack-{own_db.resolved_incident}").disabled


def test_alerts_page_shows_the_last_backtest_escaped(own_db, monkeypatch):
    from datetime import datetime, timezone

    from detector.store.backtests import save_backtest

    row = {"budget": 0.25, "caught": 3, "incidents": 5, "median_lead_ack_minutes": 4.5, "worst_lead_ack_minutes": -2.0,
           "median_lead_first_report_minutes": -3.0, "worst_lead_first_report_minutes": -9.5,
           "false_alerts": 2, "false_alerts_per_week": 0.061, "weeks_outside": 32.8}
    with Store(own_db.path) as store:
        save_backtest(store, posts_file="old.csv", truth_file="old.csv", services=["ChatGPT"], rows=[row],
                      settings={}, ran_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
        save_backtest(store, posts_file="<b>posts</b>.csv", truth_file="incidents.csv", services=["ChatGPT"],
                      rows=[row, {**row, "budget": 1.0, "caught": 4, "false_alerts": 7, "false_alerts_per_week": 0.213}],
                      settings={"margin_minutes": 15, "budget_setting": "false_alerts_per_week"},
                      ran_at=datetime(2026, 2, 1, tzinfo=timezone.utc))
    at = open_page(own_db, monkeypatch, "alerts")
    no_exceptions(at)
    table = next(d.value for d in at.dataframe if "budget (alerts/week)" in d.value.columns)
    assert table["budget (alerts/week)"].tolist() == [0.25, 1.0]
    assert table["caught"].tolist() == ["3 of 5", "4 of 5"]
    assert table["false alerts/week"].tolist() == [0.061, 0.213]
    assert table["worst lead vs 1st report (min)"].tolist() == [-9.5, -9.5]
    text = " ".join(m.value for m in at.markdown)
    assert "&lt;b&gt;posts&lt;/b&gt;" in text and "<b>" not in text  # the newest, its file name escaped
    assert "2026\\-02\\-01" in text


def test_alerts_page_without_a_backtest_says_how_to_run_one(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "alerts")
    no_exceptions(at)
    assert any("No backtest yet" in c.value for c in at.caption)
