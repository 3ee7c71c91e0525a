"""The password gate and the roles: viewers read, analysts label, on-call acts; nobody else gets in."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import access, actions, data, sample
from detector.secrets import Secrets
from detector.store import schema
from detector.store.store import Store

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


@pytest.fixture
def db(tmp_path, monkeypatch) -> sample.Sample:
    built = sample.build(tmp_path / "gate.db", posts=800)
    monkeypatch.setenv("DETECTOR_DB", str(built.path))
    monkeypatch.setenv("DETECTOR_DASHBOARD_PASSWORD", "read-only-pw")
    monkeypatch.setenv("DETECTOR_DASHBOARD_ONCALL_PASSWORD", "on-call-pw")
    monkeypatch.delenv("DETECTOR_DASHBOARD_ANALYST_PASSWORD", raising=False)
    st.cache_data.clear()
    data.login_throttle.cache_clear()  # the password limiter is shared by every session of the process
    return built


def log_in(password: str, page: str = "alerts", name: str = "ana") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["page"] = page
    at.run()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    return at


def status_of(db: sample.Sample) -> str:
    with Store(db.path) as store, store.engine.connect() as conn:
        return conn.execute(sa.select(schema.alerts.c.status).where(schema.alerts.c.id == db.open_incident)).scalar()


def test_without_a_password_nothing_is_shown(db):
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["page"] = "alerts"
    at.run()
    assert not at.exception
    assert [h.value for h in at.header] == []  # no page rendered
    assert not at.dataframe and not at.text
    assert at.text_input(key="login_password").proto.type == 1  # a password field (masked)


def test_a_wrong_password_is_refused(db):
    at = log_in("guess")
    assert any("Wrong password" in e.value for e in at.error)
    assert [h.value for h in at.header] == []


def test_a_viewer_reads_but_cannot_act(db):
    at = log_in("read-only-pw")
    assert not at.exception
    assert at.header[0].value == "Alerts"
    assert at.button(key=f"ack-{db.open_incident}").disabled
    assert at.button(key=f"resolve-{db.open_incident}").disabled
    assert any("cannot" in i.value or "not change" in i.value for i in at.info)
    forged = at.button(key=f"ack-{db.open_incident}")
    forged.proto.disabled = False  # as a tampered client would send it
    forged.click().run()
    assert status_of(db) == "open"


def test_on_call_can_acknowledge(db):
    at = log_in("on-call-pw", name="sam")
    assert not at.button(key=f"ack-{db.open_incident}").disabled
    at.button(key=f"ack-{db.open_incident}").click().run()
    assert not at.exception
    assert status_of(db) == "acknowledged"
    with Store(db.path) as store, store.engine.connect() as conn:
        detail = conn.execute(sa.select(schema.alert_events.c.detail).order_by(schema.alert_events.c.id.desc())).scalar()
    assert detail["by"] == "dashboard:sam"


def test_a_viewer_cannot_label(db):
    at = log_in("read-only-pw", page="explore")
    assert all(b.disabled for b in at.button if b.label == "Save labels")


def test_actions_check_the_role_themselves(db):
    viewer, analyst = access.Viewer("v", "viewer"), access.Viewer("a", "analyst")
    with Store(db.path) as store:
        for call in (lambda: actions.acknowledge(store, viewer, db.open_incident),
                     lambda: actions.resolve(store, analyst, db.open_incident),
                     lambda: actions.silence(store, analyst, "Xfinity", __import__("datetime").timedelta(hours=1), ""),
                     lambda: actions.save_labels(store, viewer, 1, {"complaint": "1"})):
            with pytest.raises(actions.NotAllowed):
                call()
        assert actions.save_labels(store, analyst, 1, {"complaint": "0"}) == 1
        assert store.count("silences") == 0
    assert status_of(db) == "open"


def test_roles_from_passwords_and_emails():
    secrets = Secrets(environ={"DETECTOR_DASHBOARD_PASSWORD": "v", "DETECTOR_DASHBOARD_ANALYST_PASSWORD": "a",
                               "DETECTOR_DASHBOARD_ONCALL_PASSWORD": "o",
                               "DETECTOR_DASHBOARD_ONCALL": "Sam@Example.com, kim@example.com",
                               "DETECTOR_DASHBOARD_ANALYSTS": "ana@example.com"})
    passwords = access.configured_passwords(secrets)
    assert [access.role_for_password(passwords, p) for p in ("v", "a", "o", "x", "")] == \
        ["viewer", "analyst", "oncall", None, None]
    assert access.role_for_email(secrets, "sam@example.com") == "oncall"
    assert access.role_for_email(secrets, "ana@example.com") == "analyst"
    assert access.role_for_email(secrets, "eve@example.com") == "viewer"
    assert access.role_for_email(secrets, None) == "viewer"
    assert access.configured_passwords(Secrets(environ={})) == {}


def test_passwords_come_from_the_secrets_file(tmp_path):
    file = tmp_path / "secrets.toml"
    file.write_text('dashboard_oncall_password = "from-file"\n')
    passwords = access.configured_passwords(Secrets(file, environ={}))
    assert access.role_for_password(passwords, "from-file") == "oncall"


def test_with_oidc_configured_the_login_button_comes_first(db):
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s",
                          "client_id": "id", "client_secret": "secret",
                          "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration"}
    at.query_params["page"] = "alerts"
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in"]
    assert [h.value for h in at.header] == [] and not at.text_input  # no page, and no password form
