"""The browser fixtures themselves: real cookies and CSRF, shared data, errors caught."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS
from tests.browser import save_screenshot

pytestmark = pytest.mark.browser


def test_an_organiser_logs_in_through_the_form_with_its_csrf_token(page, make_organiser):
    # The account is made through the app fixture; the server thread reads the same database.
    make_organiser(name="Olga Organiser")
    page.goto("/")
    assert page.url.endswith("/login?next=%2F")
    page.get_by_label("Email").fill("organiser@example.org")
    page.get_by_label("Password").fill("secret-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    assert page.locator(".nav-name").inner_text() == "Olga Organiser"


def test_a_content_security_policy_violation_is_reported(page, page_errors):
    page.goto("/login")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "document.title = 'injected'";
            document.body.append(script);
        }"""
    )
    page.wait_for_timeout(100)
    assert page.title() != "injected"
    assert any("Content Security Policy" in error for error in page_errors), page_errors
    page_errors.clear()  # provoked on purpose: the test passes


def test_phone_pages_have_a_phone_viewport_and_screenshots_land_in_the_artifacts(phone_page):
    phone_page.goto("/login")
    assert phone_page.evaluate("() => [window.innerWidth, navigator.maxTouchPoints > 0]") == [
        390,
        True,
    ]
    path = save_screenshot(phone_page, "browser-fixtures-login-phone")
    assert path.parent == ARTIFACTS
    assert path.read_bytes().startswith(b"\x89PNG")


def test_a_page_without_javascript_runs_no_script(make_page):
    page = make_page(javascript=False)
    page.goto("/login")
    assert page.get_by_role("button", name="Log in").is_visible()
