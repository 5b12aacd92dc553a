"""The web app's files: the shell at `/` under a strict CSP, ES modules that resolve, vendored licenses."""

import re
from pathlib import Path

import pytest

from app.web import PAGES, WEB_CSP

STATIC = Path(__file__).resolve().parent.parent / "app" / "web" / "static"
IMPORT = re.compile(r"""(?:^|[;\s])(?:import|export)\b[^'"]*?\bfrom\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']""")


def csp(response):
    return dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))


@pytest.mark.parametrize("path", PAGES)
def test_shell_is_served_with_a_strict_csp(client, path):
    r = client.get(path + "?token=abc")
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    policy = csp(r)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'"
    assert "unsafe" not in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_shell_has_no_inline_script_and_only_local_assets(client):
    html = client.get("/").get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "style=" not in html and "<style" not in html and " on" not in html.replace("<noscript>", "")
    for url in re.findall(r'\b(?:src|href)="([^"]*)"', html):
        assert url.startswith(("/", "data:")) and not url.startswith("//"), url
        if url.startswith("/web/"):
            r = client.get(url)
            assert r.status_code == 200, url


def test_module_is_served_as_javascript(client):
    r = client.get("/web/js/main.js")
    assert r.status_code == 200
    assert r.mimetype in ("text/javascript", "application/javascript")
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_every_module_import_resolves_to_a_served_file(client):
    """No bare specifiers (no build step resolves them), no CDN: each import is a file of ours."""
    modules = sorted(STATIC.rglob("*.js"))
    assert len(modules) >= 8
    seen = 0
    for module in modules:
        for match in IMPORT.finditer(module.read_text()):
            spec = match.group(1) or match.group(2)
            assert spec.startswith("./") or spec.startswith("../"), f"{module.name}: {spec}"
            target = (module.parent / spec).resolve()
            assert target.is_file(), f"{module.name}: {spec}"
            url = "/web/" + target.relative_to(STATIC).as_posix()
            assert client.get(url).status_code == 200, url
            seen += 1
    assert seen >= 15


FORBIDDEN = ("innerHTML", "dangerouslySetInnerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function")


def test_no_module_inserts_html():
    """Text goes through Preact, which escapes it: no innerHTML, no eval, no inline handlers."""
    for module in sorted((STATIC / "js").rglob("*.js")):
        source = module.read_text()
        for forbidden in FORBIDDEN:
            assert forbidden not in source, f"{module.name} uses {forbidden}"


def test_vendored_library_keeps_its_licenses():
    vendor = STATIC / "vendor"
    assert "MIT License" in (vendor / "LICENSE.preact").read_text()
    assert "Apache License" in (vendor / "LICENSE.htm").read_text()
    for name in ("preact.module.js", "hooks.module.js", "htm.module.js"):
        assert (vendor / name).stat().st_size > 1000


def test_docs_and_api_still_answer_beside_the_app(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert "/" not in client.get("/api/v1/openapi.json").json["paths"]
    assert client.get("/web/nope.js").status_code == 404


def test_web_csp_constant_matches_what_is_sent(client):
    assert client.get("/").headers["Content-Security-Policy"] == WEB_CSP
