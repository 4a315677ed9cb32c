"""Mail settings: the backend, the sender address, SMTP, and the outbox folder default."""

from __future__ import annotations

import os

import pytest

from config import ConfigError
from config import load_config
from forum import create_app


def test_mail_defaults_need_nothing() -> None:
    config = load_config({})
    assert config["MAIL_BACKEND"] == "outbox"
    assert config["MAIL_FROM"] == "forum <forum@localhost>"
    assert config["MAIL_OUTBOX_DIR"] is None  # the instance folder's outbox, set by create_app
    assert config["SMTP_HOST"] is None
    assert config["SMTP_SECURITY"] == "starttls"
    assert config["SMTP_PORT"] == 587
    assert config["SMTP_USERNAME"] is None
    assert config["SMTP_PASSWORD"] is None
    assert config["SMTP_TIMEOUT_SECONDS"] == 20.0


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_the_default_port_follows_the_security(security: str, port: int) -> None:
    config = load_config({"SMTP_SECURITY": security})
    assert (config["SMTP_SECURITY"], config["SMTP_PORT"]) == (security, port)


def test_smtp_settings_are_read_and_coerced() -> None:
    config = load_config(
        {
            "MAIL_BACKEND": "smtp",
            "MAIL_FROM": "Forum Bookings <bookings@uni.example.org>",
            "SMTP_HOST": " smtp.uni.example.org ",
            "SMTP_PORT": "2525",
            "SMTP_SECURITY": "none",
            "SMTP_USERNAME": "forum",
            "SMTP_PASSWORD": "s3cret",
            "SMTP_TIMEOUT_SECONDS": "7.5",
        }
    )
    assert config["MAIL_BACKEND"] == "smtp"
    assert config["MAIL_FROM"] == "Forum Bookings <bookings@uni.example.org>"
    assert config["SMTP_HOST"] == "smtp.uni.example.org"
    assert config["SMTP_PORT"] == 2525
    assert config["SMTP_USERNAME"] == "forum"
    assert config["SMTP_PASSWORD"] == "s3cret"
    assert config["SMTP_TIMEOUT_SECONDS"] == 7.5


def test_a_chinese_display_name_is_a_valid_sender() -> None:
    config = load_config({"MAIL_FROM": "论坛 <forum@uni.example.cn>"})
    assert config["MAIL_FROM"] == "论坛 <forum@uni.example.cn>"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MAIL_BACKEND": "sendmail"}, "MAIL_BACKEND must be one of outbox, smtp, memory"),
        ({"MAIL_BACKEND": "smtp"}, "SMTP_HOST must be set when MAIL_BACKEND is smtp"),
        ({"MAIL_BACKEND": "smtp", "SMTP_HOST": "  "}, "SMTP_HOST must be set"),
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT must be a whole number"),
        ({"SMTP_PORT": "0"}, "SMTP_PORT must be at least 1"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT must be a port number from 1 to 65535"),
        ({"SMTP_SECURITY": "tls"}, "SMTP_SECURITY must be one of starttls, ssl, none"),
        ({"SMTP_USERNAME": "forum"}, "SMTP_PASSWORD must be set when SMTP_USERNAME is set"),
        ({"SMTP_PASSWORD": "s3cret"}, "SMTP_USERNAME must be set when SMTP_PASSWORD is set"),
        ({"SMTP_TIMEOUT_SECONDS": "0"}, "SMTP_TIMEOUT_SECONDS must be more than 0"),
        ({"SMTP_TIMEOUT_SECONDS": "soon"}, "SMTP_TIMEOUT_SECONDS must be a number of seconds"),
        ({"MAIL_FROM": "forum"}, "MAIL_FROM must be one email address"),
        ({"MAIL_FROM": "forum@"}, "MAIL_FROM must be one email address"),
        ({"MAIL_FROM": "a@example.org, b@example.org"}, "MAIL_FROM must be one email address"),
        ({"MAIL_FROM": "forum@exämple.org"}, "MAIL_FROM must be one email address"),
        ({"MAIL_FROM": "forum@example.org\r\nBcc: x@example.org"}, "MAIL_FROM must be one"),
    ],
)
def test_bad_mail_settings_fail_at_start_naming_the_variable(environ, message) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_config(environ)
    assert "\n" not in str(error.value)


def test_a_password_is_never_echoed_in_an_error() -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"SMTP_PASSWORD": "s3cret-value"})
    assert "s3cret-value" not in str(error.value)


def test_the_outbox_defaults_to_the_instance_folder(monkeypatch) -> None:
    monkeypatch.delenv("MAIL_OUTBOX_DIR", raising=False)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["MAIL_OUTBOX_DIR"] == os.path.join(app.instance_path, "outbox")


def test_an_outbox_folder_setting_is_kept(tmp_path) -> None:
    folder = str(tmp_path / "mail")
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "MAIL_OUTBOX_DIR": folder}
    )
    assert app.config["MAIL_OUTBOX_DIR"] == folder
