"""The web app's pages: one HTML shell under a strict CSP; everything else is static ES modules."""

from pathlib import Path

from flask import Blueprint, send_from_directory

from app.personal_tokens.scopes import PUBLIC

STATIC = Path(__file__).parent / "static"

web_bp = Blueprint("web", __name__, static_folder=str(STATIC), static_url_path="/web")

# Only this origin's scripts, styles and API; no inline script, no plugin, no framing.
WEB_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

# The shell answers at `/` and at the pages that mails link to (PUBLIC_BASE_URL + path?token=...).
PAGES = ("/", "/reset-password", "/verify-email", "/confirm-email-change", "/accept-invitation")


def shell():
    """The HTML shell: the app reads the path and the query, and talks to the API from there."""
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Content-Security-Policy"] = WEB_CSP
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"  # mail-link tokens in the query never leak
    return response


shell.scope = PUBLIC  # static pages: no login, a personal token is not even read

for _path in PAGES:
    _endpoint = "shell" if _path == "/" else _path.strip("/").replace("-", "_")
    web_bp.add_url_rule(_path, endpoint=_endpoint, view_func=shell)
