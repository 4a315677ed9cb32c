"""API errors in the caller's language: the same refusal asked with Accept-Language in each
offered language keeps its status, its machine code and the names of its fields; only the
words change. Without the header the words are English, as integrations' logs expect."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_institution
from tests.helpers import assert_error

LANGUAGES = ("fr", "ja", "zh-Hans", "ar")
UNKNOWN_ID = 2_000_000


def _ask(api, case: str, language: str | None):
    headers = {"Accept-Language": language} if language else {}
    if case == "person":
        # A missing email and a zone that is not one.
        body = {"name": "Li Wei", "timezone": "Mars/Olympus_Mons"}
        return api.post("/api/v1/people", json=body, headers=headers)
    if case == "institution":
        # A missing name and a country that is not an ISO 3166-1 code.
        return api.post("/api/v1/institutions", json={"country": "XX"}, headers=headers)
    if case == "unknown_person":
        return api.get(f"/api/v1/people/{UNKNOWN_ID}", headers=headers)
    if case == "unknown_institution_field":
        body = {
            "name": "Claire Martin",
            "email": "claire.martin@univ-amu.example.fr",
            "institution_id": UNKNOWN_ID,
            "timezone": "Europe/Paris",
        }
        return api.post("/api/v1/people", json=body, headers=headers)
    if case == "no_token":
        return api.client.get("/api/v1/people", headers=headers)
    raise AssertionError(case)


# (status, code, fields named, the English words of each field or of the message)
CASES: dict[str, tuple[int, str, dict[str, str | None], str | None]] = {
    "person": (422, "validation_error", {"email": "required", "timezone": None}, None),
    "institution": (
        422,
        "validation_error",
        {
            "name": "required",
            "country": "must be an ISO 3166-1 alpha-2 country code in capitals, e.g. CN",
        },
        None,
    ),
    "unknown_person": (404, "not_found", {}, f"no person with id {UNKNOWN_ID}"),
    "unknown_institution_field": (
        422,
        "validation_error",
        {"institution_id": f"no institution with id {UNKNOWN_ID}"},
        f"institution_id: no institution with id {UNKNOWN_ID}",
    ),
    "no_token": (401, "unauthorized", {}, "send an API token: Authorization: Bearer <token>"),
}


def _words(error: dict[str, Any]) -> list[str]:
    """The message and every field's problem: the text a person reads."""
    fields = error["details"].get("fields", {})
    return [error["message"], *(fields[name] for name in sorted(fields))]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_refusal_in_each_language(api, case):
    make_institution(api, "Aix-Marseille Université", "FR", "Europe/Paris")
    status, code, english_fields, english_message = CASES[case]

    english = assert_error(_ask(api, case, None), status, code, *english_fields)
    assert set(english["details"].get("fields", {})) == set(english_fields)
    for name, words in english_fields.items():
        if words is not None:
            assert english["details"]["fields"][name] == words
    if english_message is not None:
        assert english["message"] == english_message
    # Asking for English explicitly reads the same as asking nothing.
    asked_english = assert_error(_ask(api, case, "en"), status, code, *english_fields)
    assert asked_english == english

    for language in LANGUAGES:
        translated = assert_error(_ask(api, case, language), status, code, *english_fields)
        # The machine parts are the same in every language.
        assert translated["code"] == english["code"]
        assert set(translated["details"].get("fields", {})) == set(
            english["details"].get("fields", {})
        )
        assert {k: v for k, v in translated["details"].items() if k != "fields"} == {
            k: v for k, v in english["details"].items() if k != "fields"
        }
        # The words are not the English ones, one by one.
        for theirs, ours in zip(_words(translated), _words(english), strict=True):
            assert theirs != ours, (language, theirs)


def test_the_language_of_a_validation_message_follows_its_fields(api):
    """The message joins the field problems: it is written in the same language as they are."""
    for language in (None, *LANGUAGES):
        error = assert_error(_ask(api, "person", language), 422, "validation_error")
        for problem in error["details"]["fields"].values():
            assert problem in error["message"], (language, problem, error["message"])


def test_an_unknown_language_reads_english(api):
    english = _ask(api, "unknown_person", None).get_json()["error"]
    for language in ("de", "x-klingon", "*"):
        assert _ask(api, "unknown_person", language).get_json()["error"] == english
