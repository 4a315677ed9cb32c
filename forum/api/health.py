"""GET /healthz: liveness and database reachability, for load balancers and monitors."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint
from flask import jsonify

from forum.extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("health check: database unreachable: %s", exc)
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})
