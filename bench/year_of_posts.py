"""Write a synthetic year of sparse posts about one provider, for end-to-end runs at realistic scale.

    .venv/bin/python bench/year_of_posts.py OUT.csv [--posts 40000] [--seed 1]

Written by this project (no real posts): about 110 posts a day with a daily and weekly rhythm, mostly
chatter; a few non-outage spikes (a TV premiere, a pay-per-view queue: many mentions, few complaints) and a
few real outages (bursts of complaints from many distinct people). The outage times are printed so a run's
incidents can be checked against them. Columns: id, created_at, author, text.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from datetime import datetime, timedelta, timezone

CHATTER = [
    "just signed up for {s} fiber, install is next week", "{s} tv has the game tonight right?",
    "anyone know if {s} has a student discount", "the new {s} remote is actually nice", "{s} ad during the game again lol",
    "switching from {s} to something cheaper, any tips", "{s} customer service was helpful today for once",
    "what channel is the premiere on {s}", "my {s} bill went up again", "thinking about {s} mobile",
]
COMPLAINTS = [
    "{s} internet is down again", "is {s} down for anyone else?", "{s} outage in my area, no eta",
    "no internet since noon, thanks {s}", "{s} wifi keeps dropping every few minutes", "{s} not working at all here",
    "cant stream anything, {s} is down", "my {s} connection is dead, modem blinking orange",
    "@{s} service outage in 60614?", "{s} down again, third time this week",
]
PREMIERE = ["watching the premiere on {s} tonight!", "{s} where is the premiere channel??", "premiere on {s} now"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--posts", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--service", default="Xfinity")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = datetime(2023, 1, 1, tzinfo=timezone.utc)
    rows = []
    base_per_hour = args.posts / (365 * 24) * 0.93
    hour = 0
    while hour < 365 * 24:
        moment = start + timedelta(hours=hour)
        daily = 1 + 0.8 * math.sin((moment.hour - 9) / 24 * 2 * math.pi)
        weekly = 1.2 if moment.weekday() >= 5 else 1.0
        for _ in range(_poisson(rng, base_per_hour * daily * weekly)):
            at = moment + timedelta(seconds=rng.random() * 3600)
            template = rng.choice(COMPLAINTS) if rng.random() < 0.15 else rng.choice(CHATTER)
            rows.append((at, f"u{rng.randrange(20_000)}", template))
        hour += 1
    outages = [start + timedelta(days=d, hours=h) for d, h in ((40, 14), (131, 2), (200, 19), (310, 11))]
    for begin in outages:
        for i in range(rng.randint(60, 150)):
            at = begin + timedelta(seconds=rng.expovariate(1 / 900) + 60)
            rows.append((at, f"o{begin:%j}-{i}", rng.choice(COMPLAINTS)))
    spikes = [start + timedelta(days=d, hours=h) for d, h in ((75, 1), (250, 0))]
    for begin in spikes:
        for i in range(200):
            rows.append((begin + timedelta(seconds=rng.random() * 3600), f"p{i}", rng.choice(PREMIERE)))
    rows.sort()
    with open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "created_at", "author", "text"])
        for n, (at, author, template) in enumerate(rows, 1):
            writer.writerow([n, at.isoformat().replace("+00:00", "Z"), author, template.format(s=args.service.lower())])
    print(f"wrote {len(rows):,} posts to {args.out}")
    print("outages (first complaint ~1 min after):", ", ".join(o.isoformat() for o in outages))
    print("non-outage spikes (TV premieres):", ", ".join(s.isoformat() for s in spikes))


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


if __name__ == "__main__":
    main()
