"""The whole job on recorded data: replay -> match -> classify -> buckets -> detect -> incidents."""

import csv
import json
import random
from datetime import datetime, timedelta, timezone

import pandas as pd
from click.testing import CliRunner

import detector
from detector.cli.main import cli

T0 = datetime(2024, 3, 4, 0, 0, tzinfo=timezone.utc)
BURST = T0 + timedelta(hours=9, minutes=30)

CHATTER = ["love the new xfinity app", "xfinity tv has a good lineup tonight", "switching to xfinity mobile",
           "xfinity ad again lol", "does xfinity have a student plan"]
COMPLAINTS = ["xfinity internet is down again", "is xfinity down for anyone else?", "xfinity outage in my area",
              "no internet xfinity not working", "xfinity wifi keeps disconnecting"]


def write_posts(path, *, burst: bool, seed: int = 7, hours: int = 12):
    """A quiet day of a few posts an hour (some complaints), and optionally a burst of 40 people."""
    rng = random.Random(seed)
    rows, n = [], 0
    moment = T0
    while moment < T0 + timedelta(hours=hours):
        moment += timedelta(seconds=rng.expovariate(6 / 3600))
        text = rng.choice(COMPLAINTS if rng.random() < 0.3 else CHATTER)
        rows.append((moment, text, f"user{rng.randrange(400)}"))
    if burst:
        for i in range(40):
            rows.append((BURST + timedelta(seconds=20 * i + rng.random() * 10), rng.choice(COMPLAINTS), f"burst{i}"))
    rows.sort()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "ts", "text", "user"])
        for moment, text, user in rows:
            n += 1
            writer.writerow([n, moment.isoformat().replace("+00:00", "Z"), text, user])
    return rows


def replay(path, db, *extra):
    args = ["replay", str(path), "--service", "Xfinity", "--match", "xfinity", "--time-column", "ts",
            "--text-column", "text", "--id-column", "id", "--author-column", "user", "--db", str(db),
            "--classifier", "keywords", "-q", *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.output


def alerts_json(db):
    result = CliRunner().invoke(cli, ["alerts", "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_burst_opens_one_incident_at_the_tipping_post(tmp_path):
    path, db = tmp_path / "posts.csv", tmp_path / "x.db"
    rows = write_posts(path, burst=True)
    output = replay(path, db)
    assert "read 0" not in output and "quarantined 0" in output
    alerts = alerts_json(db)
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert set(alert) >= {"id", "service", "opened_at", "resolved_at", "severity", "peak_ratio", "evidence"}
    opened = datetime.fromisoformat(alert["opened_at"].replace("Z", "+00:00"))
    assert BURST <= opened <= BURST + timedelta(minutes=10)
    assert opened in {moment for moment, _, _ in rows}, "opened_at must be the time of the post that tipped it"
    assert alert["evidence"] and all(key.startswith("replay:") for key in alert["evidence"])
    assert alert["resolved_at"] is not None  # the day goes quiet again afterwards


def test_a_quiet_day_opens_nothing(tmp_path):
    path, db = tmp_path / "posts.csv", tmp_path / "x.db"
    write_posts(path, burst=False, hours=24)
    replay(path, db)
    assert alerts_json(db) == []


def test_replaying_twice_stores_each_post_once_and_changes_no_count(tmp_path):
    path, db = tmp_path / "posts.csv", tmp_path / "x.db"
    rows = write_posts(path, burst=True)
    replay(path, db)
    posts, buckets, alerts = detector.load_posts(db), detector.load_buckets(db), detector.load_alerts(db)
    output = replay(path, db)
    assert f"stored 0, duplicate {len(rows)}" in output
    pd.testing.assert_frame_equal(posts, detector.load_posts(db))
    pd.testing.assert_frame_equal(buckets, detector.load_buckets(db))
    pd.testing.assert_frame_equal(alerts.drop(columns=["updated_at"]), detector.load_alerts(db).drop(columns=["updated_at"]))


def test_a_replay_cut_one_second_after_the_alert_raises_it_at_the_same_time(tmp_path):
    path = tmp_path / "posts.csv"
    write_posts(path, burst=True)
    replay(path, tmp_path / "full.db")
    (alert,) = alerts_json(tmp_path / "full.db")
    opened = datetime.fromisoformat(alert["opened_at"].replace("Z", "+00:00"))
    frame = pd.read_csv(path)
    cut = frame[pd.to_datetime(frame["ts"], utc=True) <= opened + timedelta(seconds=1)]
    cut_path = tmp_path / "cut.csv"
    cut.to_csv(cut_path, index=False)
    replay(cut_path, tmp_path / "cut.db")
    (again,) = alerts_json(tmp_path / "cut.db")
    assert (again["id"], again["opened_at"]) == (alert["id"], alert["opened_at"])


def test_malformed_rows_are_quarantined_and_the_rest_stored(tmp_path):
    path, db = tmp_path / "posts.csv", tmp_path / "x.db"
    rows = write_posts(path, burst=False, hours=2)
    with open(path, "a", newline="") as handle:
        handle.write("9001,yesterday-ish,xfinity down,u1\n9002,2024-03-04T01:00:00Z,,u2\n")
    output = replay(path, db)
    assert f"read {len(rows) + 2}" in output and "quarantined 2" in output
    from detector.store.store import Store

    reasons = sorted(row["reason"] for row in Store(db).quarantined())
    assert reasons == ["bad time in 'ts': unparseable time 'yesterday-ish'", "empty text"]
    assert len(detector.load_posts(db)) == len(rows)


def test_export_carries_verdicts_for_pandas(tmp_path):
    path, db = tmp_path / "posts.csv", tmp_path / "x.db"
    write_posts(path, burst=True)
    replay(path, db)
    out = tmp_path / "posts.parquet"
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "parquet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    for column in ("complaint", "complaint_p", "misinformation", "misinformation_p", "claim", "symptom",
                   "created_at", "text", "author", "service"):
        assert column in frame.columns
    assert frame["complaint"].isin([0, 1]).all()
    complaints = frame[frame["text"].str.contains("down")]
    assert complaints["complaint"].eq(1).all()
    assert not frame["author"].str.contains("user").any()  # pseudonymised


def test_with_service_and_no_match_every_post_belongs_to_it(tmp_path):
    path, db = tmp_path / "posts.csv", tmp_path / "x.db"
    path.write_text("ts,text\n2024-03-04T00:00:00Z,my internet is out again\n2024-03-04T00:01:00Z,still out\n")
    result = CliRunner().invoke(cli, ["replay", str(path), "--service", "Support inbox", "--time-column", "ts",
                                      "--text-column", "text", "--db", str(db), "--classifier", "keywords"])
    assert result.exit_code == 0, result.output
    assert "stored 2" in result.output and "unmatched 0" in result.output


def test_errors_are_one_line_without_traceback(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("when,body\n2024-03-04T00:00:00Z,x\n")
    result = CliRunner().invoke(cli, ["replay", str(path), "--service", "S", "--db", str(tmp_path / "x.db"),
                                      "--classifier", "keywords"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: column 'created_at' is not in posts.csv (columns: when, body); set --time-column"
    ]


def test_a_missing_model_is_a_one_line_error_that_says_what_to_do(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("ts,text\n2024-03-04T00:00:00Z,xfinity down\n")
    config = tmp_path / "c.toml"
    config.write_text(f'[[services]]\nname = "X"\n[classifier]\nkind = "model"\nmodel_dir = "{tmp_path / "nothing"}"\n')
    result = CliRunner().invoke(cli, ["replay", str(path), "-c", str(config), "--service", "X", "--time-column", "ts",
                                      "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: the model classifier cannot be loaded") and "make models" in line


def test_a_batch_is_written_in_one_transaction(tmp_path):
    """Posts, verdicts, recounted buckets, the detector's scores, incidents and the cursor: one commit per
    batch (issue 17; they were three), so a crash never leaves counts behind the posts."""
    import sqlalchemy as sa

    from detector.config import ServiceSettings, Settings
    from detector.classify.settings import ClassifierSettings
    from detector.runtime.assembly import build_system, run_source
    from detector.sources.replay import ReplaySettings, ReplaySource

    write_posts(tmp_path / "posts.csv", burst=True)
    settings = Settings(db=str(tmp_path / "t.db"), services=[ServiceSettings(name="Xfinity", match=["xfinity"])],
                        classifier=ClassifierSettings(kind="keywords"))
    system = build_system(settings)
    source = ReplaySource(ReplaySettings(path=tmp_path / "posts.csv", time_column="ts", text_column="text",
                                         id_column="id", author_column="user", service="Xfinity"),
                          system.pseudonymiser, batch_size=25)
    commits = []
    sa.event.listen(system.store.engine, "commit", lambda conn: commits.append(1))
    batches = []
    try:
        report = run_source(system, source, assigned="Xfinity", resume=False, flush_at_end=False,
                            progress=lambda r: batches.append(len(commits)))
        scored = system.store.count("buckets")
    finally:
        system.close()
    assert report.stored > 50 and report.opened == 1
    per_batch = [b - a for a, b in zip([0, *batches], batches)]
    assert len(per_batch) > 2 and set(per_batch) == {1}, per_batch
    assert scored > 0
