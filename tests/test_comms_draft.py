"""The drafted public update: filled from the facts only, a sentence without its fact left out, templates
from `[comms] templates` validated with the valid placeholder names in the error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from detector.comms.draft import draft, fill
from detector.comms.facts import IncidentFacts, Peak, Rumour
from detector.comms.settings import CommsSettings

T = datetime(2026, 3, 5, 14, 0, tzinfo=timezone.utc)


def facts(**changes) -> IncidentFacts:
    base = dict(
        service="Lumen Bank", incident_id="lumen-bank-1", status="open", severity="major", opened_at=T,
        resolved_at=None, until=T + timedelta(minutes=40), metric="complaint_people", counted_from=T - timedelta(minutes=15),
        peak=Peak(T + timedelta(minutes=10), 30.0, 0.4, 30.0), now=None, people_total=139, people_now=41,
        people_joined=(), first_report=T - timedelta(minutes=4), last_report=None, trend="falling",
        symptoms={"login": 80, "payments": 30}, places=None,
        rumours=[Rumour("lumen-shutting-down", "Lumen Bank is shutting down", "false", "https://lumen.example/facts",
                        18, "Lumen Bank is shutting down, that's why the app is offline", T, T),
                 Rumour(None, "<script>x</script>", None, None, 5, "<script>x</script>", T, T)],
        official=[],
    )
    return IncidentFacts(**{**base, **changes})


def test_holding_statement_has_the_numbers_symptoms_and_the_rebuttal_and_drops_what_is_unknown():
    d = draft(facts())
    assert "Lumen Bank customers are having problems with signing in and payments since 13:56 UTC." in d.holding
    assert "139 people have reported it so far." in d.holding
    assert "Reports mention" not in d.holding  # no places named: the sentence is left out, not "[places]"
    assert ("Some posts claim that Lumen Bank is shutting down: this is false, see https://lumen.example/facts."
            in d.holding)
    assert "<script>" not in d.text() and "{" not in d.text()  # unmatched rumours' post text never enters it
    assert d.follow_up_kind == "update" and "41 people reported problems in the last 15 minutes" in d.follow_up
    assert "status page" not in d.follow_up  # no official incident known


def test_places_and_status_page_fill_in_when_known_and_the_resolved_follow_up_uses_the_last_report():
    done = facts(resolved_at=T + timedelta(minutes=70), last_report=T + timedelta(minutes=38), people_now=None,
                 places={"Leeds": 12, "Manchester": 5},
                 official=[{"status": "resolved", "title": "App login issues", "url": "https://status.lumen.example/1"}])
    d = draft(done)
    assert d.follow_up_kind == "resolved"
    assert "Between 13:56 UTC and 14:38 UTC (42 min)" in d.follow_up and "Leeds and Manchester" in d.follow_up
    assert "15:10" not in d.follow_up  # the resolve wait is not part of the outage


def test_templates_from_config_are_validated_and_used():
    with pytest.raises(ValidationError, match=r"unknown placeholder \{duraton\}; valid: \{service\}"):
        CommsSettings(templates={"holding": "Down for {duraton}."})
    with pytest.raises(ValidationError, match="unknown template 'holdng'"):
        CommsSettings(templates={"holdng": "x"})
    own = CommsSettings(templates={"holding": "Hi from {service}! Fixing {symptoms}. Seen in {places}."})
    assert draft(facts(), own.templates).holding == "Hi from Lumen Bank! Fixing signing in and payments."


def test_fill_keeps_literal_braces_and_lines():
    assert fill("{service} {{ok}}.\nNext line {places}.", {"service": "S", "places": None}) == "S {ok}."


def test_a_bad_placeholder_in_the_config_file_is_a_located_one_line_error(tmp_path):
    from click.testing import CliRunner

    from detector.cli.main import cli

    config = tmp_path / "c.toml"
    config.write_text('[comms.templates]\nholding = "Down since {snice}."\n')
    result = CliRunner().invoke(cli, ["config", "check", str(config)])
    assert result.exit_code != 0
    assert "comms" in result.output and "{snice}" in result.output and "{since}" in result.output
