"""REQUIRE_VERIFIED_EMAIL: an account whose email is unverified reaches only its profile, logout and verification."""

from flask import current_app, request
from flask_jwt_extended import get_current_user, verify_jwt_in_request

from app.errors import abort

# What an unverified account may still do: see and fix its profile (a mistyped address
# included), verify, log in and out, and use the endpoints that take no login.
EXEMPT = frozenset(
    "api." + name
    for name in (
        "me",
        "me_email",
        "verify_email",
        "verify_email_resend",
        "logout",
        "logout_all",
        "login",
        "refresh",
        "register",
        "password_reset",
        "password_reset_confirm",
        "confirm_email_change",
        "openapi",
    )
)
UNVERIFIED = (
    "Verify your email address first: open the link we mailed you, "
    "or ask for a new one (POST /api/v1/auth/verify-email/resend)."
)


def require_verified_email():
    """before_request: a 403 for a valid token of an unverified account, outside EXEMPT."""
    endpoint = request.endpoint or ""
    if not current_app.config["REQUIRE_VERIFIED_EMAIL"] or not endpoint.startswith("api.") or endpoint in EXEMPT:
        return
    try:
        verify_jwt_in_request(optional=True)
    except Exception:  # a missing or bad token: the resource answers it (401) as usual
        return
    user = get_current_user()
    if user is not None and not user.email_verified:
        abort(403, UNVERIFIED)
