"""Command-line tools: ``flask --app wsgi forum ...``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

forum_cli = AppGroup("forum", help="Manage organisers, tokens and demo data.")


def init_app(app: Flask) -> None:
    app.cli.add_command(forum_cli)
