"""The organiser's own settings: the language of their pages and emails."""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms import SelectChoice

from forum.extensions import db
from forum.i18n import LANGUAGES
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import use_locale
from forum.web import bp

# The empty choice: no setting, the browser's Accept-Language decides.
BROWSER = ""


class LanguageForm(FlaskForm):
    locale = RadioField(
        _l("Language"),
        choices=[
            SelectChoice(BROWSER, _l("The language of my browser")),
            *(SelectChoice(code, name) for code, name in LANGUAGES.items()),
        ],
        default=BROWSER,
    )


@bp.route("/account/language", methods=["GET", "POST"])
@login_required
def account_language():
    organiser = current_user._get_current_object()
    form = LanguageForm(data={"locale": organiser.locale or BROWSER})
    if form.validate_on_submit():
        organiser.locale = form.locale.data or None
        db.session.commit()
        if organiser.locale:
            use_locale(organiser.locale)  # the confirmation reads in the new language
        flash(_("Your pages and emails will be in this language."), "success")
        return redirect(url_for("web.account_language"))
    return render_template("account/language.html", form=form, organiser=organiser)
