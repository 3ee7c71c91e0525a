"""Places: found in posts with the packaged gazetteer, stored with the verdict, counted per person, said by
the alert, exported and shown on the service page."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from detector.alerting.render import render
from detector.bus.codec import verdict_from_json, verdict_to_json
from detector.cli.main import cli
from detector.places.extract import PlaceFinder
from detector.places.summary import PlaceMention, count_places, where_line
from detector.records import Place, Verdict
from detector.report import build_report
from detector.store.facts import place_mentions
from detector.store.store import Store

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 3, 4, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def finder():
    return PlaceFinder()


def labels(finder, text):
    return [place.label for place in finder.find(text)]


# The posts of the first minutes of a real regional outage, as issue 13 quotes them.
@pytest.mark.parametrize("text, expected", [
    ("no internet since 10 #kamloops", ["Kamloops, BC"]),
    ("@shaw down here too #vernonbc", ["Vernon, BC"]),
    ("kelowna glenmore and Rutland all out", ["Kelowna, BC", "Glenmore, BC", "Rutland, BC"]),
    ("Deer Run Calgary no internet or tv", ["Deer Run, AB", "Calgary, AB"]),
    ("outage at 259 Portage Avenue since noon", ["259 Portage Avenue"]),
    ("internet down #Colwood", ["Colwood, BC"]),
    ("looks like all of southern Alberta is down", ["Alberta"]),
    ("Vernon BC here, nothing works", ["Vernon, BC"]),
    ("@Xfinity Seattle outage: fixed when?", ["Seattle, WA"]),
    ("My mobile internet is down in Mobile, AL", ["Mobile, AL"]),
    ("internet disrupted in Windsor, 06095 CT since August", ["Windsor, CT"]),
])
def test_places_named_in_real_outage_posts_are_found(finder, text, expected):
    assert labels(finder, text) == expected


@pytest.mark.parametrize("text", [
    "Mobile app is down again",
    "Reading the status page, apparently everything is Normal",
    "Down again. Internet is out",
    "I hope this gets fixed before the game",
    "Thanks for the Best Service ever, Deal with it",
    "Rogers and Bell are both down",
    "15 Mbps is all I get",
    "Hi Mary! If you're in an area outage, keep an eye on the app",
])
def test_common_words_that_are_also_towns_are_not_places(finder, text):
    assert labels(finder, text) == []


def test_places_cross_the_bus_with_the_verdict():
    place = Place("Kamloops", "city", "BC", "CA", 50.6665, -120.3192)
    verdict = Verdict("s", "1", True, 0.9, places=(place, Place("259 Portage Avenue", "address")))
    assert verdict_from_json(verdict_to_json(verdict)) == verdict


def test_where_line_counts_areas_provinces_and_people():
    def mention(name, region, person, kind="city"):
        label = f"{name}, {region}" if kind == "city" else name
        return PlaceMention(label, name, kind, region, "CA", 50.0, -120.0, person)

    counts = count_places([mention("Kamloops", "BC", "a"), mention("Kamloops", "BC", "b"),
                           mention("Kamloops", "BC", "a"), mention("Vernon", "BC", "c"),
                           mention("Calgary", "AB", "d"), mention("Alberta", "AB", "e", "region")])
    assert [(c.place, c.people, c.posts) for c in counts][:2] == [("Kamloops, BC", 2, 3), ("Alberta", 1, 1)]
    assert where_line(counts) == ("reports from 4 areas in 2 provinces: Kamloops (2), Alberta (1), Calgary (1), "
                                  "Vernon (1)")
    assert where_line([]) is None


def write_posts(path: Path) -> None:
    """A quiet morning, then 40 people in 13 minutes, many naming where they are."""
    rows = [(T0 + timedelta(minutes=20 * i), f"love my xfinity tv package {i}", f"quiet{i}") for i in range(27)]
    towns = ["#kamloops", "in Vernon BC", "kelowna", "Calgary", "#Colwood", ""]
    burst = T0 + timedelta(hours=9, minutes=30)
    rows += [(burst + timedelta(seconds=20 * i), f"xfinity internet is down {towns[i % len(towns)]}", f"burst{i}")
             for i in range(40)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "ts", "text", "user"])
        for n, (moment, text, user) in enumerate(sorted(rows)):
            writer.writerow([n, moment.isoformat().replace("+00:00", "Z"), text, user])


def test_replay_stores_exports_counts_and_alerts_with_places(tmp_path):
    posts, db, sent = tmp_path / "posts.csv", tmp_path / "x.db", tmp_path / "sent.jsonl"
    write_posts(posts)
    result = CliRunner().invoke(cli, [
        "replay", str(posts), "--service", "Xfinity", "--match", "xfinity", "--kind", "isp", "--time-column", "ts",
        "--text-column", "text", "--id-column", "id", "--author-column", "user", "--db", str(db),
        "--classifier", "keywords", "--notify", f"jsonl://{sent}", "-q"])
    assert result.exit_code == 0, result.output

    out = tmp_path / "posts.csv.out"
    assert CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "csv", "--out", str(out)]).exit_code == 0
    frame = pd.read_csv(out)
    named = frame[frame["text"].str.contains("#kamloops")]
    assert len(named) == 7 and named["place"].eq("Kamloops, BC").all()
    assert frame.loc[frame["text"].str.startswith("love"), "place"].isna().all()
    assert set(frame.loc[frame["complaint"] == 1, "symptom"]) <= {"internet", "total_outage", "other"}

    with Store(db) as store:
        counts = {c.place: c.people for c in count_places(place_mentions(store, "Xfinity", T0, T0 + timedelta(days=1)))}
    assert counts == {"Kamloops, BC": 7, "Vernon, BC": 7, "Kelowna, BC": 7, "Calgary, AB": 7, "Colwood, BC": 6}

    notifications = [json.loads(line) for line in sent.read_text().splitlines()]
    opened = next(n for n in notifications if n["event"] == "opened")
    where = dict(render(opened).facts)["Where"]  # at opening: the posts up to the tipping one
    assert re.fullmatch(r"reports from [2-5] areas in [12] provinces?: (\w+ \(\d\)(, )?)+", where), where
    assert "Kamloops (1)" in where

    with Store(db) as store:  # the incident report says where, over the whole incident
        report = build_report(store, opened["alert"]["id"]).markdown()
    assert "- **Where:** reports from 5 areas in 2 provinces: Calgary \\(7\\), Kamloops \\(7\\)" in report


def test_service_page_shows_a_table_of_places(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    posts, db = tmp_path / "posts.csv", tmp_path / "x.db"
    write_posts(posts)
    result = CliRunner().invoke(cli, [
        "replay", str(posts), "--service", "Xfinity", "--match", "xfinity", "--time-column", "ts",
        "--text-column", "text", "--id-column", "id", "--author-column", "user", "--db", str(db),
        "--classifier", "keywords", "-q"])
    assert result.exit_code == 0, result.output
    for name in ("DETECTOR_DASHBOARD_PASSWORD", "DETECTOR_DASHBOARD_ANALYST_PASSWORD",
                 "DETECTOR_DASHBOARD_ONCALL_PASSWORD", "DETECTOR_SECRETS_FILE", "DETECTOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DETECTOR_DB", str(db))
    st.cache_data.clear()
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=60)
    at.query_params["page"] = "service"
    at.query_params["range"] = "incident"
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Where people report from" in [s.value for s in at.subheader]
    tables = [t.value for t in at.dataframe if "place" in t.value.columns]
    assert tables, "no table of places"
    assert set(tables[0]["place"]) == {"Kamloops, BC", "Vernon, BC", "Kelowna, BC", "Calgary, AB", "Colwood, BC"}
    st.cache_data.clear()
