"""The outage-report head end to end: what it calls an outage report, how the pipeline counts the people
reporting, what export shows, how an older database gains the columns, and what `detector train` prints."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from detector.alerting.grouping import CascadeGrouper
from detector.alerting.settings import AlertSettings
from detector.analysis import load_posts
from detector.classify.base import Classifier
from detector.classify.model import SHORT_WORDS, load_default_classifier, short_text_scale
from detector.comms.breakdown import facets
from detector.comms.facts import gather
from detector.cli.classify import train_cmd
from detector.cli.main import cli
from detector.sources.matching import ServiceRule
from detector.pipeline import Pipeline, RunReport
from detector.places.extract import PlaceFinder
from detector.records import Bucket, Post, Verdict
from detector.sources.base import SourceBatch
from detector.store import schema
from detector.store.database import create_engine, current_version, migrate
from detector.store.store import Store
from detector.volume.settings import VolumeSettings, metric_value

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def post(text: str, i: int = 0, **kwargs) -> Post:
    return Post(source="test", source_id=str(i), created_at=T0, text=text, **kwargs)


@pytest.fixture(scope="module")
def classifier():
    return load_default_classifier()


def test_fragments_of_a_conversation_are_not_outage_reports(classifier):
    fragments = ["no separate router", "15347-37 St", "OMG NO.", "that ping though! Not bad.", "DM sent"]
    verdicts = classifier.classify([post(text, i) for i, text in enumerate(fragments)])
    for text, verdict in zip(fragments, verdicts):
        assert not verdict.outage_report, text
        assert verdict.outage_report_p < 0.5, text


def test_a_billing_complaint_is_a_complaint_but_not_an_outage_report(classifier):
    texts = ["@ShawHelp why did my bill go up $20 this month without any notice? I want this fixed",
             "I have been on hold for two hours to ask about a refund for the modem rental"]
    for verdict, text in zip(classifier.classify([post(t, i) for i, t in enumerate(texts)]), texts):
        assert not verdict.outage_report, text


def test_anyone_else_down_is_an_outage_report(classifier):
    texts = ["anyone else's internet down right now?", "@ShawHelp my internet is down in Kelowna, modem light blinking"]
    for verdict, text in zip(classifier.classify([post(t, i) for i, t in enumerate(texts)]), texts):
        assert verdict.outage_report, text
        assert verdict.outage_report_p >= 0.5


def test_a_reply_is_read_with_its_parent_and_never_confident_alone(classifier):
    alone, threaded = classifier.classify([
        post("same here", 0),
        post("same here", 1, context="Is anyone else's internet down? Nothing loads since 9am"),
    ])
    assert alone.outage_report_p < threaded.outage_report_p
    assert threaded.outage_report
    assert alone.outage_report_p <= short_text_scale(["same here"])[0]


def test_short_texts_are_scaled_by_a_rule_stated_in_advance():
    scale = short_text_scale(["", "down", "is it down", "@user @user one two three four five six", "a b c"])
    assert scale[0] == pytest.approx(0.5)
    assert scale[1] == pytest.approx(0.5 + 0.5 / SHORT_WORDS)
    assert scale[2] == pytest.approx(0.5 + 0.5 * 3 / SHORT_WORDS)
    assert scale[3] == 1.0  # handles do not count, six words do
    assert scale[4] == pytest.approx(0.5)  # single letters are not words


class ScriptedClassifier(Classifier):
    """Outage reports for posts saying "down", complaints (not reports) for posts saying "bill"."""

    name = "scripted"

    def classify(self, posts):
        out = []
        for p in posts:
            down, bill = "down" in p.text, "bill" in p.text
            out.append(Verdict(p.source, p.source_id, complaint=down or bill, complaint_p=0.9 if down or bill else 0.1,
                               outage_report=down, outage_report_p=0.9 if down else 0.1, model=self.name))
        return out


def run_pipeline(store: Store, texts_and_authors: list[tuple[str, str]]) -> None:
    posts = tuple(Post("test", str(i), T0 + timedelta(seconds=i), text, author=author)
                  for i, (text, author) in enumerate(texts_and_authors))
    pipeline = Pipeline(store, rules=[ServiceRule("isp", ("isp",))], classifier=ScriptedClassifier(),
                        detection=VolumeSettings(), alerts=AlertSettings())
    pipeline.process(SourceBatch(posts, read=len(posts)), source="test", report=RunReport())


def test_the_pipeline_counts_people_reporting_outages_by_default(tmp_path):
    assert VolumeSettings().metric == "outage_people"
    store = Store(tmp_path / "d.db")
    run_pipeline(store, [("isp is down", "a"), ("isp down again", "a"), ("isp is down here too", "b"),
                         ("isp bill went up", "c"), ("isp bill is wrong", "d"), ("love isp", "e")])
    [bucket] = store.recompute_buckets({"isp": {T0}}, timedelta(minutes=1))
    assert (bucket.mentions, bucket.complaint_people, bucket.outage_reports, bucket.outage_people) == (6, 4, 3, 2)
    assert metric_value(bucket, VolumeSettings().metric) == 2
    stored = load_posts(store)
    assert stored["outage_report"].tolist() == [1, 1, 1, 0, 0, 0]
    assert stored["complaint"].tolist() == [1, 1, 1, 1, 1, 0]
    store.close()


@pytest.mark.parametrize("metric, share", [("outage_people", 1 / 2), ("complaint_people", 2 / 3)])
def test_cascade_grouping_reads_the_reports_the_metric_counts(tmp_path, metric, share):
    """An upstream named by a billing complaint links a service only when complaints are what is counted."""
    grouper = CascadeGrouper(AlertSettings(), depends_on={}, upstreams={"cloud"})
    posts = tuple(Post("test", str(i), T0 + timedelta(seconds=i), text, author=author) for i, (text, author)
                  in enumerate([("isp is down, cloud too", "a"), ("isp bill, cloud", "b"), ("isp down", "c")]))
    with Store(tmp_path / "g.db") as store:
        pipeline = Pipeline(store, rules=[ServiceRule("isp", ("isp",)), ServiceRule("cloud", ("cloud",))],
                            classifier=ScriptedClassifier(), detection=VolumeSettings(metric=metric),
                            alerts=AlertSettings(), grouper=grouper)
        pipeline.process(SourceBatch(posts, read=len(posts)), source="test", report=RunReport())
    shares, _ = grouper.naming("isp", T0 + timedelta(minutes=1))
    assert shares == {"cloud": pytest.approx(share)}


class SymptomClassifier(ScriptedClassifier):
    """The scripted verdicts, with a symptom: "internet" for outage reports, "billing" for bill complaints."""

    def classify(self, posts):
        return [replace(v, symptom="internet" if v.outage_report else "billing" if v.complaint else None)
                for v in super().classify(posts)]


@pytest.mark.parametrize("metric, people, symptoms, places", [
    ("outage_people", 2, {"internet": 2}, {"Kamloops, BC": 1}),
    ("complaint_people", 3, {"internet": 2, "billing": 1}, {"Kamloops, BC": 1, "Vernon, BC": 1}),
])
def test_people_symptoms_and_places_are_those_of_the_reports_the_metric_counts(tmp_path, metric, people, symptoms,
                                                                               places):
    posts = tuple(Post("test", str(i), T0 + timedelta(seconds=i), text, author=author) for i, (text, author) in
                  enumerate([("isp is down in Kamloops BC", "a"), ("isp down again", "b"),
                             ("isp bill is wrong, Vernon BC", "c"), ("love isp", "d")]))
    with Store(tmp_path / "f.db") as store:
        pipeline = Pipeline(store, rules=[ServiceRule("isp", ("isp",))], classifier=SymptomClassifier(),
                            detection=VolumeSettings(metric=metric), alerts=AlertSettings(), places=PlaceFinder())
        pipeline.process(SourceBatch(posts, read=len(posts)), source="test", report=RunReport())
        facts = gather(store, service="isp", incident_id="isp-1", status="open", severity="major", opened_at=T0,
                       resolved_at=None, until=T0 + timedelta(minutes=1), metric=metric)
        found = facets(store, "isp", T0, T0 + timedelta(minutes=1), limit=None, metric=metric)  # page and report
    assert (facts.people_total, facts.symptoms, facts.places) == (people, symptoms, places)
    assert dict(zip(found.symptoms["symptom"], found.symptoms["posts"])) == symptoms
    assert facts.first_report == T0 and facts.last_report == T0 + timedelta(seconds=1 if metric == "outage_people" else 2)


def test_a_verdict_reports_what_the_metric_counts():
    billing = Verdict("s", "1", complaint=True, complaint_p=0.9, outage_report=False)
    assert not billing.reports("outage_people") and not billing.reports("outage_reports")
    assert billing.reports("complaint_people") and billing.reports("complaints") and billing.reports("mentions")


def test_a_bucket_counted_without_the_outage_head_counts_its_complainers():
    bucket = Bucket("isp", T0, T0 + timedelta(minutes=1), mentions=5, complaints=4, people=4, complaint_people=3)
    assert (bucket.outage_reports, bucket.outage_people) == (4, 3)


def test_export_has_the_outage_columns(tmp_path):
    db = tmp_path / "d.db"
    store = Store(db)
    run_pipeline(store, [("isp is down", "a"), ("isp bill went up", "b")])
    store.close()
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert {"outage_report", "outage_report_p", "complaint", "complaint_p"} <= set(frame.columns)
    assert frame.set_index("text")["outage_report"].to_dict() == {"isp is down": 1, "isp bill went up": 0}
    assert frame.set_index("text")["outage_report_p"].to_dict() == {"isp is down": 0.9, "isp bill went up": 0.1}


def test_a_version_8_database_gains_the_outage_columns_and_keeps_its_verdicts(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(path)
    migrate(engine, target=8)
    with engine.begin() as conn:  # version 8 had neither column: drop what create_all made from today's schema
        for table, column in (("verdicts", "outage_report"), ("verdicts", "outage_report_p"),
                              ("buckets", "outage_reports"), ("buckets", "outage_people")):
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(schema.posts.insert().values(
            id=1, source="x", source_id="1", created_at=T0, text="isp is down", person="p", ingested_at=T0))
        conn.execute(schema.post_services.insert().values(post_id=1, service="isp", created_at=T0))
        conn.execute(sa.text(
            "INSERT INTO verdicts (post_id, model, complaint, complaint_p, misinformation, misinformation_p, "
            "confidence) VALUES (1, 'old', 1, 0.8, 0, 0.0, 0.9)"))
    assert current_version(engine) == 8
    engine.dispose()

    store = Store(path)
    assert store.version == schema.SCHEMA_VERSION >= 9
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("verdicts")}
    assert {"outage_report", "outage_report_p"} <= columns
    row = load_posts(store).iloc[0]
    assert (row["outage_report"], row["outage_report_p"]) == (1, 0.8)  # the old complaint stands in
    [bucket] = store.recompute_buckets({"isp": {T0}}, timedelta(minutes=1))
    assert bucket.outage_people == 1
    store.close()
    assert Store(path).version == schema.SCHEMA_VERSION  # opening again changes nothing


def test_train_shows_rows_encoded_and_fits_with_an_eta(tmp_path):
    rows = [("my internet is down again", 1), ("no connection since this morning", 1), ("is it down for anyone", 1),
            ("wifi dead, modem blinking", 1), ("tv and internet both out", 1), ("service out in my area", 1),
            ("why is my bill higher", 0), ("on hold for an hour", 0), ("love the new channels", 0),
            ("what plans do you have", 0), ("thanks for the help", 0), ("the remote is broken", 0)]
    data = tmp_path / "rows.csv"
    pd.DataFrame(rows, columns=["text", "outage_report"]).to_csv(data, index=False)
    result = CliRunner().invoke(train_cmd, ["--task", "outage_report", "--data", str(data), "--folds", "3",
                                            "--out", str(tmp_path / "head")])
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "encoding" in err and "12/12" in err
    assert "fitting" in err and "4/4" in err
    assert "outage_report: 12 rows" in result.stdout
