"""The one configuration file (TOML), validated once at the edge.

A bad config is a user's problem to fix, so every error names its place (the TOML path and line) and says
how to fix it, and all errors are reported at once rather than one per attempt.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detector.alerting.settings import AlertSettings
from detector.comms.settings import CommsSettings
from detector.bus.settings import BusSettings
from detector.classify.settings import ClassifierSettings
from detector.sources.matching import ServiceRule
from detector.runtime.settings import RunSettings
from detector.sources.registry import SOURCE_TYPES, SourceSettings
from detector.upstreams import DEFAULT_UPSTREAMS, UpstreamSettings, resolve_upstreams
from detector.volume.settings import VolumeSettings


class ServiceSettings(BaseModel):
    """A watched service and how posts name it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="The service's display name, e.g. 'ChatGPT'.")
    match: list[str] = Field(
        default_factory=list,
        description="Names and aliases that mean this service ('chatgpt', 'chat gpt', 'openai'); hashtags "
        "and @mentions containing them match too. Empty: only posts of sources assigned to it.",
    )
    exclude: list[str] = Field(default_factory=list, description="Phrases that are not this service ('openai gym').")
    status_page: str | None = Field(None, description="The provider's official status page URL.")
    depends_on: list[str] = Field(
        default_factory=list,
        description="Upstreams this service runs on (names of [[upstreams]] or shipped defaults such as "
        "'Cloudflare', 'AWS'): their trouble is a likely cause when this service's incident opens with it.",
    )

    @field_validator("match", "exclude")
    @classmethod
    def _no_blank_terms(cls, terms: list[str]) -> list[str]:
        if any(not term.strip() for term in terms):
            raise ValueError("a term is empty; remove it")
        return terms

    def rule(self) -> ServiceRule:
        return ServiceRule(self.name, tuple(self.match), tuple(self.exclude))


class Settings(BaseModel):
    """Everything the detector needs to run, from one TOML file."""

    model_config = ConfigDict(extra="forbid")

    db: str = Field("detector.db", description="SQLite file path, or a database URL (postgresql+psycopg://...).")
    secrets_file: Path | None = Field(None, description="TOML file of secrets (keys, webhook URLs).")
    services: list[ServiceSettings] = Field(default_factory=list)
    upstreams: list[UpstreamSettings] = Field(
        default_factory=list,
        description="Providers the services depend on (clouds, CDNs): their posts and status pages are evidence "
        "for grouping incidents into cascades; never paged for by themselves.",
    )
    sources: list[SourceSettings] = Field(default_factory=list)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    detection: VolumeSettings = Field(default_factory=VolumeSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    comms: CommsSettings = Field(default_factory=CommsSettings)
    bus: BusSettings | None = Field(
        None, description="Redis Streams between worker processes (`detector worker`); none: one process."
    )
    run: RunSettings = Field(default_factory=RunSettings)

    @model_validator(mode="after")
    def _references_resolve(self) -> "Settings":
        names = [service.name for service in self.services]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"service names must be unique; rename the repeated {', '.join(duplicates)}")
        known = set(names)
        for channel in self.alerts.channels:
            unknown = [s for s in channel.services if s not in known]
            if unknown:
                raise ValueError(
                    f"alerts channel {channel.name!r} routes unknown service(s) {', '.join(unknown)}; "
                    f"use one of: {', '.join(sorted(known)) or '(no services configured)'}"
                )
        self._upstreams_resolve(known)
        source_names = [source.name for source in self.sources]
        repeated = sorted({name for name in source_names if source_names.count(name) > 1})
        if repeated:
            raise ValueError(f"source names must be unique (cursors are kept by name); rename the repeated "
                             f"{', '.join(repeated)}")
        for source in self.sources:
            service = getattr(source, "service", None)
            if service and service not in known:
                raise ValueError(
                    f"source {source.name!r} assigns posts to {service!r}, which is not a watched service; "
                    f"add a [[services]] entry with name = {service!r}"
                )
        return self

    def _upstreams_resolve(self, services: set[str]) -> None:
        names = [u.name for u in self.upstreams]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"upstream names must be unique; rename the repeated {', '.join(repeated)}")
        clash = sorted(set(names) & services)
        if clash:
            raise ValueError(f"{', '.join(clash)} is both a service and an upstream; keep one of them")
        known = set(names) | (set(DEFAULT_UPSTREAMS) - services)
        for service in self.services:
            unknown = [u for u in service.depends_on if u not in known]
            if unknown:
                raise ValueError(
                    f"service {service.name!r} depends on unknown upstream(s) {', '.join(unknown)}; "
                    f"use one of: {', '.join(sorted(known))} (or add an [[upstreams]] entry)"
                )

    def watched_upstreams(self) -> list[UpstreamSettings]:
        """The upstreams in force: configured ones and the shipped defaults a service depends on."""
        return resolve_upstreams(self.upstreams, {u for s in self.services for u in s.depends_on})

    def service(self, name: str) -> ServiceSettings | None:
        return next((s for s in self.services if s.name == name), None)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file: where, what, and how to fix it."""

    place: str
    line: int | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.place} (line {self.line})" if self.line else self.place
        return f"{where}: {self.message} — {self.fix}"


class ConfigError(Exception):
    """The config file cannot be used; ``problems`` lists every reason."""

    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = problems
        first = problems[0] if problems else "unknown problem"
        more = f" (and {len(problems) - 1} more; run `detector config check {path}`)" if len(problems) > 1 else ""
        super().__init__(f"config {path}: {first}{more}")


def load_settings(path: Path | str) -> Settings:
    """Read and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [Problem("file", None, "does not exist", "check the path")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(path, [Problem("file", None, f"cannot be read ({error})", "check the file")]) from None
    return parse_settings(text, path)


def parse_settings(text: str, path: Path | str = "<config>") -> Settings:
    """Validate TOML text as Settings; relative paths in it are taken from the file's folder."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"at line (\d+)", str(error))
        line = getattr(error, "lineno", None) or (int(found.group(1)) if found else None)
        raise ConfigError(
            path, [Problem("file", line, f"is not valid TOML ({error})", "fix the syntax at that line")]
        ) from None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(path, explain(error, text)) from None
    return _resolve_paths(settings, Path(path).parent if str(path) != "<config>" else Path.cwd())


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    def rel(value: Path | None) -> Path | None:
        return None if value is None or value.is_absolute() else base / value

    updates: dict[str, Any] = {}
    if settings.secrets_file is not None:
        updates["secrets_file"] = rel(settings.secrets_file)
    classifier = settings.classifier.model_copy(
        update={k: rel(getattr(settings.classifier, k)) or getattr(settings.classifier, k)
                for k in ("model_dir", "embedding_model", "claims")}
    )
    sources = [
        s.model_copy(update={"path": rel(s.path) or s.path}) if hasattr(s, "path") else s
        for s in settings.sources
    ]
    db = settings.db
    if "://" not in db and not Path(db).is_absolute():
        db = str(base / db)
    return settings.model_copy(update={**updates, "classifier": classifier, "sources": sources, "db": db})


_FIXES = {
    "missing": "add this field",
    "extra_forbidden": "remove it, or check its spelling against `detector config check --schema`",
    "literal_error": "use one of the allowed values",
    "union_tag_invalid": "set `type` to one of the allowed source types",
    "string_type": "write it as a quoted string",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "bool_parsing": "write true or false",
    "list_type": "write a list, e.g. [\"a\", \"b\"]",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "datetime_from_date_parsing": "write an ISO-8601 time such as 2024-05-01T12:00:00Z",
    "datetime_parsing": "write an ISO-8601 time such as 2024-05-01T12:00:00Z",
    "timezone_aware": "add a timezone, e.g. a trailing Z for UTC",
}


def explain(error: ValidationError, text: str) -> list[Problem]:
    """Turn pydantic's errors into located problems with a fix each."""
    problems = []
    for item in error.errors(include_url=False):
        loc = _without_tags(item["loc"])
        place = _place(loc) or "config"
        message = item["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(item["type"], "see `detector config check --schema` for the expected form")
        if item["type"] == "value_error":
            message, _, fix_part = message.partition("; ")
            fix = fix_part or fix
        problems.append(Problem(place, _line_of(loc, text), message, fix))
    return problems


def _without_tags(loc: tuple[Any, ...]) -> list[Any]:
    """The location without the source type pydantic inserts after ``sources[i]`` (the union's tag, e.g.
    "replay"), which is not a key in the file."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if i >= 2 and loc[i - 2] == "sources" and isinstance(loc[i - 1], int) and part in SOURCE_TYPES:
            continue
        out.append(part)
    return out


def _place(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(loc: list[Any], text: str) -> int | None:
    """Best-effort line of a TOML location: finds the table (or array-of-tables entry) and then the key."""
    lines = text.splitlines()
    start, end = 0, len(lines)
    table: list[str] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, str) and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            header = re.compile(rf"^\s*\[\[\s*{re.escape('.'.join(table + [part]))}\s*\]\]")
            hits = [n for n in range(start, end) if header.match(lines[n])]
            if loc[i + 1] < len(hits):
                start = hits[loc[i + 1]] + 1
                end = next((n for n in range(start, len(lines)) if re.match(r"^\s*\[", lines[n])), len(lines))
                table = table + [part]
                i += 2
                continue
        if isinstance(part, str):
            key = re.compile(rf"^\s*{re.escape(part)}\s*=")
            for n in range(start, end):
                if key.match(lines[n]):
                    return n + 1
            header = re.compile(rf"^\s*\[\s*{re.escape('.'.join(table + [part]))}\s*\]")
            hit = next((n for n in range(len(lines)) if header.match(lines[n])), None)
            if hit is None:
                return start if start else None
            start = hit + 1
            end = next((n for n in range(start, len(lines)) if re.match(r"^\s*\[", lines[n])), len(lines))
            table = table + [part]
        i += 1
    return start if start else None
