"""Organiser accounts: login for the web UI and bearer tokens for the API."""

from __future__ import annotations

from flask import Flask

from forum.extensions import db
from forum.extensions import login_manager
from forum.i18n import _l


def init_app(app: Flask) -> None:
    from forum.accounts.models import Organiser

    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.login_message = _l("Please log in to see this page.")
    # Flashed in the language of the request that needed the login, as a plain string.
    login_manager.localize_callback = str

    @login_manager.user_loader
    def load_organiser(organiser_id: str) -> Organiser | None:
        if not organiser_id.isdigit():
            return None
        return db.session.get(Organiser, int(organiser_id))
