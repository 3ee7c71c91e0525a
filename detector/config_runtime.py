"""What a valid config would still fail on at run time, found by `detector config check` before it does.

The schema says a config is well formed; it cannot say that the replay file exists, that the claims file
is readable, that a channel's URL scheme has a sender, or that a ``${NAME}`` is set. Each check here is
cheap, touches nothing outside the machine (no request is sent), and reports a located problem with a fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from detector.config import Problem, Settings, problem_at
from detector.secrets import Secrets

_REFERENCE = re.compile(r"\$\{(?:secret:)?([A-Za-z_][A-Za-z0-9_.-]*)\}")


def runtime_problems(settings: Settings, text: str, secrets: Secrets | None = None) -> list[Problem]:
    """Every run-time failure of ``settings`` (read from ``text``, paths already resolved) we can foresee."""
    secrets = secrets or Secrets(settings.secrets_file)
    return [*_files(settings, text), *_channels(settings, text), *_web_addresses(settings, text),
            *_unset_secrets(settings, text, secrets)]


def _files(settings: Settings, text: str) -> Iterator[Problem]:
    """A source that reads a file (a ``path`` setting: the replay) and the claims file must exist; read
    from the settings' fields, so no source type is named here."""
    for i, source in enumerate(settings.sources):
        path = getattr(source, "path", None)
        if path is not None and not Path(path).is_file():
            yield problem_at(["sources", i, "path"], text, f"{source.type} file {path} does not exist",
                             "check the path (relative paths are taken from the config's folder)")
    if settings.classifier.kind in ("fast", "cascade"):
        from detector.classify.fast import default_labelled_data

        if not default_labelled_data().is_file():
            yield problem_at(["classifier", "kind"], text,
                             f"the {settings.classifier.kind} classifier's fast tier trains its heads on "
                             f"{default_labelled_data()}, which is missing",
                             "reinstall the package (it carries data/labelled/posts.csv) or use kind = \"model\"")
    claims = settings.classifier.claims
    if claims is not None:
        from detector.classify.claims import ClaimsFileError, load_claims

        if not Path(claims).is_file():
            yield problem_at(["classifier", "claims"], text, f"claims file {claims} does not exist",
                             "check the path (relative to the config's folder), or remove `claims`")
        else:
            try:
                load_claims(claims)
            except ClaimsFileError as error:
                yield problem_at(["classifier", "claims"], text, f"claims file cannot be used: {error}",
                                 "fix the claims file (see examples/claims.toml)")


def _channels(settings: Settings, text: str) -> Iterator[Problem]:
    from detector.alerting.channels.registry import known_schemes, schemes

    for i, channel in enumerate(settings.alerts.channels):
        scheme = channel.url.split("://", 1)[0].lower() if "://" in channel.url else ""
        if scheme in schemes():
            continue
        if scheme and _apprise_knows(_REFERENCE.sub("x", channel.url)):
            continue
        yield problem_at(["alerts", "channels", i, "url"], text,
                         f"channel {channel.name!r} has an unsupported URL scheme {scheme + '://' if scheme else '(none)'}",
                         f"use one of: {known_schemes()} or an apprise URL")


def _web_addresses(settings: Settings, text: str) -> Iterator[Problem]:
    """Status pages and the sources' API addresses (their ``url`` and ``*_url`` settings) are fetched over
    HTTP: anything else fails every poll."""
    places: list[tuple[list[Any], str]] = [(["services", i, "status_page"], s.status_page)
                                           for i, s in enumerate(settings.services) if s.status_page]
    for i, source in enumerate(settings.sources):
        for name, value in source:
            if (name == "url" or name.endswith("_url")) and isinstance(value, str) and value:
                places.append((["sources", i, name], value))
    for loc, value in places:
        if not re.match(r"^https?://[^/\s]+", value, re.IGNORECASE):
            yield problem_at(loc, text, f"{value[:80]!r} is not an http(s) address, so every poll would fail",
                             "write the page's or API's address starting with https://")


def _apprise_knows(url: str) -> bool:
    """Whether apprise has a sender for ``url`` (its own complaint about an unknown one is ours to word)."""
    import logging

    try:
        from detector.alerting.channels.apprise_channel import apprise_plugin
    except ImportError:
        return False
    quiet = logging.getLogger("apprise")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return apprise_plugin(url) is not None
    finally:
        quiet.setLevel(level)


def _unset_secrets(settings: Settings, text: str, secrets: Secrets) -> Iterator[Problem]:
    """Every ``${NAME}`` in the config that neither the environment nor the secrets file sets."""
    for loc, value in _strings(settings.model_dump(mode="json")):
        for name in _REFERENCE.findall(value):
            if secrets.get(name) is None:
                env = "DETECTOR_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
                yield problem_at(loc, text, f"${{{name}}} is not set",
                                 f"set {env} (or {name}) in the environment, or {name} = \"...\" in the secrets file")


def _strings(value: Any, loc: list[Any] | None = None) -> Iterator[tuple[list[Any], str]]:
    loc = loc or []
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, [*loc, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, [*loc, i])
