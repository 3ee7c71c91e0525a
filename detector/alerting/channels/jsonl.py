"""A channel that appends every notification as one JSON line to a file: easy to tail, grep and load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from detector.alerting.channels.base import Channel, Delivery


class JsonlChannel(Channel):
    """Appends notifications to a JSON-lines file."""

    def __init__(self, path: Path, name: str = "jsonl") -> None:
        self.name = name
        self.path = Path(path)

    def send(self, notification: Mapping[str, Any]) -> Delivery:
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(notification, ensure_ascii=False, default=str) + "\n")
        except OSError as error:
            return Delivery(ok=False, error=f"cannot write {self.path.name}: {error.strerror}")
        return Delivery(ok=True)

    def describe(self) -> str:
        return f"jsonl://{self.path}"
