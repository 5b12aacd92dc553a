"""The interactive docs: a Swagger UI page whose every asset comes from the service itself."""

import re

import pytest

ATTRIBUTES = re.compile(r'\b(?:src|href|data-spec-url)="([^"]*)"')


@pytest.fixture
def page(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    return r


def test_docs_page_references_only_local_assets(page):
    html = page.get_data(as_text=True)
    urls = ATTRIBUTES.findall(html)
    assert len(urls) == 5
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
    assert "http://" not in html and "https://" not in html


def test_docs_page_has_no_inline_script_or_style(page):
    html = page.get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html and "style=" not in html
    assert "onload=" not in html


def test_docs_csp_allows_only_self_scripts_and_styles(page):
    csp = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["default-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in page.headers["Content-Security-Policy"]


def test_every_asset_of_the_page_is_served(client, page):
    for url in ATTRIBUTES.findall(page.get_data(as_text=True)):
        r = client.get(url)
        assert r.status_code == 200, url
        assert len(r.data) > 100, url


@pytest.mark.parametrize(
    ("url", "mimetype"),
    [
        ("/docs/assets/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/assets/swagger-ui.css", "text/css"),
        ("/docs/swagger-initializer.js", "text/javascript"),
    ],
)
def test_assets_have_script_and_style_types(client, url, mimetype):
    r = client.get(url)
    assert r.status_code == 200
    assert r.mimetype == mimetype
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_initializer_points_at_the_served_document(client, page):
    js = client.get("/docs/swagger-initializer.js").get_data(as_text=True)
    assert "SwaggerUIBundle(" in js
    assert 'data-spec-url="/api/v1/openapi.json"' in page.get_data(as_text=True)
    assert "petstore" not in js


def test_missing_asset_is_a_404(client):
    assert client.get("/docs/assets/nope.js").status_code == 404


def test_docs_are_not_rate_limited(database_url):
    from app import create_app
    from tests.conftest import make_config

    app = create_app(make_config(database_url, RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="1 per minute"))
    client = app.test_client()
    statuses = [client.get("/docs").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert "RateLimit-Limit" not in client.get("/docs").headers
