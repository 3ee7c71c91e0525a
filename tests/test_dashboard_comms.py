"""The comms view: on the incident page and in the Overview during an outage, the same numbers as
`detector.comms.facts`, rumours with their text, the status page, and the drafted update to copy."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import sample
from detector.comms.draft import draft
from detector.comms.facts import gather
from dashboard.queries import data_clock, incident
from detector.store.store import Store

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> sample.Sample:
    return sample.build(tmp_path_factory.mktemp("comms") / "c.db", posts=2000)


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in ("DETECTOR_DASHBOARD_PASSWORD", "DETECTOR_DASHBOARD_ANALYST_PASSWORD",
                 "DETECTOR_DASHBOARD_ONCALL_PASSWORD", "DETECTOR_SECRETS_FILE", "DETECTOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def run(db: sample.Sample, monkeypatch, **params: str) -> AppTest:
    monkeypatch.setenv("DETECTOR_DB", str(db.path))
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def expected_facts(db: sample.Sample, alert_id: str):
    with Store(db.path) as store:
        row = incident(store, alert_id)
        until = row["resolved_at"] or data_clock(store)[row["service"]]
        return gather(store, service=row["service"], incident_id=alert_id, status=row["status"],
                      severity=row["severity"], opened_at=row["opened_at"], resolved_at=row["resolved_at"],
                      until=until)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_incident_page_shows_the_comms_view_and_the_drafted_update(db, monkeypatch):
    at = run(db, monkeypatch, incident=db.open_incident)
    facts = expected_facts(db, db.open_incident)
    shown = metrics(at)
    assert shown["People reporting now"] == str(facts.people_now) and shown["People in all"] == str(facts.people_total)
    assert facts.people_total > 0 and facts.live
    assert any(t.value.startswith("Peak: ") and facts.peak.describe(facts.unit) in t.value for t in at.text)
    assert [c.value for c in at.code] == [draft(facts).holding, draft(facts).follow_up]
    assert "Download the drafted update (text)" in {b.proto.label for b in at.get("download_button")}
    rumours = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert rumours["posts"].sum() == sum(r.posts for r in facts.rumours)
    official = facts.official[0]  # the sample's status page acknowledged the open incident
    assert any(t.value.startswith(f"{official['status']}: {official['title']}") for t in at.text)
    assert any("No places named" in c.value for c in at.caption)  # the sample names no places


def test_a_resolved_incident_shows_when_reports_stopped_not_a_stale_now(db, monkeypatch):
    at = run(db, monkeypatch, incident=db.resolved_incident)
    shown = metrics(at)
    assert shown["People reporting now"] == "-" and "Reports stopped (UTC)" in shown
    assert "(resolved)" in at.markdown[-1].value or any("Follow-up (resolved)" in m.value for m in at.markdown)


def test_the_overview_shows_the_comms_view_of_an_outage(db, monkeypatch):
    at = run(db, monkeypatch, page="overview")
    facts = expected_facts(db, db.open_incident)
    shown = metrics(at)
    assert shown["People in all"] == str(facts.people_total)
    assert any(t.value.startswith("What: ") and "Where: no places named" in t.value for t in at.text)
    table = at.dataframe[0].value  # the Overview's peak is the comms peak, not the alert's deciding window
    assert float(table.loc[table["service"] == "Xfinity", "peak_ratio"].iloc[0]) == pytest.approx(facts.peak.ratio, abs=0.05)
    at.button(key=f"incident-{db.open_incident}").click().run()
    assert at.selectbox(key="incident").value == db.open_incident


def test_the_service_pages_rumours_carry_the_claim_text_verdict_answer_and_an_example(db, monkeypatch, tmp_path):
    claims = tmp_path / "claims.toml"
    claims.write_text('[[claim]]\nid = "ddos-attack"\ntext = "Xfinity is under a DDoS attack"\nverdict = "false"\n'
                      'reference = "https://status.example.com/answers/ddos"\n')
    config = tmp_path / "c.toml"
    config.write_text(f'[classifier]\nkind = "keywords"\nclaims = "{claims}"\n')
    monkeypatch.setenv("DETECTOR_CONFIG", str(config))
    at = run(db, monkeypatch, page="service", service="Xfinity", range="24h")
    table = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    known = table[table["verdict"] == "false"].iloc[0]
    assert known["claim"] == "Xfinity is under a DDoS attack" and known["answer"].endswith("/answers/ddos")
    unmatched = table[table["claim"] == "not in the claims file"].iloc[0]
    assert isinstance(unmatched["example"], str) and unmatched["example"]
    assert "(unmatched rumour)" not in table["claim"].tolist()
