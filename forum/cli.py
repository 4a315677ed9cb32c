"""Command-line tools: ``flask --app wsgi forum ...``."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask.cli import AppGroup

from forum.accounts import services as accounts
from forum.accounts.models import ApiToken
from forum.core.errors import ForumError
from forum.extensions import db

forum_cli = AppGroup("forum", help="Manage organisers, API tokens and demo data.")


def init_app(app: Flask) -> None:
    app.cli.add_command(forum_cli)


def _fail(exc: ForumError) -> None:
    raise click.ClickException(exc.message)


@forum_cli.command("create-organiser")
@click.argument("email")
@click.option("--name", default="", help="Display name (default: the email's local part).")
@click.option("--password", default=None, help="Password for the web UI (omit for API only).")
@click.option(
    "--timezone", default=None, help="The organiser's IANA zone (default: FORUM_DEFAULT_TIMEZONE)."
)
def create_organiser(email: str, name: str, password: str | None, timezone: str | None) -> None:
    """Create an organiser account and print a new API token for it."""
    timezone = timezone or current_app.config["FORUM_DEFAULT_TIMEZONE"]
    try:
        organiser = accounts.create_organiser(
            email=email, name=name, password=password, timezone=timezone
        )
        token = accounts.issue_token(organiser, name="created with the account")
    except ForumError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"Created organiser {organiser.email} (id {organiser.id}).", err=True)
    click.echo("API token (shown once; keep it secret):", err=True)
    click.echo(token)


@forum_cli.command("create-token")
@click.argument("email")
@click.option("--name", default="", help="A label to tell tokens apart.")
def create_token(email: str, name: str) -> None:
    """Print a new API token for an existing organiser."""
    try:
        token = accounts.issue_token_for_email(email, name=name)
    except ForumError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(token)


@forum_cli.command("list-tokens")
@click.argument("email")
def list_tokens(email: str) -> None:
    """List an organiser's tokens (prefix, label, state; never the secret)."""
    organiser = accounts.find_organiser(email)
    if organiser is None:
        raise click.ClickException(f"no organiser with email {email}")
    tokens = db.session.scalars(
        sa.select(ApiToken).where(ApiToken.organiser_id == organiser.id).order_by(ApiToken.id)
    )
    for token in tokens:
        state = "active" if token.is_active else f"revoked {token.revoked_at:%Y-%m-%d}"
        click.echo(f"{token.id}\t{token.prefix}…\t{token.name or '-'}\t{state}")


@forum_cli.command("revoke-token")
@click.argument("email")
@click.argument("token_id", type=int)
def revoke_token(email: str, token_id: int) -> None:
    """Revoke one of an organiser's tokens by its id (see list-tokens)."""
    organiser = accounts.find_organiser(email)
    if organiser is None:
        raise click.ClickException(f"no organiser with email {email}")
    try:
        accounts.revoke_token(organiser, token_id)
    except ForumError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"Revoked token {token_id}.")


@forum_cli.command("seed-demo")
def seed_demo() -> None:
    """Load the demo institutions, people and events (safe to run again)."""
    from forum.demo.seed import DEMO_ORGANISER_EMAIL
    from forum.demo.seed import DEMO_ORGANISER_PASSWORD
    from forum.demo.seed import seed_demo as seed

    report = seed()
    db.session.commit()
    click.echo(
        f"Demo data: {report.institutions} institutions, {report.people} people, "
        f"{report.events} events, {report.sessions} sessions added."
    )
    click.echo(f"Log in at /login as {DEMO_ORGANISER_EMAIL} / {DEMO_ORGANISER_PASSWORD}")
