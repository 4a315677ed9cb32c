"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, with TLS and AUTH."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import os
import ssl
import threading
from dataclasses import dataclass
from dataclasses import field
from email.message import EmailMessage
from email.policy import default
from typing import Any
from typing import Literal

USERNAME = "mailer"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Received:
    """One message as the server got it: envelope, raw bytes, and parsed."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class _Handler:
    refuse: frozenset[str]
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        # original_content: the bytes as sent, with dot-stuffing undone and line ends kept.
        raw = envelope.original_content
        parsed = email.message_from_bytes(raw, _class=EmailMessage, policy=default)
        with self.lock:
            self.received.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    raw=raw,
                    message=parsed,
                )
            )
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data) -> Any:
    from aiosmtpd.smtp import AuthResult
    from aiosmtpd.smtp import LoginPassword

    ok = (
        mechanism in ("LOGIN", "PLAIN")
        and isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    """An SMTP server on 127.0.0.1 and a free port, as a context manager.

    ``tls``: None (plain), "starttls" (offered, and required when ``auth``), or "ssl"
    (implicit TLS). ``auth``: LOGIN and PLAIN with USERNAME and PASSWORD are offered (and
    required with STARTTLS).
    ``refuse``: recipients answered with 550. ``folder`` holds the generated certificate.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        folder: str | os.PathLike[str],
        tls: Literal["starttls", "ssl"] | None = None,
        auth: bool = False,
        refuse: tuple[str, ...] = (),
    ) -> None:
        self.folder = os.fspath(folder)
        self.tls = tls
        self.auth = auth
        self._handler = _Handler(refuse=frozenset(refuse))
        self.port = 0
        self.client_context: ssl.SSLContext | None = None
        self._controller: Any = None

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller

        class _FreePortController(Controller):
            # Bound to port 0, the system picks a free port; read it back before the
            # controller connects to its own server to check that it runs. A server started
            # again after stop() keeps its port, as a mail server coming back would.
            def _trigger_server(self) -> None:
                self.port = self.server.sockets[0].getsockname()[1]
                super()._trigger_server()

        kwargs: dict[str, Any] = {}
        if self.tls is not None:
            server_context, self.client_context = self._tls_contexts()
            if self.tls == "ssl":
                kwargs["ssl_context"] = server_context
            else:
                kwargs["tls_context"] = server_context
                kwargs["require_starttls"] = self.auth
        if self.auth:
            kwargs["authenticator"] = _authenticate
            # aiosmtpd counts only STARTTLS as TLS: with implicit TLS (or none) AUTH is
            # offered without requiring TLS, and then not required either, as aiosmtpd
            # warns against requiring AUTH without TLS.
            kwargs["auth_require_tls"] = kwargs["auth_required"] = self.tls == "starttls"
        self._controller = _FreePortController(
            self._handler, hostname=self.host, port=self.port, ready_timeout=5.0, **kwargs
        )
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _tls_contexts(self) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        """A self-signed certificate for 127.0.0.1, and contexts to serve it and trust it."""
        cert_file, key_file, cert_pem = self_signed_certificate(self.folder)
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(cert_file, key_file)
        client_context = ssl.create_default_context(cadata=cert_pem)
        return server_context, client_context


def smtp_settings(server: SmtpServer) -> dict[str, Any]:
    """The app's settings to send through ``server`` in plain SMTP."""
    return {
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": server.port,
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT_SECONDS": 5,
        "MAIL_FROM": "forum <forum@forum.example.org>",
    }


def self_signed_certificate(folder: str) -> tuple[str, str, str]:
    """Write a certificate and key for 127.0.0.1 into ``folder``; return both paths and PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from cryptography.x509.oid import NameOID

    # An EC key: made in a millisecond, where an RSA key takes a noticeable part of a second.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forum test SMTP server")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        # The certificate is its own trust anchor, so it is marked a CA; the rest keeps
        # OpenSSL's strict checks (default in newer Pythons) satisfied.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    cert_file = os.path.join(folder, "smtp-cert.pem")
    key_file = os.path.join(folder, "smtp-key.pem")
    with open(cert_file, "w", encoding="ascii") as file:
        file.write(cert_pem)
    with open(key_file, "wb") as file:
        file.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_file, key_file, cert_pem
