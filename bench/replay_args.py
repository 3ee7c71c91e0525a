"""The replay-file arguments the replay benches share (bench/replay.py, profile_replay.py, replay_digest.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.classify.settings import CLASSIFIER_KINDS

REPO = Path(__file__).resolve().parents[1]


def add_replay_arguments(parser: argparse.ArgumentParser, classifier: str) -> None:
    """The file (default: the bundled Xfinity tweets), its columns, the service and the classifier tier."""
    parser.add_argument("file", nargs="?", default=str(REPO / "data" / "xfinity-outage-2020" / "tweets.csv"))
    parser.add_argument("--classifier", choices=CLASSIFIER_KINDS, default=classifier)
    parser.add_argument("--service", default="Xfinity")
    parser.add_argument("--match", action="append", default=None, help="match term (default: xfinity)")
    parser.add_argument("--time-column", default="ts_utc")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--author-column", default="author")
