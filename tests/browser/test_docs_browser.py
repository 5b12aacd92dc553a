"""Headless Chromium renders /docs from a live server: the operations list, no CSP violation."""

import os
import shutil
import subprocess

import pytest

from tests.live import start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: apt-get install -y chromium"),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1280,1600",
    "--virtual-time-budget=15000",
]


def chromium(tmp_path, *args):
    profile = tmp_path / "profile"
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def server(database_url):
    with start_server(database_url, workers=1) as live:
        yield live


def test_docs_render_the_operations_list(server, tmp_path):
    result = chromium(tmp_path, "--dump-dom", server.url + "/docs")
    dom = result.stdout
    assert "swagger-ui" in dom
    assert dom.count('class="opblock ') >= 5, result.stderr[-2000:]
    for path in ("/api/v1/auth/login", "/api/v1/users/me", "/healthz", "/metrics"):
        assert f'data-path="{path}"' in dom, path
    assert "Failed to load API definition" not in dom
    assert "Content Security Policy" not in result.stderr, "a CSP violation on /docs:\n" + result.stderr[-2000:]


def test_docs_screenshot(server, tmp_path):
    png = tmp_path / "docs.png"
    result = chromium(tmp_path, f"--screenshot={png}", server.url + "/docs")
    assert png.exists(), result.stderr[-2000:]
    assert png.stat().st_size > 50_000  # a blank page is a few kilobytes
    keep = os.environ.get("DOCS_SCREENSHOT")
    if keep:
        shutil.copy(png, keep)
