"""``detector train``, ``detector evaluate`` and ``detector classify``: the classifier from the shell.

They work on any labelled CSV, JSON-lines or Parquet file, so the same commands that build the shipped
models can be pointed at another data set (PHEME rumours, a team's own labels) without code.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

TASK_HELP = ("What the head predicts: complaint, outage_report, misinformation, symptom, or any NAME of "
             "your own.")
FORMATS = ".csv, .jsonl or .parquet"


def _encoder(embedding_model: Path | None, batch_size: int, cache: Path | None = None):
    from detector.classify.model import shared_encoder

    return shared_encoder(embedding_model, batch_size, cache)


def _cache_option(command):
    return click.option(
        "--embedding-cache", "cache", type=click.Path(dir_okay=False, path_type=Path), default=None,
        envvar="DETECTOR_EMBEDDING_CACHE", show_envvar=True,
        help="SQLite file that keeps embeddings between runs (keyed by normalised text).",
    )(command)


def _progress(label: str, length: int, unit: str = "rows"):
    from detector.cli.progress import Progress

    return Progress(label, length, unit)


def _fold_updater(bar):
    """A fold callback moving ``bar`` to the number of fits done (its length is corrected to the real
    number of folds, which the smallest class can lower)."""
    def update(done: int, total: int) -> None:
        bar.length = total
        bar.update(done - bar.pos)
    return update


def _fail(error: Exception) -> click.ClickException:
    return click.ClickException(str(error).splitlines()[0] if str(error) else type(error).__name__)


@click.command("train")
@click.option("--task", required=True, metavar="complaint|outage_report|misinformation|symptom|NAME",
              help=TASK_HELP)
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=f"Labelled file ({FORMATS}).")
@click.option("--text-column", default="text", show_default=True, help="Column holding the post text.")
@click.option("--label-column", default=None, help="Column holding the label (default: the task name).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write model.joblib and card.json into.")
@click.option("--positive", default=None, help="Binary tasks: the label the threshold is about "
              "(default: 1/true if present, else the rarer class).")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20),
              help="Cross-validation folds used for the metrics and the threshold.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed (folds, estimator).")
@click.option("--ngrams/--no-ngrams", default=True, show_default=True,
              help="Add hashed word 1-2-grams of the text to the embedding features.")
@click.option("--chars/--no-chars", default=False, show_default=True,
              help="Add hashed character 2-5-grams too (the shipped outage_report head uses them).")
@click.option("--embedding-model", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="A local sentence-transformers folder (default: all-MiniLM-L6-v2 from its package).")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 10_000),
              help="Texts encoded per batch.")
@_cache_option
def train_cmd(task, data, text_column, label_column, out, positive, folds, seed, ngrams, chars, embedding_model,
              batch_size, cache):
    """Train a classifier head on a labelled file and write it to --out.

    Cross-validates, chooses the decision threshold on out-of-fold predictions (binary tasks), and writes
    model.joblib plus card.json (data hash, label counts, metrics, threshold, versions). Progress goes to
    stderr: rows encoded, then fits done (one per fold and the final one), each with an ETA.

    Example: detector train --task complaint --data data/labelled/posts.csv --label-column complaint
    --out models/mine/complaint
    """
    from detector.classify.training import LabelledDataError, read_labelled, save_head, train_head

    try:
        texts, labels = read_labelled(data, text_column, label_column or task)
        encoder = _encoder(embedding_model, batch_size, cache)
        from detector.classify.training import embed

        with _progress("encoding", len(texts)) as bar:
            vectors = embed(encoder, texts, bar.update)
        with _progress("fitting (one fit per fold, then the final model)", folds + 1, "fits") as bar:
            head, card = train_head(task, texts, labels, encoder, seed=seed, folds=folds, positive=positive,
                                    vectors=vectors, ngrams=ngrams, chars=chars,
                                    fold_progress=_fold_updater(bar))
        card["data_file"] = data.name
        save_head(head, card, out)
    except (LabelledDataError, ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    cv = card["cross_validation"]
    threshold = f", threshold {card['threshold']:.2f}" if card["threshold"] is not None else ""
    click.echo(f"{task}: {card['rows']} rows, {len(card['classes'])} classes{threshold}; "
               f"cross-validated macro F1 {cv['macro_f1']:.3f}, accuracy {cv['accuracy']:.3f} -> {out}")


@click.command("evaluate")
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A head folder written by `detector train` (holds model.joblib).")
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=f"Labelled file ({FORMATS}).")
@click.option("--text-column", default="text", show_default=True, help="Column holding the post text.")
@click.option("--label-column", default=None, help="Column holding the true label (default: the head's task).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--embedding-model", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="The sentence-transformers folder the head was trained with (default: all-MiniLM-L6-v2).")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 10_000),
              help="Texts encoded per batch.")
@_cache_option
def evaluate_cmd(model_dir, data, text_column, label_column, as_json, embedding_model, batch_size, cache):
    """Score a trained head on a labelled file.

    Prints per-class precision, recall and F1, macro_f1, weighted_f1, accuracy and the confusion matrix
    (rows: true label, columns: predicted); --json prints them as one object with those keys.
    """
    from detector.classify.heads import Head
    from detector.classify.training import LabelledDataError, evaluate_head, read_labelled

    try:
        head = Head.load(model_dir)
        texts, labels = read_labelled(data, text_column, label_column or head.task)
        encoder = _encoder(embedding_model, batch_size, cache)
        with _progress("encoding", len(texts)) as bar:
            metrics = evaluate_head(head, texts, labels, encoder, progress=bar.update)
    except (LabelledDataError, ValueError, FileNotFoundError, TypeError) as error:
        raise _fail(error) from error
    if as_json:
        click.echo(json.dumps({"model": str(model_dir), "data": str(data), **metrics}))
        return
    click.echo(format_metrics(metrics))


def format_metrics(metrics: dict) -> str:
    """The evaluation as a plain-text report."""
    labels = metrics["confusion_matrix"]["labels"]
    width = max(12, *(len(str(label)) + 2 for label in labels))
    lines = [f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, row in metrics["per_class"].items():
        lines.append(f"{label:<{width}}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}"
                     f"{row['support']:>10d}")
    lines += ["", f"macro_f1     {metrics['macro_f1']:.4f}", f"weighted_f1  {metrics['weighted_f1']:.4f}",
              f"accuracy     {metrics['accuracy']:.4f}", "", "confusion matrix (rows true, columns predicted)",
              " " * width + "".join(f"{str(label):>12}" for label in labels)]
    for label, row in zip(labels, metrics["confusion_matrix"]["matrix"]):
        lines.append(f"{str(label):<{width}}" + "".join(f"{count:>12d}" for count in row))
    return "\n".join(lines)


@click.command("classify")
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A model folder (complaint/, misinformation/, symptom/ heads, e.g. models/default) "
              "or a single head folder.")
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=f"Posts to label ({FORMATS}).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=f"Where to write the input rows plus predictions ({FORMATS}).")
@click.option("--text-column", default="text", show_default=True, help="Column holding the post text.")
@click.option("--claims", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Claims TOML file to match posts against (model folders only).")
@click.option("--embedding-model", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="The sentence-transformers folder the heads were trained with (default: all-MiniLM-L6-v2).")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 10_000),
              help="Posts classified per batch.")
@click.option("--prefix", default="pred_", show_default=True,
              help="Prefix of the columns the predictions go to; the input's own columns are never overwritten.")
def classify_cmd(model_dir, data, out, text_column, claims, embedding_model, batch_size, prefix):
    """Write predictions and probabilities for every row of a file, beside the input's own columns.

    With a model folder the output gains the verdict columns, prefixed (pred_complaint, pred_complaint_p,
    pred_outage_report, pred_outage_report_p, pred_misinformation, pred_misinformation_p, pred_symptom,
    pred_symptom_p, pred_claim,
    pred_claim_similarity, pred_lang, pred_confidence); with a single head folder it gains `pred_label` and
    one `pred_p_<class>` column per class. A file with its own labels (complaint, symptom, ...) keeps them,
    so predictions can be compared with the truth; a prefixed name already in the input is refused.
    """
    from detector.classify.training import LabelledDataError, read_table

    try:
        frame = read_table(data)
        if text_column not in frame.columns:
            raise LabelledDataError(f"{data}: no column {text_column!r}")
        texts = frame[text_column].fillna("").astype(str).tolist()
        head = (model_dir / "model.joblib").exists()
        names = (["label"] if head else list(_VERDICT_FIELDS))
        taken = [c for c in frame.columns if str(c).startswith(prefix) and
                 (str(c)[len(prefix):] in names or (head and str(c)[len(prefix):].startswith("p_")))]
        if taken:
            raise LabelledDataError(f"{data} already has column(s) {', '.join(map(str, taken))}; give another "
                                    f"--prefix (e.g. --prefix {prefix.rstrip('_')}2_) so they are not overwritten")
        if head:
            columns = _classify_with_head(model_dir, texts, embedding_model, batch_size)
        else:
            columns = _classify_with_model(model_dir, texts, claims, embedding_model, batch_size)
        for name, values in columns.items():
            frame[prefix + name] = values
        write_table(frame, out)
    except (LabelledDataError, ValueError, FileNotFoundError, TypeError) as error:
        raise _fail(error) from error
    click.echo(f"{len(frame)} rows -> {out}")


_VERDICT_FIELDS = ("complaint", "complaint_p", "outage_report", "outage_report_p", "misinformation",
                   "misinformation_p", "symptom", "symptom_p", "claim", "claim_similarity", "lang", "confidence")


def _classify_with_head(folder: Path, texts: list[str], embedding_model, batch_size) -> dict[str, list]:
    from detector.classify.heads import Head
    from detector.classify.normalise import normalise_text
    from detector.classify.training import embed

    head = Head.load(folder)
    encoder = _encoder(embedding_model, batch_size)
    with _progress("classifying", len(texts)) as bar:
        proba = head.predict_proba(embed(encoder, texts, bar.update), [normalise_text(t) for t in texts])
    columns: dict[str, list] = {"label": head.decide(proba)}
    for j, label in enumerate(head.classes):
        columns[f"p_{label}"] = [round(float(value), 4) for value in proba[:, j]]
    return columns


def _classify_with_model(folder: Path, texts: list[str], claims, embedding_model, batch_size) -> dict[str, list]:
    from detector.classify.cause_rumours import flag_cause_rumours
    from detector.classify.model import EmbeddingClassifier
    from detector.records import Post

    classifier = EmbeddingClassifier(folder, claims=claims, embedding_model=embedding_model, batch_size=batch_size)
    now = datetime.now(timezone.utc)
    verdicts = []
    with _progress("classifying", len(texts)) as bar:
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            posts = [Post(source="file", source_id=str(start + i), created_at=now, text=text)
                     for i, text in enumerate(chunk)]
            verdicts.extend(flag_cause_rumours(posts, classifier.classify(posts)))  # as the pipeline does
            bar.update(len(chunk))
    columns = {name: [getattr(v, name) for v in verdicts] for name in _VERDICT_FIELDS}
    columns["complaint"] = [int(v) for v in columns["complaint"]]
    columns["misinformation"] = [int(v) for v in columns["misinformation"]]
    columns["outage_report"] = [int(v) for v in columns["outage_report"]]
    return columns


def write_table(frame, path: Path) -> None:
    """Write a data frame as CSV, JSON lines or Parquet, by extension."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".csv", ".tsv"):
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    elif suffix in (".jsonl", ".ndjson", ".json"):
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"{path}: unknown output format {suffix!r} (use {FORMATS})")
