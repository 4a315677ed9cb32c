"""The API tokens page: an organiser's tokens, a new one shown once, revoking."""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from forum.accounts.models import Organiser
from forum.accounts.services import issue_token
from forum.accounts.services import revoke_token
from forum.accounts.services import tokens_of
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.web import bp
from forum.web.forms import keep_secret_for_next_page
from forum.web.forms import single_line
from forum.web.forms import take_kept_secret


class TokenForm(FlaskForm):
    """A new API token: only its name; the secret is made by forum."""

    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Give the token a name, to tell it apart from the others.")),
            Length(max=200, message=_l("At most 200 characters.")),
            single_line,
        ],
        render_kw={"autocomplete": "off", "maxlength": 200},
    )


# --- pages -------------------------------------------------------------------------------------


def _page(organiser: Organiser, form: TokenForm, *, new_token: str | None = None) -> str:
    tokens = db.session.scalars(tokens_of(organiser)).all()
    return render_template(
        "tokens/list.html", organiser=organiser, tokens=tokens, form=form, new_token=new_token
    )


@bp.get("/tokens")
@login_required
def tokens():
    organiser = current_user._get_current_object()
    new_token = take_kept_secret(organiser, "api-token")
    return _page(organiser, TokenForm(), new_token=new_token)


@bp.post("/tokens")
@login_required
def create_token():
    organiser = current_user._get_current_object()
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(organiser, form), 422
    token = issue_token(organiser, name=form.name.data.strip())
    db.session.commit()
    keep_secret_for_next_page(organiser, "api-token", token)
    flash(_("API token “%(name)s” created.", name=form.name.data.strip()), "info")
    return redirect(url_for("web.tokens")), 303


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_api_token(token_id: int):
    organiser = current_user._get_current_object()
    # Another organiser's token is as unknown as a missing one: NotFound, a 404 page.
    revoke_token(organiser, token_id)
    db.session.commit()
    flash(_("The token is revoked: the API no longer accepts it."), "info")
    return redirect(url_for("web.tokens")), 303
