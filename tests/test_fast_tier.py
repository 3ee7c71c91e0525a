"""The fast tier's set-up: built once, reused, rebuilt when the encoder changes; it classifies like the
model tier; a config asking for it passes `config check`.

To stay cheap the tier is built from a sample of the labelled set and distils only the tokens those texts
(and the posts classified here) use: the same code path as the full set-up, a tenth of the transformer's
work. The full tier's numbers are in the model card.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from detector.classify.cascade import Band, CascadeClassifier
from detector.classify.embedding import default_model_path
from detector.classify.fast import ENCODER_FILE, ensure_fast_tier, load_fast_classifier
from detector.classify.heads import Head
from detector.classify.model import default_model_dir, load_default_classifier
from detector.classify.normalise import normalise_text
from detector.classify.settings import CLASSIFIER_KINDS, ClassifierSettings
from detector.classify.training import HEAD_CHARS, HEAD_NGRAMS
from detector.cli.main import cli
from detector.records import Post

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "data" / "labelled" / "posts.csv"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
POSTS = [
    "my xfinity internet is down again, modem blinking orange since 6am",
    "is xfinity down for anyone else in denver? no connection at all",
    "Thanks @user for the quick fix, all good now",
    "just had the best tacos of my life",
    "Xfinity is hacked and they are deleting everyone's email accounts, pass it on",
]


def post(text: str, i: int = 0) -> Post:
    return Post(source="test", source_id=str(i), created_at=NOW, text=text)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """150 training and 40 test rows of the labelled set; symptom classes with fewer than 2 rows dropped."""
    frame = pd.read_csv(LABELLED, dtype=str, keep_default_na=False)
    train = frame[frame["split"] == "train"].sample(150, random_state=3)
    test = frame[frame["split"] == "test"].sample(40, random_state=3)
    symptoms = train[(train["complaint"] == "1") & (train["symptom"] != "")]["symptom"].value_counts()
    train = train[~train["symptom"].isin(symptoms[symptoms < 2].index)]
    path = tmp_path_factory.mktemp("labelled") / "posts.csv"
    pd.concat([train, test]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def token_ids(sample) -> list[int]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    texts = [normalise_text(t) for t in pd.read_csv(sample, dtype=str, keep_default_na=False)["text"]]
    texts += [normalise_text(t) for t in POSTS]
    return sorted({i for e in tokenizer.encode_batch(texts, add_special_tokens=False) for i in e.ids})


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fast")


@pytest.fixture(scope="module")
def tier(root, sample, token_ids):
    return ensure_fast_tier(root, data=sample, token_ids=token_ids)


def test_built_once_then_reused(tier, root, sample, token_ids):
    assert tier.distilled and tier.trained
    assert (tier.encoder_dir / ENCODER_FILE).exists() and (tier.heads_dir / "outage_report" / "model.joblib").exists()
    again = ensure_fast_tier(root, data=sample, token_ids=token_ids)
    assert (again.distilled, again.trained) == (False, False)
    assert (again.encoder_dir, again.heads_dir) == (tier.encoder_dir, tier.heads_dir)
    assert not [p for p in root.rglob(".*") if p.is_dir()], "no temporary folder is left behind"


def test_a_changed_encoder_is_distilled_again(tier, root, sample, token_ids, tmp_path):
    """Another encoder folder (here: the installed one with one file changed) gets its own table and heads;
    the first tier stays where it was."""
    changed = tmp_path / "minilm-changed"
    source = default_model_path()
    for path in source.rglob("*"):
        target = changed / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.name != "README.md":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    (changed / "README.md").write_text("a fine-tuned copy\n", encoding="utf-8")
    rebuilt = ensure_fast_tier(root, embedding_model=changed, data=sample, token_ids=token_ids)
    assert rebuilt.distilled and rebuilt.trained
    assert rebuilt.encoder_dir != tier.encoder_dir and rebuilt.name == "static-minilm-changed"
    assert (tier.heads_dir / "complaint" / "model.joblib").exists()
    # Same weights, same table: the key changed because the folder did, not because the recipe is random.
    assert np.array_equal(np.load(rebuilt.encoder_dir / "vectors.npy"), np.load(tier.encoder_dir / "vectors.npy"))


def test_it_gives_the_model_tiers_verdicts(tier):
    classifier = load_fast_classifier(tier=tier)
    assert classifier.encoder.name == "static-all-MiniLM-L6-v2"
    verdicts = classifier.classify([post(text, i) for i, text in enumerate(POSTS)] + [post("", 9)])
    assert len(verdicts) == len(POSTS) + 1
    down, anyone, thanks, tacos, rumour, empty = verdicts
    # Heads trained on 150 rows: what is tested is that every verdict is there and follows the heads'
    # thresholds, not the full tier's accuracy (the README's table has that).
    heads = classifier.heads
    for v in verdicts[:-1]:
        assert v.outage_report == (v.outage_report_p >= heads["outage_report"].threshold)
        assert v.complaint == (v.complaint_p >= heads["complaint"].threshold)
        assert (v.symptom is not None) == v.complaint
    assert down.outage_report and down.outage_report_p > tacos.outage_report_p
    assert all(v.lang == "en" for v in (down, anyone, thanks, tacos))
    assert all(0 <= v.misinformation_p <= 1 and 0 <= v.confidence <= 1 for v in verdicts)
    assert empty.confidence == 0 and not empty.complaint
    assert {v.model for v in verdicts} == {classifier.name} and classifier.name.startswith("static-")


@pytest.mark.parametrize("kind", ["fast", "cascade"])
def test_a_config_asking_for_the_fast_tier_passes_config_check(tmp_path, kind):
    config = tmp_path / f"{kind}.toml"
    config.write_text('db = "x.db"\n\n[[services]]\nname = "Acme"\nmatch = ["acme"]\n\n'
                      f'[classifier]\nkind = "{kind}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(config)])
    assert result.exit_code == 0, result.output
    assert f"classifier {kind}" in result.output
    assert kind in CLASSIFIER_KINDS and ClassifierSettings(kind=kind).kind == kind
    replay_help = CliRunner().invoke(cli, ["replay", "--help"]).output
    assert kind in replay_help.split("--classifier", 1)[1].split("\n", 1)[0]


def test_the_fast_tier_trains_its_heads_as_the_model_tier_does(tier):
    """One training loop: each fast head reads the feature blocks the model tier's head of that task reads."""
    for task in HEAD_NGRAMS:
        head, shipped = Head.load(tier.heads_dir / task), Head.load(default_model_dir() / task)
        assert (head.ngrams, head.chars) == (HEAD_NGRAMS[task], HEAD_CHARS[task]) == (shipped.ngrams, shipped.chars)


@pytest.fixture(scope="module")
def tiers(tier):
    return load_fast_classifier(tier=tier), load_default_classifier()


def test_the_cascade_keeps_sure_posts_and_sends_the_others_to_the_model(tiers):
    """A post whose fast outage probability lies outside the band keeps the fast tier's verdict; one inside it
    gets the model tier's, whole."""
    fast, model = tiers
    posts = [post(text, i) for i, text in enumerate(POSTS)]
    first = fast.classify(posts)
    lowest = min(range(len(posts)), key=lambda i: first[i].outage_report_p)
    band = Band(first[lowest].outage_report_p + 1e-6, 1.0)  # every post but the least outage-like is unsure
    cascade = CascadeClassifier(fast, model, bands={"outage_report": band}, complaints_to_model=False)
    verdicts = cascade.classify(posts)
    assert verdicts[lowest] == first[lowest] and verdicts[lowest].model == fast.name
    unsure = [i for i in range(len(posts)) if i != lowest]
    assert [verdicts[i] for i in unsure] == model.classify([posts[i] for i in unsure])
    assert {verdicts[i].model for i in unsure} == {model.name} != {fast.name}


def test_the_cascade_sends_the_fast_tiers_complaints_to_the_model(tiers):
    """Symptoms are read from the sentence vector: a post the fast tier calls a complaint is the model's."""
    fast, model = tiers
    posts = [post(text, i) for i, text in enumerate(POSTS)]
    first = fast.classify(posts)
    verdicts = CascadeClassifier(fast, model, bands={}).classify(posts)
    assert any(v.complaint for v in first) and not all(v.complaint for v in first)
    for before, after in zip(first, verdicts):
        assert after.model == (model.name if before.complaint else fast.name)
        assert after == before or before.complaint


def test_changed_training_code_gets_its_own_heads(tier, sample, monkeypatch, tmp_path):
    """Heads built by an older training rule (say, before a head read character n-grams) are not reused:
    the heads key follows the training code's files, with no constant to bump by hand."""
    from detector.classify import fast

    assert fast.heads_key_for(tier.encoder_dir.name, sample) == tier.heads_dir.name  # how the tier was filed
    files = fast.training_files()
    assert {f.name for f in files} == {"training.py", "heads.py", "fast.py"}
    edited = tmp_path / "training.py"
    edited.write_bytes(files[0].read_bytes() + b"\nHEAD_RULE_NOTE = 'a rule changed'\n")
    monkeypatch.setattr(fast, "training_files", lambda: [edited, *files[1:]])
    assert fast.heads_key_for(tier.encoder_dir.name, sample) != tier.heads_dir.name
