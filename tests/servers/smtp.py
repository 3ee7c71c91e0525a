"""An SMTP server on 127.0.0.1 (aiosmtpd) that requires STARTTLS and a login, and keeps what it got.

The certificate is self-signed, made with the openssl command line for 127.0.0.1 (no extra Python
package); a test gives our channel that certificate as its CA file.
"""

from __future__ import annotations

import email
import ssl
import subprocess
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.fakes.server import free_port


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """(cert, key) for CN/IP 127.0.0.1, valid for a day."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@dataclass
class _Handler:
    messages: list[Message] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"


class SmtpServer:
    """Requires STARTTLS before AUTH; accepts ``user`` / ``password``."""

    def __init__(self, folder: Path, user: str, password: str, starttls: bool = True) -> None:
        self.cert, key = self_signed_cert(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.handler = _Handler()
        self.port = free_port()
        self.logins: list[str] = []

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            self.logins.append(auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?")
            return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535 on failure

        if starttls:
            options = dict(tls_context=context, require_starttls=True, authenticator=authenticate,
                           auth_require_tls=True)
        else:
            options = dict(authenticator=authenticate, auth_require_tls=False)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    @property
    def messages(self) -> list[Message]:
        return self.handler.messages

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
