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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from detector.alerting.settings import AlertSettings
from detector.comms.settings import CommsSettings
from detector.bus.settings import BusSettings
from detector.classify.settings import ClassifierSettings
from detector.classify.symptoms import DEFAULT_KIND, KINDS, SymptomSet, check_symptoms
from detector.sources.matching import ServiceRule, no_blank_terms
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
    kind: str = Field(
        DEFAULT_KIND,
        description=f"What kind of service it is, which gives its default symptom list: {', '.join(KINDS)}.",
    )
    symptoms: dict[str, str] | None = Field(
        None,
        description="The service's own symptoms, name = short description in comma-separated phrases "
        "(internet = \"no internet, modem offline, DNS not resolving\"); replaces the kind's list.",
    )

    @field_validator("match", "exclude")
    @classmethod
    def _no_blank_terms(cls, terms: list[str]) -> list[str]:
        return no_blank_terms(terms)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        return kind

    @field_validator("symptoms")
    @classmethod
    def _symptoms_described(cls, symptoms: dict[str, str] | None) -> dict[str, str] | None:
        return None if symptoms is None else check_symptoms(symptoms)

    def symptom_set(self) -> SymptomSet:
        """The symptoms complaints about this service are sorted into: its own list, else its kind's."""
        return SymptomSet.of(self.kind, self.symptoms)

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
    def _references_resolve(self, info: ValidationInfo) -> "Settings":
        """Names that refer to other entries must resolve. A file read by :func:`parse_settings` is checked
        after validation instead, so that every such problem is reported at once, each at its own line."""
        if (info.context or {}).get("defer_references"):
            return self
        problems = reference_problems(self)
        if problems:
            _, message, fix = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ValueError(f"{message}{more}; {fix}")
        return self

    def watched_upstreams(self) -> list[UpstreamSettings]:
        """The upstreams in force: configured ones and the shipped defaults a service depends on."""
        return resolve_upstreams(self.upstreams, {u for s in self.services for u in s.depends_on})

    def service(self, name: str) -> ServiceSettings | None:
        return next((s for s in self.services if s.name == name), None)


def reference_problems(settings: Settings) -> list[tuple[list[Any], str, str]]:
    """Every name in ``settings`` that refers to something missing: (TOML location, message, fix)."""
    out: list[tuple[list[Any], str, str]] = []
    names = [service.name for service in settings.services]
    known = set(names)
    choices = ", ".join(sorted(known)) or "(no services configured)"
    for i, service in enumerate(settings.services):
        if names.index(service.name) != i:
            out.append((["services", i, "name"], f"service name {service.name!r} is used twice",
                        "service names must be unique; rename one"))
    for i, channel in enumerate(settings.alerts.channels):
        unknown = [s for s in channel.services if s not in known]
        if unknown:
            out.append((["alerts", "channels", i, "services"],
                        f"alerts channel {channel.name!r} routes unknown service(s) {', '.join(unknown)}",
                        f"use one of: {choices}"))
    source_names = [source.name for source in settings.sources]
    for i, source in enumerate(settings.sources):
        if source_names.index(source.name) != i:
            out.append((["sources", i, "name"], f"source name {source.name!r} is used twice (cursors are kept by name)",
                        "source names must be unique; rename one"))
        service = getattr(source, "service", None)
        if service and service not in known:
            out.append((["sources", i, "service"],
                        f"source {source.name!r} assigns posts to {service!r}, which is not a watched service",
                        f"add a [[services]] entry with name = {service!r}, or use one of: {choices}"))
    out += _upstream_problems(settings, known)
    for i, window in enumerate(settings.detection.maintenance):
        # with no [[services]] the services come from the command line (`replay --service`)
        if known and window.service is not None and window.service not in known:
            out.append((["detection", "maintenance", i, "service"],
                        f"maintenance window for {window.service!r}, which is not a watched service "
                        "(it would never suppress anything)", f"use one of: {choices}, or leave service empty for all"))
    return out


def _upstream_problems(settings: Settings, services: set[str]) -> list[tuple[list[Any], str, str]]:
    out: list[tuple[list[Any], str, str]] = []
    names = [u.name for u in settings.upstreams]
    for i, name in enumerate(names):
        if names.index(name) != i:
            out.append((["upstreams", i, "name"], f"upstream name {name!r} is used twice",
                        "upstream names must be unique; rename one"))
        if name in services:
            out.append((["upstreams", i, "name"], f"{name} is both a service and an upstream", "keep one of them"))
    known = set(names) | (set(DEFAULT_UPSTREAMS) - services)
    for i, service in enumerate(settings.services):
        unknown = [u for u in service.depends_on if u not in known]
        if unknown:
            out.append((["services", i, "depends_on"],
                        f"service {service.name!r} depends on unknown upstream(s) {', '.join(unknown)}",
                        f"use one of: {', '.join(sorted(known))} (or add an [[upstreams]] entry)"))
    return out


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


def problem_at(loc: list[Any], text: str, message: str, fix: str) -> Problem:
    """A problem at the TOML location ``loc`` (e.g. ``["alerts", "channels", 0, "url"]``) of ``text``."""
    return Problem(_place(loc) or "config", _line_of(loc, text), message, fix)


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
    settings, problems = check_settings(text, path)
    if problems or settings is None:
        raise ConfigError(path, problems)
    return settings


def check_settings(text: str, path: Path | str = "<config>") -> tuple[Settings | None, list[Problem]]:
    """The settings in ``text`` and every problem found in them, all at once. The settings are ``None``
    only when the text is not valid TOML or a field is invalid; with names that refer to nothing (a
    service, a source) they are returned too, so that later checks can still look at the rest."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"at line (\d+)", str(error))
        line = getattr(error, "lineno", None) or (int(found.group(1)) if found else None)
        return None, [Problem("file", line, f"is not valid TOML ({error})", "fix the syntax at that line")]
    try:
        settings = Settings.model_validate(raw, context={"defer_references": True})
    except ValidationError as error:
        return None, explain(error, text)
    problems = [problem_at(loc, text, message, fix) for loc, message, fix in reference_problems(settings)]
    return _resolve_paths(settings, Path(path).parent if str(path) != "<config>" else Path.cwd()), problems


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
    elif "${" in db and updates.get("secrets_file") is not None:
        from detector.secrets import Secrets  # the config's own secrets file; the environment still wins

        db = Secrets(updates["secrets_file"]).expand(db)
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
    """Best-effort line of a TOML location: the key's own line, else the header of the innermost table
    (or array-of-tables entry) that holds it, never a parent's when the nested table has its own header.
    Headers are full dotted paths, so each is looked for in the whole file."""
    lines = text.splitlines()

    def next_header(after: int) -> int:
        return next((n for n in range(after, len(lines)) if re.match(r"^\s*\[", lines[n])), len(lines))

    start, end = 0, next_header(0)  # top-level keys come before the first header
    found: int | None = None  # 0-based line of the innermost header found
    table: list[str] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        if not isinstance(part, str):
            i += 1
            continue
        dotted = re.escape(".".join(table + [part])).replace(r"\.", r"\s*\.\s*")
        if i + 1 < len(loc) and isinstance(loc[i + 1], int):
            header = re.compile(rf"^\s*\[\[\s*{dotted}\s*\]\]")
            hits = [n for n in range(len(lines)) if header.match(lines[n])]
            if loc[i + 1] < len(hits):
                found = hits[loc[i + 1]]
                start, end = found + 1, next_header(found + 1)
                table.append(part)
                i += 2
                continue
        key = re.compile(rf"^\s*{re.escape(part)}\s*=")
        hit = next((n for n in range(start, end) if key.match(lines[n])), None)
        if hit is not None:
            return hit + 1
        header = re.compile(rf"^\s*\[\s*{dotted}\s*\]")
        hit = next((n for n in range(len(lines)) if header.match(lines[n])), None)
        if hit is not None:
            found = hit
            start, end = hit + 1, next_header(hit + 1)
        table.append(part)  # no header of its own: a table known only through deeper headers, e.g. [[alerts.channels]]
        i += 1
    return None if found is None else found + 1
