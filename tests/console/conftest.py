"""The console in-process: the API's harnesses (``api`` on the demo brand, ``fresh_api`` on an empty index with the
job worker) and ``Console``, a browser-like client of one signed-in session.

``console_as(harness, role, tenant)`` signs in with that key through the real form (its double-submit token
included) and returns a ``Console`` whose requests carry only that session's cookie, so several sessions (two
tenants, two roles) can run side by side on one app.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.console.sessions import COOKIE
from tests.api.conftest import ApiHarness, api, fresh_api, raw_key  # noqa: F401  (fixtures, used here)

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    return dict(_HIDDEN.findall(html))


@dataclass
class Console:
    harness: ApiHarness
    session: str | None
    csrf: str

    def request(self, method: str, url: str, *, csrf: bool = True, **kwargs: Any) -> httpx.Response:
        client = self.harness.client
        client.cookies.clear()
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.session is not None:
            headers["Cookie"] = f"{COOKIE}={self.session}"
        if method == "POST" and csrf and "data" not in kwargs and "files" not in kwargs:
            headers.setdefault("X-CSRF-Token", self.csrf)
        response = client.request(method, url, headers=headers, follow_redirects=False, **kwargs)
        client.cookies.clear()
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def form(self, url: str, data: dict[str, Any], **kwargs: Any) -> httpx.Response:
        """A form POST with the session's CSRF token in the form, as the pages send it."""
        return self.post(url, data={"csrf": self.csrf, **data}, **kwargs)


def sign_in(harness: ApiHarness, key: str, **headers: str) -> httpx.Response:
    """The sign-in form, fetched and posted like a browser does (login cookie and its token)."""
    client = harness.client
    client.cookies.clear()
    page = client.get("/console/login", headers=headers)
    assert page.status_code == 200, page.text
    token = hidden_fields(page.text)["login_token"]
    response = client.post("/console/login", data={"key": key, "login_token": token, "next": ""},
                           headers={"Cookie": f"polydesk_console_login={token}", **headers}, follow_redirects=False)
    client.cookies.clear()
    return response


ConsoleFactory = Callable[..., Console]


@pytest.fixture
def console_as() -> ConsoleFactory:
    def make(harness: ApiHarness, role: str, tenant: str = "tidewell") -> Console:
        response = sign_in(harness, raw_key(tenant, role))
        assert response.status_code == 303, response.text
        session = response.cookies[COOKIE]
        console = Console(harness=harness, session=session, csrf="")
        page = console.get(response.headers["location"])
        assert page.status_code == 200, page.text
        console.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        return console

    return make
