"""How far a closed form for empty minutes would reach: a replay's skipped minutes, by what keeps them per minute.

    nice bin/py bench/quiet_minutes.py [FILE] [--classifier keywords]

``CusumModel.skip_empty`` walks a run of empty minutes one iteration each (issue 17's largest cost on a
sparse stream). A run can be learned in one closed-form step only where nothing in the state depends on
the minute: no unit left in a window, none waiting to be learned, every CUSUM back at zero. This replays
the file (the bundled Xfinity tweets by default) through the same assembly as `detector replay`, with
``skip_empty`` fed one minute at a time, and counts each skipped minute under the first reason it has to
stay per minute:

* **window**: the longest window still holds a unit (its sums, what the dispersion learns, move per minute);
* **pending**: a bucket judged within the learn delay held a unit or had one in a window;
* **cusum**: a CUSUM is still above zero (its statistic falls minute by minute, its threshold is checked);
* **deep quiet**: none of these; such a minute is learnable in closed form (level, profile and spread as
  geometric sums with the factors frozen at the run's start), split at clock hours (the slot changes).

It prints the counts, their share of the skipped minutes, and how many closed-form steps (deep-quiet runs
cut at clock hours) the deep-quiet minutes would take. The counts, not the wall time, are the result.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from detector.classify.settings import ClassifierSettings
from detector.config import Settings
from detector.runtime.assembly import build_system, run_source
from detector.sources.replay import ReplaySource
from detector.volume.cusum import CusumModel
from replay_args import add_replay_arguments, replay_settings, service_settings  # bench/ is the script's folder

REASONS = ("window", "pending", "cusum", "deep quiet")


def reason(model: CusumModel) -> str:
    """The first thing that keeps the next empty minute per minute (see the module doc)."""
    state = model.state_
    if any(window.value_sum for window in state.windows_):
        return "window"
    if any(entry.judgement.value or any(total for total, _ in entry.judgement.window_sums)
           for entry in state.pending):
        return "pending"
    if any(model.cusum_.stats):
        return "cusum"
    return "deep quiet"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_replay_arguments(parser, classifier="keywords")
    args = parser.parse_args()
    counts: Counter = Counter()
    steps = {"runs": 0, "last": None}
    original = CusumModel.skip_empty

    def one_at_a_time(self, start: datetime, width: timedelta, count: int, suppressed) -> int:
        done = 0
        while done < count:
            why = reason(self) if self.state_ is not None else "window"
            moment = start + done * width
            if why == "deep quiet":  # a new closed-form step unless it continues the last one in its hour
                last = steps["last"]
                if last is None or last != moment or moment.minute == 0:
                    steps["runs"] += 1
                steps["last"] = moment + width
            if not original(self, moment, width, 1, suppressed):
                break
            counts[why] += 1
            done += 1
        return done

    CusumModel.skip_empty = one_at_a_time
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db=str(Path(folder) / "quiet.db"), services=[service_settings(args)],
                            classifier=ClassifierSettings(kind=args.classifier))
        system = build_system(settings, notify=[f"jsonl://{Path(folder) / 'quiet.jsonl'}"])
        report = run_source(system, ReplaySource(replay_settings(args), system.pseudonymiser),
                            assigned=args.service, resume=False)
        system.close()
    total = sum(counts.values())
    print(report.summary())
    print(f"skipped empty minutes: {total}")
    for why in REASONS:
        print(f"  {why:<11} {counts[why]:8d}  {100 * counts[why] / max(total, 1):5.1f} %")
    print(f"closed-form steps for the deep-quiet minutes (runs cut at clock hours): {steps['runs']}")


if __name__ == "__main__":
    main()
