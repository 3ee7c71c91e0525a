"""Posts and verdicts as stream message fields (JSON), and back, without loss."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from detector.records import Place, Post, Verdict


def post_to_json(post: Post) -> str:
    return json.dumps({
        "source": post.source, "source_id": post.source_id, "created_at": post.created_at.isoformat(),
        "text": post.text, "services": list(post.services), "author": post.author, "url": post.url,
        "lang": post.lang, "metadata": dict(post.metadata), "context": post.context,
    }, ensure_ascii=False, default=str)


def post_from_json(text: str | bytes) -> Post:
    data: dict[str, Any] = json.loads(text)
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    data["services"] = tuple(data["services"])
    return Post(**data)


def verdict_to_json(verdict: Verdict) -> str:
    return json.dumps(asdict(verdict), ensure_ascii=False)


def verdict_from_json(text: str | bytes) -> Verdict:
    data: dict[str, Any] = json.loads(text)
    data["places"] = tuple(Place(**place) for place in data.get("places") or ())
    return Verdict(**data)
