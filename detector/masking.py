"""Secret masking: the one rule (every known value of four characters or more becomes ``***``, longest
first) and the log filter that applies it to the HTTP libraries' records.

httpx logs every request's URL at INFO, and webhook URLs *are* secrets (Slack's, Teams'). A channel
registers its secret values when it is built; the first registration installs the filter on the httpx and
httpcore loggers (nothing is installed by importing this module), which then masks every registered value
whatever handler is attached.
"""

from __future__ import annotations

import logging
import threading
from typing import Iterable

MIN_LENGTH = 4  # shorter values would mask ordinary words
HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")

_registered: set[str] = set()
_lock = threading.Lock()


def mask_values(text: str, values: Iterable[str | None]) -> str:
    """``text`` with every one of ``values`` (of ``MIN_LENGTH`` or more) replaced by ``***``, longest first."""
    for value in sorted({v for v in values if v and len(v) >= MIN_LENGTH}, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def mask_text(text: str, values: Iterable[str | None] = ()) -> str:
    """``text`` with every registered secret and every one of ``values`` replaced by ``***``."""
    with _lock:
        known = set(_registered)
    return mask_values(text, known.union(values))


class _MaskSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _registered:
            message = record.getMessage()
            masked = mask_text(message)
            if masked != message:
                record.msg, record.args = masked, ()
        return True


_FILTER = _MaskSecrets()


def register_secrets(values: Iterable[str | None]) -> None:
    """Mask these values in every log record of the HTTP libraries from now on (installs the filter once)."""
    with _lock:
        _registered.update(v for v in values if v and len(v) >= MIN_LENGTH)
        for name in HTTP_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
