"""Signing in at the development identity provider (``local/dev_idp.py``) without a browser: what
a person does on its login page, done with an HTTP client, for tests of clients that open a
browser (``chronos login --no-browser`` prints the URL instead).
"""

from __future__ import annotations

import urllib.parse
from html.parser import HTMLParser

import httpx


class _LoginForm(HTMLParser):
    """The login page's form: its action and its hidden fields (the authorization request)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = attributes.get("action", "")
        elif tag == "input" and attributes.get("type") == "hidden":
            self.hidden[attributes["name"]] = attributes.get("value", "")


def sign_in(authorize_url: str, *, user: str, roles: tuple[str, ...], tenants: str) -> str:
    """Open ``authorize_url`` (the provider's ``/authorize`` with the client's request), fill in the
    login page (user, roles, tenants) and submit it; the redirect it answers (``Location``, the
    client's ``redirect_uri`` with ``code`` and ``state``), not yet followed."""
    page = httpx.get(authorize_url, timeout=30)
    page.raise_for_status()
    form = _LoginForm()
    form.feed(page.text)
    assert form.action is not None, f"no login form at {authorize_url}"
    fields: dict[str, str | list[str]] = {
        **form.hidden,
        "username": user,
        "role": list(roles),
        "tenants": tenants,
    }
    submitted = httpx.post(
        urllib.parse.urljoin(str(page.url), form.action), data=fields, follow_redirects=False, timeout=30
    )
    assert submitted.status_code == 302, f"{submitted.status_code}: {submitted.text}"
    return submitted.headers["location"]
