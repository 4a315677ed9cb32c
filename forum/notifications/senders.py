"""The mail senders (SMTP, file outbox, in-memory) and the choice between them by settings."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
import smtplib
import ssl
import tempfile
import threading
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any
from typing import Literal
from typing import Protocol

from config import ConfigError
from forum.i18n import _

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "ssl"]

# An outbox file name: the UTC time it was written, to the microsecond, then 8 random hex
# digits so two messages written in the same microsecond do not overwrite each other.
# Names sort in the order the messages were written.
OUTBOX_FILE_NAME = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{8}\.eml")


class Sender(Protocol):
    """Delivers one message or raises SendError."""

    def send(self, message: EmailMessage) -> None: ...


class SendError(Exception):
    """A message could not be delivered; ``temporary`` says whether trying later may work."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class SmtpSender:
    """Sends each message over a new connection to an SMTP server."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Security,
        username: str | None = None,
        password: str | None = None,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("none", "starttls", "ssl"):
            raise ValueError(f"security must be none, starttls or ssl, not {security!r}")
        if username is not None and password is None:
            raise ValueError("a username needs a password")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        # Certificates are checked against the system's CAs unless a context is given
        # (a private CA, or the self-signed certificate of a test server).
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        # The password stays out of reprs, and so out of tracebacks and logs.
        return (
            f"SmtpSender(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r})"
        )

    def send(self, message: EmailMessage) -> None:
        where = f"{self.host}:{self.port}"
        try:
            refused = self._deliver(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                _(
                    "SMTP server %(server)s refused the login of %(username)s: %(reply)s",
                    server=where,
                    username=repr(self.username),
                    reply=self._reply(exc.smtp_code, exc.smtp_error),
                ),
                temporary=_is_temporary(exc.smtp_code),
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(
                _(
                    "SMTP server %(server)s refused every recipient: %(refusals)s",
                    server=where,
                    refusals=self._refusals(exc.recipients),
                ),
                temporary=all(_is_temporary(code) for code, _ in exc.recipients.values()),
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise SendError(
                _(
                    "SMTP server %(server)s refused the sender %(sender)s: %(reply)s",
                    server=where,
                    sender=repr(exc.sender),
                    reply=self._reply(exc.smtp_code, exc.smtp_error),
                ),
                temporary=_is_temporary(exc.smtp_code),
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # Raised for STARTTLS or AUTH that the server does not offer: a setting to fix.
            raise SendError(
                _("SMTP server %(server)s: %(problem)s", server=where, problem=str(exc)),
                temporary=False,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendError(
                _(
                    "SMTP server %(server)s answered %(reply)s",
                    server=where,
                    reply=self._reply(exc.smtp_code, exc.smtp_error),
                ),
                temporary=_is_temporary(exc.smtp_code),
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise SendError(
                _(
                    "SMTP server %(server)s closed the connection: %(problem)s",
                    server=where,
                    problem=str(exc),
                ),
                temporary=True,
            ) from exc
        except smtplib.SMTPException as exc:
            raise SendError(
                _("SMTP server %(server)s: %(problem)s", server=where, problem=str(exc)),
                temporary=True,
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise SendError(
                _(
                    "the TLS certificate of SMTP server %(server)s was refused: %(problem)s",
                    server=where,
                    problem=str(exc.verify_message),
                ),
                temporary=False,
            ) from exc
        except ssl.SSLError as exc:
            raise SendError(
                _(
                    "TLS with SMTP server %(server)s failed: %(problem)s",
                    server=where,
                    problem=str(exc.reason),
                ),
                temporary=True,
            ) from exc
        except ConnectionRefusedError as exc:
            raise SendError(
                _("could not connect to SMTP server %(server)s: connection refused", server=where),
                temporary=True,
            ) from exc
        except TimeoutError as exc:
            seconds = f"{self.timeout:g}"
            raise SendError(
                _(
                    "SMTP server %(server)s did not answer within %(seconds)s seconds",
                    server=where,
                    seconds=seconds,
                ),
                temporary=True,
            ) from exc
        except OSError as exc:
            raise SendError(
                _(
                    "could not reach SMTP server %(server)s: %(problem)s",
                    server=where,
                    problem=str(exc.strerror or exc),
                ),
                temporary=True,
            ) from exc
        if refused:
            # smtplib raises only when every recipient is refused; the others have the
            # message now, so sending again would give them a second copy.
            raise SendError(
                _(
                    "SMTP server %(server)s refused some recipients: %(refusals)s",
                    server=where,
                    refusals=self._refusals(refused),
                ),
                temporary=False,
            )
        log.info("sent %s through %s", message.get("Message-ID", "a message"), where)

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username is not None:
                smtp.login(self.username, self._password or "")
            return smtp.send_message(message)

    def _reply(self, code: int, text: bytes | str) -> str:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if self._password:
            # A server should never echo a password, but a log line must not depend on it.
            text = text.replace(self._password, "***")
        return f"{code} {text}".strip()

    def _refusals(self, refused: Mapping[str, tuple[int, bytes]]) -> str:
        return "; ".join(f"{rcpt} ({self._reply(*reply)})" for rcpt, reply in refused.items())


def _is_temporary(code: int) -> bool:
    # RFC 5321 §4.2.1: 4yz replies are transient failures, 5yz permanent ones.
    return 400 <= code < 500


class OutboxSender:
    """Writes each message as an ``.eml`` file into a folder instead of sending it."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = os.fspath(folder)

    def __repr__(self) -> str:
        return f"OutboxSender({self.folder!r})"

    def send(self, message: EmailMessage) -> None:
        name = outbox_file_name()
        try:
            os.makedirs(self.folder, exist_ok=True)
            # Written under a temporary name in the same folder, then renamed: whoever
            # reads the outbox sees either no file or the whole message.
            descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(descriptor, "wb") as file:
                    file.write(message.as_bytes(policy=SMTP))
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, os.path.join(self.folder, name))
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise SendError(
                _(
                    "could not write to the outbox %(folder)s: %(problem)s",
                    folder=self.folder,
                    problem=str(exc.strerror or exc),
                ),
                temporary=True,
            ) from exc
        log.info("wrote %s to %s", message.get("Message-ID", "a message"), name)


def outbox_file_name(now: dt.datetime | None = None) -> str:
    """A new outbox file name: the UTC time, then random hex digits."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.eml"


class MemorySender:
    """Keeps the messages in a list, for tests."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        # Jobs may run on several threads of one worker; the list must not lose a message.
        with self._lock:
            self.messages.append(message)


def sender_from_config(config: Mapping[str, Any]) -> Sender:
    """The sender ``MAIL_BACKEND`` names, built from the other mail settings.

    Build it once per application and keep it: each call returns a new sender, and a new
    MemorySender starts with an empty list.
    """
    backend = config.get("MAIL_BACKEND", "outbox")
    if backend == "outbox":
        folder = config.get("MAIL_OUTBOX_DIR")
        if not folder:
            raise ConfigError("MAIL_OUTBOX_DIR must be set when MAIL_BACKEND is outbox")
        return OutboxSender(folder)
    if backend == "smtp":
        return SmtpSender(
            host=config["SMTP_HOST"],
            port=config["SMTP_PORT"],
            security=config["SMTP_SECURITY"],
            username=config.get("SMTP_USERNAME"),
            password=config.get("SMTP_PASSWORD"),
            timeout=config["SMTP_TIMEOUT_SECONDS"],
        )
    if backend == "memory":
        return MemorySender()
    raise ConfigError(f"MAIL_BACKEND must be outbox, smtp or memory, got {backend!r}")
