"""Secrets (keys, webhook URLs, tokens) from the environment or a secrets file, never from the config.

Values are looked up by name: ``DETECTOR_<NAME>`` in the environment first, then ``name`` in the secrets
file (TOML, ideally mode 0600). ``mask`` hides any known secret inside a string before it is logged or
stored, so an exception that quotes a URL does not leak it.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Mapping

from detector.masking import mask_values

_REF = re.compile(r"\$\{(?:secret:)?([A-Za-z_][A-Za-z0-9_.-]*)\}")


class SecretError(Exception):
    """A secret the configuration refers to is missing or its file is unreadable."""


class Secrets:
    """Named secrets from the environment and an optional TOML file."""

    def __init__(self, file: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self._file_values: dict[str, str] = {}
        path = file or (Path(self._environ["DETECTOR_SECRETS_FILE"]) if "DETECTOR_SECRETS_FILE" in self._environ else None)
        if path is not None:
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise SecretError(f"secrets file {path} does not exist") from None
            except (OSError, tomllib.TOMLDecodeError) as error:
                raise SecretError(f"secrets file {path} cannot be read: {type(error).__name__}") from None
            self._file_values = {str(k): str(v) for k, v in data.items() if not isinstance(v, dict)}
        self._used: set[str] = set()

    def get(self, name: str) -> str | None:
        """The secret called ``name`` (env ``DETECTOR_NAME`` or ``NAME`` wins over the file), or None."""
        env_name = "DETECTOR_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
        for key in (env_name, name):
            if key in self._environ and self._environ[key]:
                self._used.add(self._environ[key])
                return self._environ[key]
        value = self._file_values.get(name)
        if value:
            self._used.add(value)
        return value

    def expand(self, text: str) -> str:
        """Replace ``${NAME}`` / ``${secret:NAME}`` references; raise SecretError naming a missing one."""

        def replace(match: re.Match[str]) -> str:
            value = self.get(match.group(1))
            if value is None:
                raise SecretError(
                    f"secret {match.group(1)!r} is not set; export DETECTOR_{match.group(1).upper()} "
                    "or add it to the secrets file"
                )
            return value

        return _REF.sub(replace, text)

    def mask(self, text: str) -> str:
        """``text`` with every secret value seen so far replaced by '***'."""
        return mask_values(text, self._used)


def display_url(url: str) -> str:
    """``url`` fit to print: a password in it (``user:pw@host``) shown as ``***``.

    Every printer of a database or service URL goes through this (summaries, errors, the dashboard), so a
    PostgreSQL password never reaches a terminal, a log or a screenshot.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password or password.startswith("${"):
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
