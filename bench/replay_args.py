"""The replay-file arguments the replay benches share (bench/replay.py, profile_replay.py, replay_digest.py,
empty_minutes.py), and the replay source and service they name."""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.classify.settings import CLASSIFIER_KINDS
from detector.config import ServiceSettings
from detector.sources.replay import ReplaySettings

REPO = Path(__file__).resolve().parents[1]


def add_replay_arguments(parser: argparse.ArgumentParser, classifier: str | None) -> None:
    """The file (default: the bundled Xfinity tweets), its columns, the service and the classifier tier
    (no --classifier when ``classifier`` is None: a bench that chooses its tiers itself)."""
    parser.add_argument("file", nargs="?", default=str(REPO / "data" / "xfinity-outage-2020" / "tweets.csv"))
    if classifier is not None:
        parser.add_argument("--classifier", choices=CLASSIFIER_KINDS, default=classifier)
    parser.add_argument("--service", default="Xfinity")
    parser.add_argument("--match", action="append", default=None, help="match term (default: xfinity)")
    parser.add_argument("--time-column", default="ts_utc")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--author-column", default="author")


def replay_settings(args: argparse.Namespace) -> ReplaySettings:
    """The replay source those arguments name."""
    return ReplaySettings(path=Path(args.file), time_column=args.time_column, text_column=args.text_column,
                          author_column=args.author_column, service=args.service)


def service_settings(args: argparse.Namespace) -> ServiceSettings:
    """The one service those arguments name (matched by "xfinity" unless --match says otherwise)."""
    return ServiceSettings(name=args.service, match=args.match or ["xfinity"])
