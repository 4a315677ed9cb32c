"""Organiser pages: login, logout and the home page."""

from forum.web import bp


@bp.get("/")
def home():
    return "forum"
