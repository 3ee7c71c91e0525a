"""E-mail over SMTP, with STARTTLS (or implicit TLS), as a plain-text + HTML message.

Why the standard library and not apprise: apprise's e-mail plug-in reports a bool, so a 4xx "try later"
and a 5xx "no such mailbox" look the same, and it cannot be told which CA to trust for an internal relay.
smtplib gives us the reply codes: 4xx and connection trouble are retried, 5xx refusals are permanent.
With a password configured we refuse to log in over an unencrypted connection.

Every message of one incident carries the same ``References`` header (threads in mail clients), and its
``Message-ID`` is derived from the outbox key, so a retried message is recognisably the same message.
"""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Mapping, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from detector.alerting.channels.base import Channel, ChannelError, ChannelKind, Delivery
from detector.masking import mask_text, register_secrets
from detector.alerting.render import escape_html, plain, post_line, render
from detector.secrets import Secrets


def _msgid(seed: str) -> str:
    return f"<{hashlib.sha256(seed.encode()).hexdigest()[:32]}@outage-detector>"


def email_message(notification: Mapping[str, Any], sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The e-mail for a notification: a text part and an HTML part with escaped post text."""
    r = render(notification)
    alert = notification.get("alert", {})
    message = EmailMessage()
    message["Subject"] = plain(r.title)[:200]
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(usegmt=True)
    key = notification.get("key")
    message["Message-ID"] = _msgid(str(key)) if key else make_msgid(domain="outage-detector")
    thread = _msgid(f"incident:{alert.get('id')}")
    message["References"] = thread
    message["In-Reply-To"] = thread
    message["X-Detector-Incident"] = str(alert.get("id"))
    lines = [r.title, "", r.summary, ""] + [f"{label}: {value}" for label, value in r.facts]
    if r.posts:
        lines += ["", "Representative posts:"]
        lines += [f"- {post_line(p, plain)}" + (f" {p['url']}" if p.get("url") else "") for p in r.posts]
    if r.link:
        lines += ["", f"Dashboard: {r.link}"]
    message.set_content("\n".join(lines))
    rows = "".join(f"<tr><th align='left'>{escape_html(label)}</th><td>{escape_html(value)}</td></tr>"
                   for label, value in r.facts)
    posts = "".join(
        f"<li>{post_line(p, escape_html)}"
        + (f" <a href=\"{escape_html(p['url'])}\">link</a>" if str(p.get("url") or "").startswith(("http://", "https://")) else "")
        + "</li>"
        for p in r.posts
    )
    link = f"<p><a href=\"{escape_html(r.link)}\">Open in dashboard</a></p>" if r.link else ""
    message.add_alternative(
        f"<html><body><h2>{escape_html(r.title)}</h2><p>{escape_html(r.summary)}</p>"
        f"<table>{rows}</table>{'<h3>Representative posts</h3><ul>' + posts + '</ul>' if posts else ''}{link}"
        "</body></html>",
        subtype="html",
    )
    return message


class EmailChannel(Channel):
    """Sends notifications by SMTP: ``security`` is starttls (default), ssl (implicit TLS) or none."""

    def __init__(
        self, name: str, host: str, port: int, *, sender: str, recipients: Sequence[str],
        username: str | None = None, password: str | None = None, security: str = "starttls",
        cafile: str | None = None, timeout: float = 20.0,
    ) -> None:
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"security must be starttls, ssl or none, not {security!r}")
        self.name = name
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self.username, self._password = username, password
        self.security, self.cafile, self.timeout = security, cafile, timeout
        register_secrets([password])

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)

    def send(self, notification: Mapping[str, Any]) -> Delivery:
        try:
            message = email_message(notification, self.sender, self.recipients)
            if self.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                        context=self._context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if self.security == "starttls":
                    if not client.has_extn("starttls"):
                        return Delivery(ok=False, error="the server does not offer STARTTLS", permanent=True)
                    client.starttls(context=self._context())
                    client.ehlo()
                if self.username:
                    if self.security == "none":
                        return Delivery(ok=False, error="refusing to send the SMTP password unencrypted",
                                        permanent=True)
                    client.login(self.username, self._password or "")
                refused = client.send_message(message)
            if refused:
                return Delivery(ok=False, error=f"refused recipients: {', '.join(sorted(refused))}", permanent=True)
            return Delivery(ok=True)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            return Delivery(ok=False, error=f"all recipients refused ({codes})", permanent=all(c >= 500 for c in codes))
        except smtplib.SMTPResponseException as error:
            text = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
            return Delivery(ok=False, error=self.scrub(f"SMTP {error.smtp_code}: {text[:200]}"),
                            permanent=500 <= error.smtp_code < 600)
        except smtplib.SMTPNotSupportedError as error:
            return Delivery(ok=False, error=self.scrub(f"SMTP: {error}"), permanent=True)
        except ssl.SSLCertVerificationError as error:
            return Delivery(ok=False, error=f"TLS certificate not trusted: {error.verify_message}")
        except (socket.timeout, TimeoutError):
            return Delivery(ok=False, error=f"no answer within {self.timeout:g}s")
        except (OSError, smtplib.SMTPException) as error:
            return Delivery(ok=False, error=self.scrub(f"{type(error).__name__}: {error}"))
        except Exception as error:  # never raise into the sender
            return Delivery(ok=False, error=self.scrub(f"{type(error).__name__}: {error}"))

    def scrub(self, text: str) -> str:
        return mask_text(text, [self._password or ""])

    def describe(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{self.name} (smtp://{user}{self.host}:{self.port} -> {', '.join(self.recipients)}, {self.security})"


def email_from_url(name: str, url: str) -> EmailChannel:
    """An EmailChannel from mailto:// or smtp:// (STARTTLS, port 587) or smtps:// (TLS, port 465):
    ``smtp://user:password@smtp.example.com:587?to=oncall@example.com&from=detector@example.com``;
    also ``security=starttls|ssl|none``, ``cafile=/path/ca.pem`` and ``timeout=seconds``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = {k: v for k, v in parse_qs(parts.query).items()}
    recipients = [a.strip() for value in query.get("to", []) for a in value.split(",") if a.strip()]
    security = query.get("security", ["ssl" if scheme == "smtps" else "starttls"])[-1]
    port = parts.port or {"ssl": 465, "starttls": 587, "none": 25}.get(security, 587)
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    host = parts.hostname or "localhost"
    sender = query.get("from", [None])[-1] or (username if username and "@" in username else f"detector@{host}")
    if not recipients:
        raise ChannelError(f"channel {name!r}: e-mail needs recipients, e.g. {scheme}://smtp.example.com?to=oncall@example.com")
    return EmailChannel(name, host, port, sender=sender, recipients=recipients, username=username, password=password,
                        security=security, cafile=query.get("cafile", [None])[-1],
                        timeout=float(query.get("timeout", ["20"])[-1]))


def email_channel(name: str, url: str, secrets: Secrets, signing: str) -> EmailChannel:
    """``email_from_url``, with any bad part of the URL (a port, a timeout) reported as a ChannelError."""
    try:
        return email_from_url(name, url)
    except ChannelError:
        raise
    except ValueError as error:
        raise ChannelError(f"channel {name!r}: {error}") from None


KIND = ChannelKind(schemes=("mailto", "smtp", "smtps"), build=email_channel)
