"""The web app: a single-page app on the public API, served as static files at `/` (no build step)."""

from app.web.views import PAGES, WEB_CSP, web_bp

__all__ = ["PAGES", "WEB_CSP", "web_bp"]
