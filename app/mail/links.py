"""Links in mails point at PUBLIC_BASE_URL: the web app's pages."""

from app.http import public_base

# The web app's page for each link, opened with ?token=...
PAGES = {
    "verify_email": "/verify-email",
    "password_reset": "/reset-password",
    "email_change": "/confirm-email-change",
    "invitation": "/accept-invitation",
}


def public_base_url():
    """PUBLIC_BASE_URL, or in development (unset) the request's own origin; never ends in '/'."""
    return public_base()


def page_link(base_url, page, token):
    """The absolute link to a web app page that takes a token."""
    return f"{base_url}{PAGES[page]}?token={token}"
