"""The OpenAPI document turned into what the API docs page shows."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from dataclasses import field
from http import HTTPStatus
from typing import Any

from forum.i18n import _
from forum.i18n import ngettext
from forum.web import bp

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class DocField:
    name: str
    # Pieces of the type: ("text", "array of ") or ("ref", "InviteeIn"), linked in the page.
    type: list[tuple[str, str]]
    required: bool = False
    description: str = ""
    limits: str = ""
    default: str = ""
    example: str = ""


@dataclass
class DocResponse:
    status: str
    description: str
    media_types: list[str] = field(default_factory=list)
    # The JSON body's type, linked like a field's.
    returns: list[tuple[str, str]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)


@dataclass
class DocOperation:
    method: str
    path: str
    anchor: str
    summary: str
    public: bool
    path_params: list[DocField] = field(default_factory=list)
    query_params: list[DocField] = field(default_factory=list)
    header_params: list[DocField] = field(default_factory=list)
    body_schema: str = ""
    body_fields: list[DocField] = field(default_factory=list)
    # Request bodies other than JSON (a CSV or .ics file, a form), with what they hold.
    other_bodies: list[tuple[str, str]] = field(default_factory=list)
    success_status: str = ""
    success_description: str = ""
    returns: list[tuple[str, str]] = field(default_factory=list)
    responses: list[DocResponse] = field(default_factory=list)


@dataclass
class DocSchema:
    name: str
    description: str
    fields: list[DocField]


def _schema_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _non_null(schema: dict[str, Any]) -> list[dict[str, Any]]:
    members = schema.get("anyOf") or schema.get("oneOf")
    if not members:
        return [schema]
    return [m for m in members if m.get("type") != "null"] or [schema]


_SLOT = re.compile("\x00([a-z]+)\x00")


def _slot(name: str) -> str:
    """Where a part goes in a translated phrase, for _sentence to find."""
    return "\x00" + name + "\x00"


def _sentence(text: str, **parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A translated phrase whose placeholders are pieces of a type (some of them links):
    the words in the reader's order, each part where the phrase puts it."""
    pieces: list[tuple[str, str]] = []
    for index, chunk in enumerate(_SLOT.split(text)):
        if index % 2:
            pieces += parts[chunk]
        elif chunk:
            pieces.append(("text", chunk))
    return pieces


def _either(alternatives: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    pieces = alternatives[0]
    for alternative in alternatives[1:]:
        text = _("%(first)s or %(second)s", first=_slot("first"), second=_slot("second"))
        pieces = _sentence(text, first=pieces, second=alternative)
    return pieces


def _type_pieces(schema: dict[str, Any]) -> list[tuple[str, str]]:
    if "$ref" in schema:
        return [("ref", _schema_name(schema["$ref"]))]
    members = schema.get("anyOf") or schema.get("oneOf")
    if members:
        return _either([_type_pieces(member) for member in members])
    if "enum" in schema:
        values = ", ".join(json.dumps(v) for v in schema["enum"])
        return [("text", _("one of %(values)s", values=values))]
    if "const" in schema:
        return [("text", json.dumps(schema["const"]))]
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return _either([[("text", name)] for name in kind])
    if kind == "array":
        items = schema.get("items")
        if not items:
            return [("text", "array")]
        return _sentence(_("array of %(type)s", type=_slot("type")), type=_type_pieces(items))
    if kind == "object" and schema.get("properties"):
        fields: list[tuple[str, str]] = []
        for index, (name, prop) in enumerate(schema["properties"].items()):
            fields.append(("text", f"{', ' if index else ''}{name} ("))
            fields += _type_pieces(prop)
            fields.append(("text", ")"))
        return _sentence(_("object: %(fields)s", fields=_slot("fields")), fields=fields)
    if schema.get("format"):
        return [("text", f"{kind} ({schema['format']})")]
    return [("text", kind)]


def _limits(schema: dict[str, Any]) -> str:
    found = []
    for member in _non_null(schema):
        if member.get("minLength") == 1:
            found.append(_("not empty"))
        for key in (
            "minLength",
            "maxLength",
            "minimum",
            "exclusiveMinimum",
            "maximum",
            "exclusiveMaximum",
            "minItems",
            "maxItems",
            "pattern",
        ):
            if key in member and not (key == "minLength" and member[key] == 1):
                found.append(_limit(key, member[key]))
    return "; ".join(found)


def _limit(key: str, value: Any) -> str:
    """One limit of a value, in words ("at most 200 characters") or a sign ("≥ 1")."""
    if key == "minimum":
        return f"≥ {value}"
    if key == "exclusiveMinimum":
        return f"> {value}"
    if key == "maximum":
        return f"≤ {value}"
    if key == "exclusiveMaximum":
        return f"< {value}"
    if key == "pattern":
        return _("matches %(pattern)s", pattern=value)
    # The English words do not change with the number; other languages' may.
    if key == "minLength":
        return ngettext("at least %(num)d characters", "at least %(num)d characters", value)
    if key == "maxLength":
        return ngettext("at most %(num)d characters", "at most %(num)d characters", value)
    if key == "minItems":
        return ngettext("at least %(num)d items", "at least %(num)d items", value)
    return ngettext("at most %(num)d items", "at most %(num)d items", value)


def _first(schema: dict[str, Any], key: str) -> Any:
    """``key`` of the property, or of its first non-null alternative (pydantic nests them)."""
    if key in schema:
        return schema[key]
    for member in _non_null(schema):
        if key in member:
            return member[key]
    return None


def _example(schema: dict[str, Any]) -> str:
    example = _first(schema, "example")
    if example is None:
        examples = _first(schema, "examples")
        example = examples[0] if examples else None
    return "" if example is None else json.dumps(example, ensure_ascii=False)


def _fields(schema: dict[str, Any]) -> list[DocField]:
    required = set(schema.get("required", ()))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        default = prop.get("default")
        fields.append(
            DocField(
                name=name,
                type=_type_pieces(prop),
                required=name in required,
                description=_first(prop, "description") or "",
                limits=_limits(prop),
                default="" if default is None else json.dumps(default, ensure_ascii=False),
                example=_example(prop),
            )
        )
    return fields


def _parameter(parameter: dict[str, Any]) -> DocField:
    schema = parameter.get("schema", {})
    return DocField(
        name=parameter["name"],
        type=_type_pieces(schema),
        required=bool(parameter.get("required")),
        description=parameter.get("description", ""),
        limits=_limits(schema),
    )


def _status_line(code: str) -> str:
    try:
        return f"{code} {HTTPStatus(int(code)).phrase}"
    except ValueError:
        return code


def _response(code: str, response: dict[str, Any]) -> DocResponse:
    content = response.get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return DocResponse(
        status=_status_line(code),
        description=response.get("description", ""),
        media_types=list(content),
        returns=_type_pieces(schema) if schema is not None else [],
        headers=list(response.get("headers", {})),
    )


def _other_bodies(content: dict[str, Any]) -> list[tuple[str, str]]:
    bodies = []
    for media_type, spec in content.items():
        if media_type == "application/json":
            continue
        schema = spec.get("schema", {})
        described = schema.get("description", "")
        if not described and schema.get("properties"):
            described = _("fields %(names)s", names=", ".join(schema["properties"]))
        bodies.append((media_type, described))
    return bodies


@bp.app_template_global("describe_openapi")
def describe_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """What the docs page shows of an OpenAPI 3 document, with ``$ref`` bodies resolved."""
    schemas = document.get("components", {}).get("schemas", {})
    default_security = document.get("security", [])
    operations = []
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            parameters = spec.get("parameters", [])
            operation = DocOperation(
                method=method,
                path=path,
                anchor=spec.get("operationId") or f"{method}-{path}",
                summary=spec.get("summary", ""),
                public=spec.get("security", default_security) == [],
                path_params=[_parameter(p) for p in parameters if p.get("in") == "path"],
                query_params=[_parameter(p) for p in parameters if p.get("in") == "query"],
                header_params=[_parameter(p) for p in parameters if p.get("in") == "header"],
            )
            content = spec.get("requestBody", {}).get("content", {})
            operation.other_bodies = _other_bodies(content)
            body = content.get("application/json", {}).get("schema")
            if body is not None:
                if "$ref" in body:
                    operation.body_schema = _schema_name(body["$ref"])
                    body = schemas.get(operation.body_schema, {})
                operation.body_fields = _fields(body)
            responses = spec.get("responses", {})
            operation.responses = [_response(code, responses[code]) for code in sorted(responses)]
            successes = sorted(code for code in responses if code[0] in "23")
            if successes:
                response = responses[successes[0]]
                operation.success_status = _status_line(successes[0])
                operation.success_description = response.get("description", "")
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema is not None:
                    operation.returns = _type_pieces(schema)
            operations.append(operation)
    return {
        "info": document.get("info", {}),
        "security_schemes": document.get("components", {}).get("securitySchemes", {}),
        "operations": operations,
        "schemas": [
            DocSchema(name=name, description=schema.get("description", ""), fields=_fields(schema))
            for name, schema in sorted(schemas.items())
        ],
    }
