"""Real, signed webhook deliveries as Zoom, Webex, Graph and Google send them (tests, load)."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import json
import secrets
import time
import uuid as uuid_module
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

Headers = dict[str, str]


def _stamp(value: dt.datetime | str | None) -> str | None:
    """Zoom's ``yyyy-MM-ddTHH:mm:ssZ`` for an aware instant; strings pass as they are."""
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zoom_uuid() -> str:
    # Meeting instance uuids are base64 of 16 bytes ("aDYlohsHRtCd4ii1uC2+hA==").
    return base64.b64encode(secrets.token_bytes(16)).decode()


# --- Zoom --------------------------------------------------------------------------------------


def zoom_signature(secret: str, ts: int | str, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256(secret, ``v0:{ts}:{raw body}``) (Zoom's docs)."""
    message = b"v0:" + str(ts).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _zoom_signed(secret: str, envelope: Mapping[str, Any], ts: int) -> tuple[Headers, bytes]:
    # Zoom sends compact JSON (its own samples re-serialise with JSON.stringify and match).
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "content-type": "application/json; charset=utf-8",
        "x-zm-request-timestamp": str(ts),
        "x-zm-signature": zoom_signature(secret, ts, body),
    }
    return headers, body


def zoom_delivery(
    secret: str,
    event: str,
    obj: Mapping[str, Any],
    *,
    ts: int | None = None,
    event_ts_ms: int | None = None,
    account_id: str = "AbC",
    payload_extra: Mapping[str, Any] | None = None,
    top_extra: Mapping[str, Any] | None = None,
) -> tuple[Headers, bytes]:
    """A signed Zoom event: ``{"event","event_ts","payload":{"account_id","object"}}``.

    ``ts`` is the x-zm-request-timestamp (seconds, default now); ``event_ts_ms`` the event's
    own time (default ``ts`` in ms). ``payload_extra`` adds to the payload (``operator`` of
    meeting.updated/deleted, ``time_stamp``, ``old_object``), ``top_extra`` to the envelope
    (``download_token`` of recording.completed).
    """
    ts = int(time.time()) if ts is None else ts
    payload: dict[str, Any] = {"account_id": account_id, **(payload_extra or {}), "object": obj}
    envelope: dict[str, Any] = {
        "event": event,
        "event_ts": ts * 1000 if event_ts_ms is None else event_ts_ms,
        "payload": payload,
        **(top_extra or {}),
    }
    return _zoom_signed(secret, envelope, ts)


def zoom_url_validation(
    secret: str, plain_token: str, *, ts: int | None = None, event_ts_ms: int | None = None
) -> tuple[Headers, bytes]:
    """Zoom's ``endpoint.url_validation`` request, signed like every other delivery."""
    ts = int(time.time()) if ts is None else ts
    envelope = {
        "event": "endpoint.url_validation",
        "event_ts": ts * 1000 if event_ts_ms is None else event_ts_ms,
        "payload": {"plainToken": plain_token},
    }
    return _zoom_signed(secret, envelope, ts)


def zoom_encrypted_token(secret: str, plain_token: str) -> str:
    """What Zoom expects back as ``encryptedToken``: hex HMAC-SHA256(secret, plainToken)."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def zoom_meeting_object(
    meeting_id: int | str,
    *,
    id_as_string: bool,
    uuid: str | None = None,
    host_id: str = "30R7kT7bTIKSNUFEuH_Qlg",
    topic: str = "Joint seminar",
    start_time: dt.datetime | str | None = "2026-03-25T07:30:00Z",
    end_time: dt.datetime | str | None = None,
    meeting_type: int = 2,
    duration: int = 60,
    timezone: str | None = "Europe/Zurich",
    participant: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """``payload.object`` of a meeting event, with the id's JSON type the event uses.

    Started/ended/participant events carry the id as a string, deleted/updated/recording
    events as a number (Zoom's docs): pass ``id_as_string`` accordingly.
    """
    obj: dict[str, Any] = {
        "id": str(meeting_id) if id_as_string else int(meeting_id),
        "uuid": uuid or _zoom_uuid(),
        "host_id": host_id,
        "topic": topic,
        "type": meeting_type,
    }
    if start_time is not None:
        obj["start_time"] = _stamp(start_time)
    if end_time is not None:
        obj["end_time"] = _stamp(end_time)
    if timezone is not None:
        obj["timezone"] = timezone
    obj["duration"] = duration
    if participant is not None:
        obj["participant"] = dict(participant)
    obj.update(extra)
    return obj


def zoom_participant(
    user_name: str,
    email: str | None,
    join_time: dt.datetime | str | None = None,
    leave_time: dt.datetime | str | None = None,
    user_id: str = "16778240",
    participant_uuid: str | None = None,
    *,
    participant_id: str = "",
    leave_reason: str | None = None,
) -> dict[str, Any]:
    """``object.participant`` of meeting.participant_joined (join_time) or _left (leave_time).

    Zoom sends ``email`` as "" for guests who gave none, and ``id`` "" for non-users.
    """
    participant: dict[str, Any] = {
        "user_id": user_id,
        "user_name": user_name,
        "id": participant_id,
        "participant_uuid": participant_uuid or str(uuid_module.uuid4()).upper(),
    }
    if join_time is not None:
        participant["join_time"] = _stamp(join_time)
    if leave_time is not None:
        participant["leave_time"] = _stamp(leave_time)
        if leave_reason is not None:
            participant["leave_reason"] = leave_reason
    participant["email"] = email or ""
    return participant


def zoom_recording_file(
    meeting_id: int,
    *,
    recording_start: dt.datetime | str,
    recording_end: dt.datetime | str,
    file_type: str = "MP4",
    recording_type: str = "shared_screen_with_speaker_view",
    file_id: str | None = None,
) -> dict[str, Any]:
    """One entry of recording.completed's ``recording_files``."""
    file_id = file_id or str(uuid_module.uuid4())
    return {
        "id": file_id,
        "meeting_id": str(meeting_id),
        "recording_start": _stamp(recording_start),
        "recording_end": _stamp(recording_end),
        "file_type": file_type,
        "file_size": 1048576,
        "file_extension": file_type,
        "play_url": f"https://zoom.us/rec/play/{file_id}",
        "download_url": f"https://zoom.us/rec/download/{file_id}",
        "status": "completed",
        "recording_type": recording_type,
    }


# --- Webex -------------------------------------------------------------------------------------


def webex_signature(secret: str, body: bytes) -> str:
    """``X-Spark-Signature``: lowercase hex HMAC-SHA1(secret, raw body) (Webex's docs)."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def webex_delivery(
    secret: str,
    resource: str,
    event: str,
    data: Mapping[str, Any],
    *,
    webhook_id: str = "Y2lzY29zcGFyazovL3VzL1dFQkhPT0svZm9ydW0",
    created: str = "2026-01-05T09:00:00.000Z",
    name: str = "forum",
    target_url: str = "https://forum.example/webhooks/webex",
    org_id: str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9mb3J1bQ",
    actor_id: str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ob3N0",
    app_id: str = "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL2ZvcnVt",
) -> tuple[Headers, bytes]:
    """A signed Webex delivery: the webhook's own fields around ``data`` (Webex's docs).

    ``id``/``created``/``name`` are the webhook registration's, the same on every delivery.
    """
    envelope = {
        "id": webhook_id,
        "name": name,
        "targetUrl": target_url,
        "resource": resource,
        "event": event,
        "orgId": org_id,
        "createdBy": actor_id,
        "appId": app_id,
        "ownedBy": "org",
        "status": "active",
        "created": created,
        "actorId": actor_id,
        "data": dict(data),
    }
    # Not compact, so that a verifier re-serialising the JSON would fail as it would live.
    body = json.dumps(envelope, indent=1).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Spark-Signature": webex_signature(secret, body),
    }
    return headers, body


# --- Microsoft Graph ---------------------------------------------------------------------------


def graph_item(
    change_type: str,
    resource: str,
    *,
    resource_id: str | None = None,
    subscription_id: str = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
    tenant_id: str = "84bd8158-6d4d-4958-8b9f-9d6445542f95",
    etag: str | None = None,
    item_id: str | None = None,
    odata_type: str = "#Microsoft.Graph.Event",
) -> dict[str, Any]:
    """One change notification of ``value[]``, without clientState (the builder adds it)."""
    resource_id = resource_id or resource.rstrip("/").rpartition("/")[2]
    item: dict[str, Any] = {
        "subscriptionId": subscription_id,
        "subscriptionExpirationDateTime": "2026-03-19T22:11:09.952Z",
        "changeType": change_type,
        "resource": resource,
        "tenantId": tenant_id,
        "resourceData": {
            "@odata.type": odata_type,
            "@odata.id": resource,
            "@odata.etag": etag or f'W/"{secrets.token_urlsafe(12)}"',
            "id": resource_id,
        },
    }
    if item_id is not None:
        item["id"] = item_id
    return item


def graph_notification(
    client_state: str, items: Iterable[Mapping[str, Any]]
) -> tuple[Headers, bytes]:
    """A (possibly batched) Graph notification POST; an item's own clientState wins."""
    value = [{**item, "clientState": item.get("clientState", client_state)} for item in items]
    body = json.dumps({"value": value}).encode()
    return {"Content-Type": "application/json; charset=utf-8"}, body


def graph_validation(token: str | None = None) -> dict[str, str]:
    """The query of Graph's validation POST (decoded, as a framework hands it over).

    The request itself has an empty body and ``Content-Type: text/plain; charset=utf-8``.
    Real tokens are free text with spaces and colons, hence the decoding rule.
    """
    if token is None:
        token = (
            "Validation: Testing client application reachability for subscription "
            f"Request-Id: {uuid_module.uuid4()}"
        )
    return {"validationToken": token}


GRAPH_VALIDATION_HEADERS = {"Content-Type": "text/plain; charset=utf-8"}


# --- Google ------------------------------------------------------------------------------------


def google_channel_notification(
    token: str,
    *,
    channel_id: str,
    resource_id: str,
    state: str,
    number: int,
    resource_uri: str = "https://www.googleapis.com/calendar/v3/calendars/primary/events",
    expiration: dt.datetime | None = None,
) -> tuple[Headers, bytes]:
    """A Calendar watch channel's notification: headers only, no body (Google's docs)."""
    expiration = expiration or dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    headers = {
        "X-Goog-Channel-ID": channel_id,
        "X-Goog-Channel-Token": token,
        "X-Goog-Channel-Expiration": email.utils.format_datetime(
            expiration.astimezone(dt.UTC), usegmt=True
        ),
        "X-Goog-Resource-ID": resource_id,
        "X-Goog-Resource-URI": resource_uri,
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": str(number),
        "Content-Length": "0",
    }
    return headers, b""
