"""Sign-in, sessions, roles, CSRF and the language switch of the console (in-process, real Redis)."""

from __future__ import annotations

import pytest

from api.console.sessions import COOKIE
from tests.api.conftest import ApiHarness, raw_key
from tests.console.conftest import Console, ConsoleFactory, sign_in

pytestmark = pytest.mark.integration

PAGES = ("knowledge", "personas", "desk", "outcomes", "evals")


def test_no_page_without_a_session(api: ApiHarness) -> None:
    anonymous = Console(harness=api, session=None, csrf="")
    for page in PAGES:
        response = anonymous.get(f"/console/{page}")
        assert response.status_code == 303
        assert response.headers["location"] == f"/console/login?next=%2Fconsole%2F{page}"
    assert anonymous.get("/console/knowledge", headers={"Accept": "application/json"}).status_code == 401
    forged = Console(harness=api, session="not-a-session-id", csrf="x")
    assert forged.get("/console/outcomes").status_code == 303


@pytest.mark.parametrize(("role", "home"), [("content", "knowledge"), ("admin", "outcomes"), ("agent", "desk")])
def test_a_key_signs_in_to_its_home_page(api: ApiHarness, role: str, home: str) -> None:
    response = sign_in(api, raw_key("tidewell", role))
    assert response.status_code == 303 and response.headers["location"] == f"/console/{home}"
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert raw_key("tidewell", role) not in cookie


@pytest.mark.parametrize("key", [raw_key("tidewell", "connector"), "pd_not_a_key_0123456789"])
def test_a_connector_key_or_an_unknown_key_is_refused(api: ApiHarness, key: str) -> None:
    response = sign_in(api, key)
    assert response.status_code in (401, 403)
    assert COOKIE not in response.cookies
    assert 'role="alert"' in response.text


def test_a_content_key_cannot_reach_admin_pages(api: ApiHarness, console_as: ConsoleFactory) -> None:
    content = console_as(api, "content")
    assert content.get("/console/knowledge").status_code == 200
    assert content.get("/console/personas").status_code == 200
    for page in ("outcomes", "evals", "desk"):
        response = content.get(f"/console/{page}")
        assert response.status_code == 403, page
        assert 'id="error-code">forbidden<' in response.text
    nav = content.get("/console/knowledge").text
    assert 'href="/console/outcomes"' not in nav and 'href="/console/knowledge"' in nav


def test_a_form_without_its_csrf_token_is_refused(api: ApiHarness, console_as: ConsoleFactory) -> None:
    admin = console_as(api, "admin")
    refused = admin.post("/console/logout", csrf=False)
    assert refused.status_code == 403 and "csrf_failed" in refused.text
    assert admin.get("/console/outcomes").status_code == 200  # still signed in
    stranger = admin.post("/console/logout", headers={"Origin": "https://evil.example"})
    assert stranger.status_code == 403
    assert admin.form("/console/logout", {}).status_code == 303
    assert admin.get("/console/outcomes").status_code == 303  # signed out: the session is gone


def test_the_sign_in_form_needs_its_own_token(api: ApiHarness) -> None:
    client = api.client
    client.cookies.clear()
    response = client.post("/console/login", data={"key": raw_key("tidewell", "admin"), "login_token": "guess"},
                           follow_redirects=False)
    assert response.status_code == 403 and "csrf_failed" in response.text


def test_a_key_removed_from_the_configuration_ends_its_sessions(api: ApiHarness, console_as: ConsoleFactory) -> None:
    admin = console_as(api, "admin")
    keys = api.services.keys
    removed = {digest: caller for digest, caller in keys._callers.items() if caller.key_id == admin_key_id(api)}
    try:
        for digest in removed:
            del keys._callers[digest]
        assert admin.get("/console/outcomes").status_code == 303
    finally:
        keys._callers.update(removed)


def admin_key_id(api: ApiHarness) -> str:
    caller = api.services.keys.authenticate(raw_key("tidewell", "admin"))
    assert caller is not None
    return caller.key_id


def test_language_from_the_browser_and_the_switch(api: ApiHarness) -> None:
    client = api.client
    client.cookies.clear()
    assert "登录控制台" in client.get("/console/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert "Sign in to the console" in client.get("/console/login", headers={"Accept-Language": "de-DE,en;q=0.5"}).text
    switched = client.get("/console/lang/zh?next=%2Fconsole%2Flogin", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/console/login"
    assert "登录控制台" in client.get("/console/login", headers={"Accept-Language": "en"}).text
    away = client.get("/console/lang/en?next=https%3A%2F%2Fevil.example%2F", follow_redirects=False)
    assert away.headers["location"] == "/console/login"
    client.cookies.clear()


def test_pages_carry_security_headers(api: ApiHarness, console_as: ConsoleFactory) -> None:
    page = console_as(api, "content").get("/console/knowledge")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
