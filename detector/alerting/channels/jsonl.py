"""A channel that appends every notification as one JSON line to a file: easy to tail, grep and load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from detector.alerting.channels.base import Channel, ChannelError, ChannelKind, Delivery
from detector.secrets import Secrets


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


def jsonl_from_url(name: str, url: str, secrets: Secrets, signing: str) -> JsonlChannel:
    """jsonl:///path/to/file.jsonl (jsonl://relative/path also works)."""
    path = urlsplit(url).path or url.split("://", 1)[1]
    if not path:
        raise ChannelError(f"channel {name!r}: jsonl:// needs a file path, e.g. jsonl:///var/log/alerts.jsonl")
    return JsonlChannel(Path(path), name)


KIND = ChannelKind(schemes=("jsonl",), build=jsonl_from_url)
