"""Rebuild ``posts.csv`` from the hand labels and the hand-written examples in this folder.

Run from the repository root: ``python data/labelled/build_dataset.py [--shared ../shared/data]``.
The real posts come from the MIT-licensed Xfinity collection (see README.md); only the rows labelled by
hand in ``xfinity_labels.csv`` are kept, with user names dropped and personal @handles masked.
The split is fixed by a seeded shuffle and stored in the ``split`` column, so it never changes silently:
the rows of the first release keep the split they had, rows added later are split among themselves with
their own seed, and written rows are never in the test split (it holds real posts only).
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 3
ADDED_SEED = 13  # rows labelled after the first release (2026-11): split among themselves
TEST_SHARE = 0.25
SYMPTOMS = {
    "n": "none", "o": "other", "l": "login", "e": "errors", "s": "slow",
    "a": "app", "w": "web", "p": "api", "y": "payments", "d": "data_loss",
}
SLOTS = {
    "app": ["chatgpt", "discord", "slack", "instagram", "whatsapp", "spotify", "netflix", "youtube", "x",
            "tiktok", "zoom", "teams", "gmail", "outlook", "snapchat", "reddit", "twitch", "claude", "gemini"],
    "isp": ["xfinity", "comcast", "spectrum", "verizon fios", "at&t", "cox", "t-mobile", "starlink", "bt",
            "virgin media", "optimum", "frontier"],
    "bank": ["chase", "bank of america", "wells fargo", "monzo", "revolut", "paypal", "venmo", "barclays",
             "capital one", "cash app", "hsbc", "citi"],
    "game": ["steam", "psn", "xbox live", "fortnite", "epic games", "battle.net", "roblox",
             "nintendo online", "valorant", "league of legends", "minecraft"],
    "dev": ["github", "aws", "the openai api", "cloudflare", "vercel", "heroku", "azure", "gcp", "stripe",
            "npm", "docker hub", "supabase", "gitlab"],
}
SLOT_COPIES = 3
# Corporate accounts stay readable; every other @handle is a person and is masked.
BRAND_HANDLE = re.compile(
    r"@(xfinity\w*|comcast\w*|att\w*|verizon\w*|tmobile\w*|spectrum\w*|cox\w*|rcn\w*|suddenlink\w*|"
    r"mediacom\w*|wow\w*|googlefiber|uverse|myccitweets|cspire\w*|visible|disneyplus|twitter|callofduty)\b",
    re.IGNORECASE,
)
HANDLE = re.compile(r"@\w+")


def mask_handles(text: str) -> str:
    return HANDLE.sub(lambda m: m.group(0) if BRAND_HANDLE.fullmatch(m.group(0)) else "@user", text)


def real_posts(shared: Path) -> pd.DataFrame:
    labels = pd.read_csv(HERE / "xfinity_labels.csv", dtype={"post_id": str})
    tweets = pd.read_csv(shared / "xfinity-outage-2020" / "tweets.csv", dtype={"tweet_id": str})
    tweets = tweets.rename(columns={"tweet_id": "post_id", "ts_utc": "created_at"})
    tweets["source"] = "xfinity-tweets"
    reddit = pd.read_csv(
        shared / "xfinity-outage-2020" / "reddit_posts.csv", header=None,
        names=["created_at", "subreddit", "title", "selftext"],
    )
    reddit["post_id"] = [f"r{i}" for i in range(len(reddit))]
    reddit["text"] = (reddit["title"].fillna("") + "\n\n" + reddit["selftext"].fillna("")).str.strip()
    reddit["text"] = reddit["text"].str.slice(0, 2000)
    reddit["source"] = "xfinity-reddit"
    posts = pd.concat([tweets[["post_id", "created_at", "text", "source"]],
                       reddit[["post_id", "created_at", "text", "source"]]])
    out = labels.merge(posts, on=["source", "post_id"], how="left", validate="one_to_one")
    out["first_release"] = out["symptom"].fillna("").astype(str).str.strip() != ""  # later rows: no symptom label
    if out["text"].isna().any():
        raise SystemExit(f"{out['text'].isna().sum()} labelled posts not found in {shared}")
    out["text"] = out["text"].map(mask_handles)
    out["group"] = out["source"] + ":" + out["post_id"]
    return out


def written_posts() -> pd.DataFrame:
    rng = random.Random(SEED)
    rows = []
    for path in sorted(p for p in HERE.glob("written_*.txt") if p.stem != "written_support"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            head, text = line.split(" | ", 1)
            complaint, misinformation, symptom, service = head.split()
            group = f"{path.stem}:{n}"
            slot = re.search(r"\{(\w+)\}", text)
            fills = rng.sample(SLOTS[slot.group(1)], SLOT_COPIES) if slot else [None]
            for fill in fills:
                rows.append({
                    "post_id": f"{group}:{fill}" if fill else group,
                    "text": text.replace(slot.group(0), fill) if slot else text,
                    "complaint": int(complaint), "misinformation": int(misinformation),
                    "symptom": SYMPTOMS[symptom], "service": (fill or service).replace(" ", "-"),
                    "source": "written", "created_at": "", "group": group,
                })
    return pd.DataFrame(rows)


def written_support() -> pd.DataFrame:
    """``written_support.txt``: complaint, outage_report and misinformation per line, no symptom, no slots."""
    path = HERE / "written_support.txt"
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        head, text = line.split(" | ", 1)
        complaint, outage, misinformation, service = head.split()
        rows.append({
            "post_id": f"{path.stem}:{n}", "text": text, "complaint": int(complaint),
            "outage_report": int(outage), "misinformation": int(misinformation), "symptom": "",
            "service": service, "source": "written", "created_at": "", "group": f"{path.stem}:{n}",
        })
    return pd.DataFrame(rows)


def outage_labels(frame: pd.DataFrame) -> pd.Series:
    """The outage_report label per row: ``outage_labels.csv`` for real posts (by id) and the written lines it
    overrides (by line), else the written line's complaint label (written complaints describe disruptions)."""
    table = pd.read_csv(HERE / "outage_labels.csv", dtype=str)
    keyed = {(s, p): int(v) for s, p, v in zip(table["source"], table["post_id"], table["outage_report"])}
    out = []
    for source, post_id, group, complaint in zip(frame["source"], frame["post_id"], frame["group"],
                                                 frame["complaint"]):
        if source == "written":
            out.append(keyed.get(("written", group), int(complaint)))
        elif (source, post_id) in keyed:
            out.append(keyed[(source, post_id)])
        else:
            raise SystemExit(f"{source}:{post_id} has no outage_report label in outage_labels.csv")
    return pd.Series(out, index=frame.index)


def active_ids() -> set[str]:
    """Post ids whose labels come from the active-learning pass (``pass == active`` in outage_labels.csv)."""
    table = pd.read_csv(HERE / "outage_labels.csv", dtype=str)
    return set(table.loc[table["pass"] == "active", "post_id"])


def assign_split(frame: pd.DataFrame) -> pd.Series:
    """Test rows are whole groups (a written line and its slot copies), stratified by source and label."""
    rng = random.Random(SEED)
    test = set()
    strata = frame.groupby("group").first()[["source", "complaint", "misinformation"]]
    for _, members in strata.groupby(["source", "complaint", "misinformation"]):
        groups = sorted(members.index)
        rng.shuffle(groups)
        test.update(groups[: round(len(groups) * TEST_SHARE)])
    return frame["group"].map(lambda g: "test" if g in test else "train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[2] / "shared" / "data")
    args = parser.parse_args()
    real = real_posts(args.shared)
    first = pd.concat([real[real["first_release"]], written_posts()], ignore_index=True)
    first["split"] = assign_split(first)  # the first release's split, unchanged
    added = real[~real["first_release"]].copy()
    added["outage_report"] = outage_labels(added)
    # Rows labelled by active learning (pass `active`) were picked by what the shipped head flagged: they are
    # train only, and kept out of the seeded shuffle so the earlier added rows keep the split they had.
    active = added[added["post_id"].isin(active_ids())].copy()
    added = added[~added["post_id"].isin(active_ids())].copy()
    rng = random.Random(ADDED_SEED)
    test = set()
    for _, members in added.groupby(["complaint", "outage_report"]):
        groups = sorted(members["group"])
        rng.shuffle(groups)
        test.update(groups[: round(len(groups) * TEST_SHARE)])
    added["split"] = added["group"].map(lambda g: "test" if g in test else "train")
    active["split"] = "train"
    support = written_support()
    support["split"] = "train"
    frame = pd.concat([first, added, active, support], ignore_index=True)
    missing = frame["outage_report"].isna()  # written_support.txt lines carry their own label
    frame.loc[missing, "outage_report"] = outage_labels(frame[missing])
    frame["outage_report"] = frame["outage_report"].astype(int)
    frame.loc[frame["source"] == "written", "split"] = "train"  # the test split holds real posts only
    frame["complaint"] = frame["complaint"].astype(int)
    frame.loc[frame["complaint"] == 0, "symptom"] = "none"
    columns = ["source", "post_id", "created_at", "text", "complaint", "outage_report", "misinformation",
               "symptom", "service", "split"]
    frame[columns].to_csv(HERE / "posts.csv", index=False)
    print(frame.groupby(["source", "split"]).size().to_string())


if __name__ == "__main__":
    main()
