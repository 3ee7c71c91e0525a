"""Place finding now against an earlier commit's, side by side in one process, on real texts.

    nice bin/py bench/places_speed.py [--baseline REV] [--rounds 3]

Loads ``detector/places/extract.py`` as it was at ``--baseline`` (default ``HEAD``: the last commit, so an
uncommitted change is measured against it) next to the working tree's, gives both the same gazetteer, and
times each over the Xfinity tweets (bundled) and the PHEME source tweets (../shared/data, skipped when
absent), alternating the two versions for ``--rounds`` rounds so both meet the same load. Prints the best
round's milliseconds per text of each, their ratio, and whether the places found are identical on every
text (a speed-up must find exactly the same places). Absolute times move with the machine's load; the ratio
from one process does not move much.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Callable

from detector.places.extract import PlaceFinder

REPO = Path(__file__).resolve().parents[1]
DATA = {
    "xfinity tweets": (REPO / "data" / "xfinity-outage-2020" / "tweets.csv", "text"),
    "pheme source tweets": (REPO.parent / "shared" / "data" / "pheme-rumours" / "source_tweets.csv", "text"),
}


def baseline_finder(revision: str) -> type:
    """``PlaceFinder`` as ``detector/places/extract.py`` defined it at ``revision``."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:detector/places/extract.py"],
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("baseline_extract")
    sys.modules[module.__name__] = module  # dataclasses look their module up by name
    exec(compile(source, f"{revision}:detector/places/extract.py", "exec"), module.__dict__)
    return module.PlaceFinder


def texts_of(path: Path, column: str) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def best_of(rounds: int, runs: dict[str, Callable[[], list]]) -> tuple[dict[str, float], dict[str, list]]:
    """The least seconds each run took over ``rounds`` alternating rounds, and each run's last result."""
    best = {name: float("inf") for name in runs}
    found: dict[str, list] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            found[name] = run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare against (default HEAD)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    now = PlaceFinder()
    before = baseline_finder(args.baseline)(now.gazetteer)
    for name, (path, column) in DATA.items():
        if not path.exists():
            print(f"{name}: skipped, {path} is absent")
            continue
        texts = texts_of(path, column)
        for finder in (before, now):  # folded-word caches filled and lazy indexes built before timing
            [finder.find(text) for text in texts]
        best, found = best_of(args.rounds, {
            "baseline": lambda: [before.find(text) for text in texts],
            "now": lambda: [now.find(text) for text in texts],
        })
        differ = sum(1 for a, b in zip(found["baseline"], found["now"]) if a != b)
        ms = {key: 1000 * seconds / len(texts) for key, seconds in best.items()}
        print(f"{name}: {len(texts):,} texts, {sum(1 for f in found['now'] if f):,} with places; "
              f"baseline {ms['baseline']:.3f} ms a text, now {ms['now']:.3f} ms, "
              f"{ms['baseline'] / ms['now']:.2f}x; texts whose places differ: {differ}")


if __name__ == "__main__":
    main()
