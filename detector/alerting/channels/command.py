"""A command hook: run a program with the notification as JSON on its standard input.

``cmd:///usr/local/bin/page-team --team ops`` runs that command line (split like a shell would, never
through a shell). The environment also carries DETECTOR_EVENT, DETECTOR_INCIDENT, DETECTOR_SERVICE,
DETECTOR_SEVERITY and DETECTOR_KEY (the idempotency key), and of our own environment only what a program
needs to run (PATH, HOME, USER, LANG, LC_*, TZ, TMPDIR): not our settings, secrets or anything else we
were given, such as REDIS_PASSWORD or a database URL. Exit status 0 is delivered; 75 (EX_TEMPFAIL)
and anything unexpected are retried; 64-78 other than 75 (the sysexits "usage / config" errors) and a
missing program are permanent. The arguments may hold tokens, so only the program name is ever shown.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from typing import Any, Mapping, Sequence
from urllib.parse import unquote

from detector.alerting.channels.base import Channel, ChannelError, ChannelKind, Delivery
from detector.masking import mask_text, register_secrets
from detector.secrets import Secrets

EX_TEMPFAIL = 75


_PASSED = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "SHELL"})


def hook_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What a hook inherits from our environment: an allow-list, because a deny-list of secret-looking names
    (we had ``DETECTOR_*``) let REDIS_PASSWORD, AWS_SECRET_ACCESS_KEY and the like through."""
    return {k: v for k, v in environ.items() if k in _PASSED or k.startswith("LC_")}


class CommandChannel(Channel):
    """Runs a command per notification."""

    def __init__(self, name: str, argv: Sequence[str], *, timeout: float = 30.0) -> None:
        if not argv:
            raise ValueError("a command hook needs a program")
        self.name = name
        self.argv = list(argv)
        self.timeout = timeout
        register_secrets([a for a in self.argv[1:] if len(a) >= 8])

    def send(self, notification: Mapping[str, Any]) -> Delivery:
        alert = notification.get("alert", {})
        env = {
            **hook_environment(os.environ),
            "DETECTOR_EVENT": str(notification.get("event", "")),
            "DETECTOR_INCIDENT": str(alert.get("id", "")),
            "DETECTOR_SERVICE": str(alert.get("service", "")),
            "DETECTOR_SEVERITY": str(alert.get("severity", "")),
            "DETECTOR_KEY": str(notification.get("key", "")),
        }
        try:
            done = subprocess.run(
                self.argv, input=json.dumps(notification, default=str).encode("utf-8"), env=env,
                capture_output=True, timeout=self.timeout, check=False,
            )
        except FileNotFoundError:
            return Delivery(ok=False, error=f"program {os.path.basename(self.argv[0])!r} not found", permanent=True)
        except PermissionError:
            return Delivery(ok=False, error=f"program {os.path.basename(self.argv[0])!r} is not executable",
                            permanent=True)
        except subprocess.TimeoutExpired:
            return Delivery(ok=False, error=f"command did not finish within {self.timeout:g}s")
        except Exception as error:  # never raise into the sender
            return Delivery(ok=False, error=self.scrub(f"{type(error).__name__}: {error}"))
        if done.returncode == 0:
            return Delivery(ok=True)
        stderr = " ".join(done.stderr.decode("utf-8", "replace").split())[-200:]
        error = self.scrub(f"exit status {done.returncode}" + (f": {stderr}" if stderr else ""))
        permanent = 64 <= done.returncode <= 78 and done.returncode != EX_TEMPFAIL
        return Delivery(ok=False, error=error, permanent=permanent)

    def scrub(self, text: str) -> str:
        return mask_text(text, self.argv[1:])

    def describe(self) -> str:
        more = " ***" if len(self.argv) > 1 else ""
        return f"{self.name} (cmd://{os.path.basename(self.argv[0])}{more})"


def command_from_url(name: str, url: str) -> CommandChannel:
    """cmd://COMMAND LINE (percent-escapes decoded, split like a shell would)."""
    line = unquote(url.split("://", 1)[1])
    return CommandChannel(name, shlex.split(line))


def command_channel(name: str, url: str, secrets: Secrets, signing: str) -> CommandChannel:
    """``command_from_url``, with an empty or unsplittable command line reported as a ChannelError."""
    try:
        return command_from_url(name, url)
    except ValueError:
        raise ChannelError(f"channel {name!r}: cmd:// needs a command, e.g. cmd:///usr/local/bin/page-team") from None


KIND = ChannelKind(schemes=("cmd",), build=command_channel)
