"""The labelled set's promises that the model card's numbers rest on: the test split holds real posts only,
rows picked by active learning (chosen by what a shipped head flagged) are train only, and the held-out
judgements used to estimate precision on unlabelled tweets never appear among the labelled posts."""

from pathlib import Path

import pandas as pd

LABELLED = Path(__file__).resolve().parents[1] / "data" / "labelled"


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(LABELLED / name, dtype=str, keep_default_na=False)


def test_active_learning_rows_are_train_only():
    posts, passes = read("posts.csv"), read("outage_labels.csv")
    active = set(passes.loc[passes["pass"] == "active", "post_id"])
    rows = posts[posts["source"].eq("xfinity-tweets") & posts["post_id"].isin(active)]
    assert len(rows) == len(active) > 0
    assert set(rows["split"]) == {"train"}


def test_test_split_is_real_posts_only():
    posts = read("posts.csv")
    assert "written" not in set(posts.loc[posts["split"] == "test", "source"])


def test_heldout_judgements_are_not_labelled_posts():
    posts, judged = read("posts.csv"), read("xfinity_heldout_judged.csv")
    labelled = set(zip(posts["source"], posts["post_id"]))
    assert judged["post_id"].is_unique and len(judged) > 0
    assert not [key for key in zip(judged["source"], judged["post_id"]) if key in labelled]
    assert set(judged["complaint"]) <= {"0", "1"} and set(judged["outage_report"]) <= {"0", "1"}
