"""A replay stepping the detector through every empty minute beside one skipping them, in one process.

    nice bin/py bench/empty_minutes.py [FILE] [--classifier keywords] [--repeat 1]

Replays the file (the bundled Xfinity tweets by default: 331,757 one-minute buckets, 6,273 with posts)
twice per repeat into new SQLite files through the same assembly as `detector replay`: once with every
detector's ``skip_empty`` switched off (each empty minute through ``update``, as before issue 17) and
once as shipped (runs of empty minutes learned in one call while no incident is open). Prints both wall
times, their ratio, the load average, and whether the two stored the same thing (every table that
bench/replay_digest.py compares, row by row).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from detector.classify.settings import ClassifierSettings
from detector.config import Settings
from detector.runtime.assembly import build_system, run_source
from detector.sources.replay import ReplaySource
from detector.volume.base import VolumeModel
from replay_args import add_replay_arguments, replay_settings, service_settings  # bench/ is the script's folder
from replay_digest import QUERIES, _plain


def replay_once(args, folder: Path, name: str) -> tuple[float, str, str]:
    """Wall seconds of one replay, its summary line and a digest of everything it stored."""
    db = folder / f"{name}.db"
    settings = Settings(db=str(db), services=[service_settings(args)],
                        classifier=ClassifierSettings(kind=args.classifier))
    system = build_system(settings, notify=[f"jsonl://{folder / (name + '.jsonl')}"])
    started = time.perf_counter()
    report = run_source(system, ReplaySource(replay_settings(args), system.pseudonymiser), assigned=args.service,
                        resume=False)
    elapsed = time.perf_counter() - started
    system.close()
    digest = hashlib.sha256()
    with sqlite3.connect(db) as conn:
        for query in QUERIES.values():
            for row in sorted(json.dumps(_plain(row), default=str) for row in conn.execute(query)):
                digest.update(row.encode())
    return elapsed, report.summary(), digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_replay_arguments(parser, classifier="keywords")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of replays (alternating)")
    args = parser.parse_args()
    skip = {cls: cls.__dict__["skip_empty"] for cls in _detector_classes() if "skip_empty" in cls.__dict__}
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.repeat):
            for cls in skip:  # stepping: every skip_empty learns nothing, so every empty minute is update()d
                cls.skip_empty = VolumeModel.skip_empty
            stepping = replay_once(args, Path(folder), f"stepping{run}")
            for cls, method in skip.items():
                cls.skip_empty = method
            skipping = replay_once(args, Path(folder), f"skipping{run}")
            load = os.getloadavg()
            print(f"stepping every minute: {stepping[0]:7.1f} s   {stepping[1]}")
            print(f"skipping empty runs  : {skipping[0]:7.1f} s   {skipping[1]}")
            print(f"ratio stepping/skipping: {stepping[0] / skipping[0]:.2f}   load average "
                  f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}   stored the same: {stepping[2] == skipping[2]}")


def _detector_classes() -> list[type]:
    """Every registered model's class (built once to find it)."""
    from detector.volume.registry import DETECTORS
    from detector.volume.settings import VolumeSettings

    return [type(factory(VolumeSettings(), "probe")) for factory in DETECTORS.values()]


if __name__ == "__main__":
    main()
