"""The trained classifier end to end: train/evaluate/classify commands, the shipped model, claims, odd input.

MiniLM is loaded once per process (``shared_encoder``), so the whole file costs one model load.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from detector.classify.base import Classifier
from detector.classify.claims import ClaimsFileError, load_claims
from detector.classify.embedding import TextEncoder
from detector.classify.model import EmbeddingClassifier, load_default_classifier
from detector.cli.classify import classify_cmd, evaluate_cmd, train_cmd
from detector.records import Post

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "data" / "labelled" / "posts.csv"
CLAIMS = REPO / "examples" / "claims.toml"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def post(text, i=0, **kwargs):
    return Post(source="test", source_id=str(i), created_at=NOW, text=text, **kwargs)


@pytest.fixture(scope="session")
def small_split(tmp_path_factory):
    """120 training rows and 80 held-out rows of the project's labelled set (short texts: fast)."""
    frame = pd.read_csv(LABELLED)
    frame = frame[frame["text"].str.len() < 160]
    parts = []
    for split, n in (("train", 60), ("test", 40)):
        rows = frame[frame["split"] == split]
        parts.append(pd.concat([rows[rows["complaint"] == c].sample(n, random_state=1) for c in (0, 1)]))
    folder = tmp_path_factory.mktemp("labelled")
    paths = {}
    for name, part in zip(("train", "test"), parts):
        paths[name] = folder / f"{name}.csv"
        part.to_csv(paths[name], index=False)
    parts[1].to_json(folder / "test.jsonl", orient="records", lines=True)
    parts[1][["text"]].to_parquet(folder / "test.parquet")
    return paths


@pytest.fixture(scope="session")
def trained_head(small_split, tmp_path_factory):
    out = tmp_path_factory.mktemp("head") / "complaint"
    result = CliRunner().invoke(train_cmd, [
        "--task", "complaint", "--data", str(small_split["train"]), "--out", str(out), "--folds", "3",
    ])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def classifier():
    return load_default_classifier(claims_path=CLAIMS)


def test_training_learns_beyond_the_majority_class(small_split, trained_head):
    card = json.loads((trained_head / "card.json").read_text())
    assert card["label_counts"] == {"0": 60, "1": 60} and 0 < card["threshold"] < 1
    assert len(card["data_sha256"]) == 64 and "scikit-learn" in card["versions"]
    result = CliRunner().invoke(evaluate_cmd, [
        "--model", str(trained_head), "--data", str(small_split["test"]), "--json",
    ])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert set(metrics) >= {"per_class", "macro_f1", "weighted_f1", "accuracy", "confusion_matrix"}
    assert metrics["accuracy"] > 0.5 + 0.1  # held-out rows are balanced: the majority class scores 0.5


def test_evaluation_matches_the_confusion_matrix_of_its_own_predictions(small_split, trained_head, tmp_path):
    out = tmp_path / "pred.csv"
    result = CliRunner().invoke(classify_cmd, [
        "--model", str(trained_head), "--data", str(small_split["test"]), "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out, dtype={"pred_label": str, "complaint": str})
    by_hand = pd.crosstab(rows["complaint"], rows["pred_label"]).reindex(
        index=["0", "1"], columns=["0", "1"], fill_value=0)
    result = CliRunner().invoke(evaluate_cmd, [
        "--model", str(trained_head), "--data", str(small_split["test"]), "--json",
    ])
    metrics = json.loads(result.stdout)
    assert metrics["confusion_matrix"]["matrix"] == by_hand.to_numpy().tolist()
    tp = by_hand.loc["1", "1"]
    assert metrics["per_class"]["1"]["precision"] == round(tp / by_hand["1"].sum(), 4)
    assert metrics["accuracy"] == round((rows["complaint"] == rows["pred_label"]).mean(), 4)
    assert {"pred_p_0", "pred_p_1"} <= set(rows.columns)


def test_evaluate_prints_a_table_and_reads_jsonl(small_split, trained_head):
    jsonl = small_split["test"].with_suffix(".jsonl")
    result = CliRunner().invoke(evaluate_cmd, ["--model", str(trained_head), "--data", str(jsonl)])
    assert result.exit_code == 0, result.output
    assert "macro_f1" in result.output and "confusion matrix" in result.output


def test_commands_fail_with_one_line_errors(small_split, trained_head, tmp_path):
    runner = CliRunner()
    bad_column = runner.invoke(train_cmd, ["--task", "complaint", "--data", str(small_split["train"]),
                                           "--label-column", "nope", "--out", str(tmp_path / "x")])
    assert bad_column.exit_code != 0 and "no column 'nope'" in bad_column.output
    assert "Traceback" not in bad_column.output
    bad_format = runner.invoke(evaluate_cmd, ["--model", str(trained_head), "--data", str(tmp_path / "a.xlsx")])
    assert bad_format.exit_code != 0 and "unknown format" in bad_format.output
    no_model = runner.invoke(evaluate_cmd, ["--model", str(tmp_path), "--data", str(small_split["test"])])
    assert no_model.exit_code != 0 and "no model.joblib" in no_model.output
    for command in (train_cmd, evaluate_cmd, classify_cmd):
        assert runner.invoke(command, ["--help"]).exit_code == 0


def test_model_loads_with_the_network_disabled(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the classifier tried to open a network connection")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    encoder = TextEncoder()  # not the shared one: really load the weights here
    classifier = EmbeddingClassifier(encoder=encoder)
    [verdict] = classifier.classify([post("chatgpt is down, nothing loads")])
    assert verdict.complaint and verdict.model.startswith("all-MiniLM-L6-v2")


def test_default_classifier_labels_posts_in_order(classifier):
    assert isinstance(classifier, Classifier)
    posts = [
        post("is chatgpt down? it won't load anything", 0),
        post("OpenAI announces new ChatGPT features for enterprise customers", 1),
        post("can't log into my bank app, it keeps saying my password is wrong", 2),
        post("full steam ahead on the kitchen renovation this weekend", 3),
    ]
    verdicts = classifier.classify(posts)
    assert [v.source_id for v in verdicts] == ["0", "1", "2", "3"]
    assert [v.complaint for v in verdicts] == [True, False, True, False]
    assert verdicts[2].symptom == "login"
    assert all(0 <= v.confidence <= 1 and v.lang == "en" for v in verdicts)
    assert classifier.classify([]) == []


def test_odd_and_foreign_posts_get_low_confidence_verdicts(classifier):
    posts = [post("", 0), post("   ", 1), post("🔥🔥🔥", 2), post("@someone", 3),
             post("ChatGPTが落ちてる？全然返事が来ない", 4), post("¿Se cayó ChatGPT? No me responde nada", 5),
             post("chatgpt is completely down for me, nothing loads", 6)]
    verdicts = classifier.classify(posts)
    assert len(verdicts) == len(posts)
    for verdict in (verdicts[0], verdicts[1], verdicts[3]):  # nothing left after normalisation
        assert verdict.confidence == 0.0 and not verdict.complaint and verdict.complaint_p == 0.0
    assert verdicts[2].confidence < 0.35 and not verdicts[2].complaint  # emoji only: "fire"
    english = verdicts[6].confidence
    assert verdicts[4].lang == "ja" and verdicts[5].lang == "es"
    assert verdicts[4].confidence < english and verdicts[5].confidence < english
    assert verdicts[5].confidence <= 0.5


def test_claims_match_paraphrases_not_unrelated_posts(classifier):
    posts = [
        post("openai just got hacked, that's why chatgpt is broken", 0),
        post("I heard hackers got into OpenAI's servers last night", 1),
        post("chatgpt is going away forever, openai is closing it down", 2),
        post("is chatgpt down?", 3),
        post("chatgpt is down again, can't log in", 4),
        post("I love pizza", 5),
        post("my cat knocked the router off the desk", 6),
    ]
    verdicts = classifier.classify(posts)
    assert [v.claim for v in verdicts] == [
        "openai-hacked", "openai-hacked", "chatgpt-shutting-down", None, None, None, None]
    assert verdicts[0].claim_similarity > 0.62
    assert verdicts[0].misinformation  # the head agrees this is a rumour


def test_claims_are_limited_to_their_service(classifier):
    about_xfinity = post("openai just got hacked, that's why chatgpt is broken", services=("xfinity",))
    assert classifier.classify([about_xfinity])[0].claim is None


def test_claims_file_errors_say_where(tmp_path):
    path = tmp_path / "claims.toml"
    path.write_text('[[claim]]\nid = "x"\ntext = "y"\nverdict = "maybe"\n')
    with pytest.raises(ClaimsFileError, match="claim #1: verdict must be one of"):
        load_claims(path)
    claims, threshold, margin = load_claims(CLAIMS)
    assert len(claims) >= 5 and 0 < threshold < 1 and margin >= 0


def test_classify_command_writes_verdict_columns(tmp_path):
    data = tmp_path / "posts.jsonl"
    pd.DataFrame({"text": ["xfinity is down in my area again", "", "I love pizza"],
                  "complaint": [0, 1, 1], "symptom": ["truth", "kept", "here"]}).to_json(
        data, orient="records", lines=True)
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(classify_cmd, [
        "--model", str(REPO / "models" / "default"), "--data", str(data), "--out", str(out),
        "--claims", str(CLAIMS),
    ])
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(out)
    assert rows["pred_complaint"].tolist() == [1, 0, 0]
    assert {"pred_complaint_p", "pred_misinformation", "pred_misinformation_p", "pred_symptom", "pred_claim",
            "pred_confidence"} <= set(rows)
    # the input's own labels are kept beside the predictions, never overwritten
    assert rows["complaint"].tolist() == [0, 1, 1] and rows["symptom"].tolist() == ["truth", "kept", "here"]
    again = CliRunner().invoke(classify_cmd, ["--model", str(REPO / "models" / "default"), "--data", str(out),
                                              "--out", str(tmp_path / "again.parquet")])
    assert again.exit_code != 0 and "pred_complaint" in again.output and "--prefix" in again.output


def test_two_classifiers_give_a_replay_the_same_verdicts(classifier):
    """Run to run, a replay's verdicts are the same: nothing depends on the cache's state or the thread
    schedule. Regrouped into other batches, the vectors move in the last bits (matrix shapes change the
    order of float sums), so the probabilities agree to their stored 4 decimals, not bit for bit."""
    import csv

    with open(REPO / "data" / "xfinity-outage-2020" / "tweets.csv", encoding="utf-8") as handle:
        texts = [row["text"] for _, row in zip(range(60), csv.DictReader(handle))]
    posts = [post(text, i) for i, text in enumerate(texts)]

    def replay(batch: int) -> list:
        fresh = EmbeddingClassifier(encoder=TextEncoder(model=classifier.encoder.model),  # an empty cache
                                    languages=classifier.languages)
        return [v for start in range(0, len(posts), batch) for v in fresh.classify(posts[start : start + batch])]

    first, second, regrouped = replay(25), replay(25), replay(7)
    assert first == second
    assert [(v.complaint, v.outage_report, v.symptom, v.lang) for v in regrouped] == \
        [(v.complaint, v.outage_report, v.symptom, v.lang) for v in first]
    assert max(abs(a.complaint_p - b.complaint_p) for a, b in zip(first, regrouped)) <= 1e-4
