"""Mail: the senders against a real SMTP server on loopback, iMIP messages, the dev outbox page."""

from __future__ import annotations

import email
import os
import re
import threading
from email.message import EmailMessage
from email.policy import default
from typing import Any

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import ConfigError
from config import load_config
from forum.notifications.imip import compose
from forum.notifications.senders import OUTBOX_FILE_NAME
from forum.notifications.senders import MemorySender
from forum.notifications.senders import OutboxSender
from forum.notifications.senders import SendError
from forum.notifications.senders import SmtpSender
from forum.notifications.senders import sender_from_config
from tests.conftest import csrf_token
from tests.smtp_server import PASSWORD
from tests.smtp_server import USERNAME
from tests.smtp_server import SmtpServer
from tests.workers import free_port

SENDER = "forum <forum@forum.example.org>"
CHINESE_SUBJECT = "邀请：中英大学视频会议（第一次）"
CHINESE_RECIPIENT = "张三 <zhang.san@example.edu.cn>"
ORGANISER_PASSWORD = "secret-password"  # what make_organiser sets
SUMMARY = "中英大学视频会议：气候研究合作的第一次会议，讨论数据共享与联合项目的安排"


def fold(line: str) -> bytes:
    """RFC 5545 §3.1 folding: lines of at most 75 octets, never splitting a character."""
    chunks: list[bytes] = []
    chunk = b""
    for character in line:
        encoded = character.encode()
        limit = 75 if not chunks else 74  # a continuation line starts with a space
        if len(chunk) + len(encoded) > limit:
            chunks.append(chunk)
            chunk = b""
        chunk += encoded
    chunks.append(chunk)
    return b"\r\n ".join(chunks)


def calendar(method: str = "REQUEST") -> bytes:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//forum//tests//EN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        "UID:session-1@forum.example.org",
        "DTSTAMP:20260301T120000Z",
        "DTSTART:20260310T080000Z",
        "DTEND:20260310T090000Z",
        "SEQUENCE:0",
        f"SUMMARY:{SUMMARY}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return b"".join(fold(line) + b"\r\n" for line in lines)


def invite(**overrides: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "sender": SENDER,
        "to": "Ana Silva <ana@example.edu>",
        "subject": "Invitation: climate research call",
        "text": "You are invited.\nJoin: https://video.example.org/j/1\n",
        "html": "<p>You are invited.</p>",
        "calendar": calendar(),
        "method": "REQUEST",
    }
    fields.update(overrides)
    return compose(**fields)


# --- SmtpSender against a real server ------------------------------------------------------


def test_smtp_sender_delivers_to_a_plain_server(smtp_server: SmtpServer) -> None:
    message = invite()
    sender = SmtpSender(host=smtp_server.host, port=smtp_server.port, security="none", timeout=5)
    sender.send(message)

    [received] = smtp_server.received
    assert received.mail_from == "forum@forum.example.org"
    assert received.rcpt_tos == ["ana@example.edu"]
    assert received.message["Subject"] == "Invitation: climate research call"
    assert received.message["To"] == "Ana Silva <ana@example.edu>"
    assert received.message["Message-ID"] == message["Message-ID"]
    assert received.message["Message-ID"].endswith("@forum.example.org>")
    assert received.message["Date"].datetime.tzinfo is not None


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_smtp_sender_logs_in_over_tls(make_smtp_server, tls: str) -> None:
    server = make_smtp_server(tls=tls, auth=True)
    sender = SmtpSender(
        host=server.host,
        port=server.port,
        security=tls,
        username=USERNAME,
        password=PASSWORD,
        timeout=5,
        ssl_context=server.client_context,
    )
    sender.send(invite())
    [received] = server.received
    assert received.rcpt_tos == ["ana@example.edu"]


def test_a_wrong_password_is_a_send_error_that_does_not_show_the_password(
    make_smtp_server, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_smtp_server(tls="starttls", auth=True)
    wrong = "wrong-password-do-not-print"
    sender = SmtpSender(
        host=server.host,
        port=server.port,
        security="starttls",
        username=USERNAME,
        password=wrong,
        timeout=5,
        ssl_context=server.client_context,
    )
    with caplog.at_level("DEBUG"), pytest.raises(SendError, match="refused the login") as error:
        sender.send(invite())
    assert error.value.temporary is False
    shown = [str(error.value), repr(error.value), repr(sender), caplog.text]
    shown += [str(cause) for cause in (error.value.__cause__, error.value.__context__) if cause]
    for text in shown:
        assert wrong not in text
    assert server.received == []


def test_an_untrusted_certificate_is_refused(make_smtp_server) -> None:
    server = make_smtp_server(tls="starttls")
    # The system's CAs do not know the test server's self-signed certificate.
    sender = SmtpSender(host=server.host, port=server.port, security="starttls", timeout=5)
    with pytest.raises(SendError, match="certificate") as error:
        sender.send(invite())
    assert error.value.temporary is False
    assert server.received == []


def test_a_refused_connection_is_a_temporary_send_error() -> None:
    port = free_port()
    sender = SmtpSender(host="127.0.0.1", port=port, security="none", timeout=5)
    with pytest.raises(SendError, match=f"127.0.0.1:{port}: connection refused") as error:
        sender.send(invite())
    assert error.value.temporary is True


def test_a_refused_recipient_is_a_send_error(make_smtp_server) -> None:
    server = make_smtp_server(refuse=("ana@example.edu",))
    sender = SmtpSender(host=server.host, port=server.port, security="none", timeout=5)
    with pytest.raises(SendError, match=r"ana@example\.edu \(550 5\.1\.1") as error:
        sender.send(invite())
    assert error.value.temporary is False
    assert server.received == []


def test_a_chinese_subject_and_recipient_name_survive_a_real_server(
    smtp_server: SmtpServer,
) -> None:
    message = invite(subject=CHINESE_SUBJECT, to=CHINESE_RECIPIENT)
    SmtpSender(host=smtp_server.host, port=smtp_server.port, security="none", timeout=5).send(
        message
    )
    [received] = smtp_server.received
    # Encoded words (RFC 2047) in 7-bit text: no server needs SMTPUTF8 or 8BITMIME for it.
    assert received.raw.isascii()
    assert received.rcpt_tos == ["zhang.san@example.edu.cn"]
    assert received.message["Subject"] == CHINESE_SUBJECT
    [to] = received.message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("张三", "zhang.san@example.edu.cn")
    # An independent parser reads the invitation back, folded Chinese summary included.
    part = next(p for p in received.message.walk() if p.get_content_type() == "text/calendar")
    parsed = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    assert parsed["METHOD"] == "REQUEST"
    [event] = parsed.walk("VEVENT")
    assert str(event["SUMMARY"]) == SUMMARY


# --- OutboxSender and MemorySender ---------------------------------------------------------


def test_the_outbox_writes_one_parseable_crlf_file_per_message(tmp_path) -> None:
    folder = tmp_path / "not" / "there" / "yet"
    sender = OutboxSender(folder)
    first, second = invite(), invite(subject=CHINESE_SUBJECT)
    sender.send(first)
    sender.send(second)

    names = sorted(os.listdir(folder))
    assert len(names) == 2
    assert all(OUTBOX_FILE_NAME.fullmatch(name) for name in names)  # and no temporary files
    for name, sent in zip(names, (first, second), strict=True):
        raw = (folder / name).read_bytes()
        assert raw == sent.as_bytes(policy=sent.policy.clone(linesep="\r\n"))
        assert b"\n" not in raw.replace(b"\r\n", b"")
        parsed = email.message_from_bytes(raw, policy=default)
        assert parsed["Message-ID"] == sent["Message-ID"]
        assert parsed["Subject"] == sent["Subject"]


def test_the_outbox_reports_a_folder_it_cannot_write(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SendError, match="could not write to the outbox"):
        OutboxSender(blocker / "outbox").send(invite())


def test_the_memory_sender_keeps_every_message_from_many_threads() -> None:
    sender = MemorySender()
    message = invite()

    def send_many() -> None:
        for _ in range(200):
            sender.send(message)

    threads = [threading.Thread(target=send_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sender.messages) == 1600


def test_sender_from_config_builds_the_configured_backend(tmp_path) -> None:
    outbox = sender_from_config({**load_config({}), "MAIL_OUTBOX_DIR": str(tmp_path)})
    assert isinstance(outbox, OutboxSender)
    assert outbox.folder == str(tmp_path)
    assert isinstance(sender_from_config(load_config({"MAIL_BACKEND": "memory"})), MemorySender)

    smtp = sender_from_config(
        load_config(
            {
                "MAIL_BACKEND": "smtp",
                "SMTP_HOST": "mail.example.org",
                "SMTP_SECURITY": "ssl",
                "SMTP_USERNAME": "forum",
                "SMTP_PASSWORD": "s3cret-value",
            }
        )
    )
    assert isinstance(smtp, SmtpSender)
    assert (smtp.host, smtp.port, smtp.security, smtp.username, smtp.timeout) == (
        "mail.example.org",
        465,
        "ssl",
        "forum",
        20.0,
    )
    assert "s3cret-value" not in repr(smtp)
    with pytest.raises(ConfigError, match="MAIL_BACKEND"):
        sender_from_config({"MAIL_BACKEND": "pigeon"})
    with pytest.raises(ConfigError, match="MAIL_OUTBOX_DIR"):
        sender_from_config({"MAIL_BACKEND": "outbox", "MAIL_OUTBOX_DIR": None})


# --- compose(): the iMIP message ----------------------------------------------------------


def test_compose_builds_the_imip_tree() -> None:
    message = invite(reply_to="Olga Organiser <olga@example.edu>")
    parsed = email.message_from_bytes(message.as_bytes(), policy=default)

    tree = [
        (part.get_content_type(), part.get("Content-Transfer-Encoding")) for part in parsed.walk()
    ]
    assert tree == [
        ("multipart/mixed", None),
        ("multipart/alternative", None),
        ("text/plain", "7bit"),
        ("text/html", "7bit"),
        ("text/calendar", "base64"),
        ("application/ics", "base64"),
    ]
    mixed, alternative, plain, html, ics, attachment = parsed.walk()
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["From"] == SENDER
    assert parsed["Reply-To"] == "Olga Organiser <olga@example.edu>"
    assert parsed["Message-ID"].endswith("@forum.example.org>")
    assert parsed["Date"].datetime is not None
    assert plain.get_content_charset() == "utf-8"
    # Parsed from the bytes on the wire, the text keeps their CRLF line ends.
    assert plain.get_content() == "You are invited.\r\nJoin: https://video.example.org/j/1\r\n"
    assert html.get_content_charset() == "utf-8"
    assert html.get_content() == "<p>You are invited.</p>\r\n"
    assert ics.get_content_charset() == "utf-8"
    assert ics.get_param("method") == "REQUEST"
    assert not ics.is_attachment()
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_param("name") == "invite.ics"


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL", "PUBLISH", "REPLY"])
def test_the_calendar_bytes_and_method_survive_exactly(method: str) -> None:
    body = calendar(method)
    raw = invite(calendar=body, method=method).as_bytes()
    # Written bare, as in invitations Outlook accepts (RFC 6047 §2.4).
    assert f'Content-Type: text/calendar; charset="UTF-8"; method={method}\r\n'.encode() in raw
    parsed = email.message_from_bytes(raw, policy=default)
    ics = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    attachment = next(p for p in parsed.walk() if p.get_content_type() == "application/ics")
    assert ics.get_payload(decode=True) == body  # CRLF and folding intact
    assert attachment.get_payload(decode=True) == body
    assert ics.get_param("method") == method
    assert f"\r\nMETHOD:{method}\r\n".encode() in body


def test_the_method_is_read_from_a_folded_or_lowercase_calendar_line() -> None:
    folded = calendar("CANCEL").replace(b"METHOD:CANCEL", b"METH\r\n OD:cancel")
    message = invite(calendar=folded, method="CANCEL")
    ics = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert ics.get_param("method") == "CANCEL"


@pytest.mark.parametrize(
    ("method", "body", "message"),
    [
        ("CANCEL", calendar("REQUEST"), "method is CANCEL but the calendar says METHOD:REQUEST"),
        ("request", calendar("REQUEST"), "method must be one of"),
        ("COUNTER", calendar("COUNTER"), "method must be one of"),
        ("REQUEST", calendar().replace(b"METHOD:REQUEST\r\n", b""), "one METHOD line"),
        ("REQUEST", calendar() + calendar(), "one METHOD line"),
        ("REQUEST", calendar().replace(b"VERSION", b"\xff\xfe"), "not UTF-8"),
    ],
)
def test_a_method_that_is_unknown_or_differs_from_the_calendar_is_refused(
    method: str, body: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        invite(method=method, calendar=body)


@pytest.mark.parametrize("field", ["subject", "to", "sender", "reply_to"])
@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r"])
def test_header_injection_is_refused(field: str, line_break: str) -> None:
    value = {
        "subject": "Invitation",
        "to": "ana@example.edu",
        "sender": "forum@forum.example.org",
        "reply_to": "olga@example.edu",
    }[field]
    with pytest.raises(ValueError, match="line break"):
        invite(**{field: f"{value}{line_break}Bcc: victim@example.org"})


@pytest.mark.parametrize(
    "to",
    ["not an address", "ana@", "ana@example.edu, bob@example.edu", "", "<>", "zoë@exämple.org"],
)
def test_a_recipient_that_is_not_one_ascii_address_is_refused(to: str) -> None:
    with pytest.raises(ValueError, match="to must be"):
        invite(to=to)


# --- the development outbox page -----------------------------------------------------------


@pytest.fixture
def app_settings(tmp_path) -> dict[str, Any]:
    return {
        "FORUM_ENV": "development",
        "MAIL_BACKEND": "outbox",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
    }


def log_in(client: FlaskClient, email_address: str, password: str = ORGANISER_PASSWORD) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email_address, "password": password, "csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 302


@pytest.fixture
def organiser_client(client: FlaskClient, make_organiser) -> FlaskClient:
    make_organiser("olga@example.edu")
    log_in(client, "olga@example.edu")
    return client


def test_the_outbox_page_lists_messages_and_shows_one(
    app: Flask, organiser_client: FlaskClient
) -> None:
    sender = sender_from_config(app.config)
    sender.send(invite(subject="Older message"))
    sender.send(invite(subject=CHINESE_SUBJECT, to=CHINESE_RECIPIENT))
    [newest, older] = sorted(os.listdir(app.config["MAIL_OUTBOX_DIR"]), reverse=True)

    page = organiser_client.get("/dev/outbox/")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.text.index(CHINESE_SUBJECT) < page.text.index("Older message")
    assert "张三 &lt;zhang.san@example.edu.cn&gt;" in page.text
    assert f'href="/dev/outbox/{newest}"' in page.text
    assert f'href="/dev/outbox/{newest}/raw"' in page.text
    assert re.search(r"<td class=\"num\">\d+(\.\d)? kB</td>", page.text)

    shown = organiser_client.get(f"/dev/outbox/{newest}")
    assert shown.status_code == 200
    assert CHINESE_SUBJECT in shown.text
    assert "Join: https://video.example.org/j/1" in shown.text
    assert "METHOD:REQUEST" in shown.text
    assert "text/calendar; charset=&#34;UTF-8&#34;; method=REQUEST" in shown.text
    assert "invite.ics" in shown.text

    with organiser_client.get(f"/dev/outbox/{newest}/raw") as raw:
        assert raw.status_code == 200
        assert raw.mimetype == "message/rfc822"
        assert raw.headers["Content-Disposition"] == f"attachment; filename={newest}"
        with open(os.path.join(app.config["MAIL_OUTBOX_DIR"], newest), "rb") as file:
            assert raw.data == file.read()
    assert organiser_client.get(f"/dev/outbox/{older}").status_code == 200


def test_the_outbox_page_needs_a_login(app: Flask, client: FlaskClient) -> None:
    response = client.get("/dev/outbox/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_empty_outbox(organiser_client: FlaskClient) -> None:
    page = organiser_client.get("/dev/outbox/")
    assert page.status_code == 200
    assert "The outbox is empty." in page.text


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2Fconfig.py",
        "..",
        "%2e%2e",
        "20260301T120000123456Z-0123abcd.eml.tmp",
        "20260301T120000123456Z-0123ABCD.eml",
        ".20260301T120000123456Z-0123abcd.eml",
        "20260301T120000123456Z-0123abcd.eml",  # the right shape, but no such file
    ],
)
def test_names_outside_the_outbox_pattern_are_not_found(
    app: Flask, organiser_client: FlaskClient, name: str, tmp_path
) -> None:
    sender_from_config(app.config).send(invite())
    # Files that a name escaping the pattern could reach, so a 404 means "refused".
    outbox = tmp_path / "outbox"
    (tmp_path / "config.py").write_text("SECRET = 1\n")
    for decoy in (
        "20260301T120000123456Z-0123abcd.eml.tmp",
        ".20260301T120000123456Z-0123abcd.eml",
    ):
        (outbox / decoy).write_bytes(invite().as_bytes())
    for path in (f"/dev/outbox/{name}", f"/dev/outbox/{name}/raw"):
        assert organiser_client.get(path).status_code == 404, path


@pytest.mark.parametrize(
    "app_settings",
    [
        {"FORUM_ENV": "testing", "MAIL_BACKEND": "outbox"},
        {"FORUM_ENV": "production", "MAIL_BACKEND": "outbox"},
        {"FORUM_ENV": "development", "MAIL_BACKEND": "memory"},
    ],
)
def test_the_outbox_page_exists_only_in_development_with_the_outbox(
    app: Flask, client: FlaskClient, make_organiser, app_settings: dict[str, Any]
) -> None:
    make_organiser("olga@example.edu")
    log_in(client, "olga@example.edu")
    assert client.get("/dev/outbox/").status_code == 404
    assert client.get("/dev/outbox/20260301T120000123456Z-0123abcd.eml").status_code == 404
