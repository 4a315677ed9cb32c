"""API v1: finding times: ranked slots, a fair rotation, a DST preview (nothing is written)."""

from __future__ import annotations

from forum.api import bp
from forum.api import schemas
from forum.api.util import current_organiser
from forum.api.util import load_body
from forum.events import planning
from forum.events import series_planning


@bp.post("/scheduling/search")
def search_slots():
    body = load_body(schemas.SearchRequest)
    return planning.search(current_organiser(), **body.model_dump())


@bp.post("/scheduling/rotation")
def rotation():
    body = load_body(schemas.RotationRequest)
    return series_planning.rotation(current_organiser(), **body.model_dump())


@bp.post("/scheduling/dst-preview")
def dst_preview():
    body = load_body(schemas.DstPreviewRequest)
    return series_planning.dst_preview(current_organiser(), **body.model_dump())
