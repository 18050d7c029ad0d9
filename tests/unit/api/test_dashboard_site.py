"""The dashboard served under /ui/ by the API app: content types, caching, the SPA fallback with a
relative <base href>, the sign-in settings, no token needed, nothing outside the build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chronos_core.api.app import create_app
from chronos_core.api.dashboard import DashboardConfig, relative_base
from tests.support.fakes import fake_services

INDEX = '<!doctype html><html><head><script type="module" src="./assets/app-1a2b.js"></script></head></html>'


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log('chronos')")
    (tmp_path / "assets" / "app-1a2b.css").write_text("body{}")
    (tmp_path / "robots.txt").write_text("User-agent: *")
    (tmp_path.parent / "secret.txt").write_text("outside")
    return tmp_path


@pytest.fixture
def client(site: Path) -> Iterator[TestClient]:
    config = DashboardConfig.from_env({"CHRONOS_OIDC_AUTHORITY": "http://127.0.0.1:19080"})
    with TestClient(create_app(fake_services(), dashboard=(site, config)), follow_redirects=False) as c:
        yield c


def test_hashed_assets_are_cached_for_a_year_with_their_text_type(client: TestClient) -> None:
    js = client.get("/ui/assets/app-1a2b.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert js.headers["x-content-type-options"] == "nosniff"
    assert client.get("/ui/assets/app-1a2b.css").headers["content-type"].startswith("text/css")
    assert client.get("/ui/assets/missing.js").status_code == 404  # never the app for an asset


@pytest.mark.parametrize(
    ("path", "base"),
    [
        ("/ui/", "./"),
        ("/ui/devices", "./"),
        ("/ui/models/abc", "../"),
        ("/ui/models/a/jobs/b/forecasts", "../../../../"),
    ],
)
def test_client_side_routes_get_the_app_with_a_base_pointing_at_ui(
    client: TestClient, path: str, base: str
) -> None:
    page = client.get(path)  # no Authorization header: the app is public
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert f'<head><base href="{base}">' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "http://127.0.0.1:19080" in csp


def test_ui_without_slash_redirects_relatively_keeping_the_stage_prefix(client: TestClient) -> None:
    response = client.get("/ui")
    assert response.status_code == 307
    assert response.headers["location"] == "ui/"


def test_config_tells_how_to_sign_in_and_is_never_cached(client: TestClient) -> None:
    response = client.get("/ui/config.json")
    assert response.json() == {
        "authority": "http://127.0.0.1:19080",
        "client_id": "chronos-dashboard",
        "scope": "openid",
        "bearer_token": "access_token",
    }
    assert response.headers["cache-control"] == "no-store"


def test_other_files_of_the_build_are_served_briefly_cached(client: TestClient) -> None:
    response = client.get("/ui/robots.txt")
    assert response.text == "User-agent: *"
    assert response.headers["cache-control"] == "public, max-age=300"


def test_nothing_outside_the_build_is_served(client: TestClient) -> None:
    for path in ("/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/assets/../../secret.txt"):
        response = client.get(path)
        assert "outside" not in response.text, path


def test_api_routes_still_need_a_token(client: TestClient) -> None:
    assert client.get("/models/").status_code == 401


def test_an_unbuilt_dashboard_says_how_to_build_it(tmp_path: Path) -> None:
    app = create_app(fake_services(), dashboard=(tmp_path / "none", DashboardConfig(authority="")))
    with TestClient(app) as c:
        response = c.get("/ui/")
    assert response.status_code == 404
    assert "make setup" in response.json()["message"]


def test_config_from_the_environment_checks_the_bearer_choice() -> None:
    config = DashboardConfig.from_env(
        {"CHRONOS_OIDC_AUTHORITY": "https://idp", "CHRONOS_OIDC_BEARER_TOKEN": "id_token"}
    )
    assert config.bearer_token == "id_token"
    with pytest.raises(ValueError, match="bearer_token"):
        DashboardConfig.from_env({"CHRONOS_OIDC_BEARER_TOKEN": "cookie"})
    assert relative_base("") == "./"
