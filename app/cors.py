"""Cross-origin access: credentialed for listed origins on the API, open for share links."""

from flask_cors import CORS

# Headers a browser client may send, and those its script may read, on the credentialed API.
ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "X-CSRF-TOKEN",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
]
EXPOSE_HEADERS = [
    "ETag",
    "Link",
    "Location",
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "Idempotent-Replayed",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
PREFLIGHT_MAX_AGE = 600  # seconds a browser may cache a preflight answer


def cors_resources(origins):
    """The flask-cors resource table for the CORS_ORIGINS list (empty: the API stays same-origin)."""
    resources = {
        # Share links: the token in the path is the credential, so any page may call them.
        r"/api/v1/shared/*": {
            "origins": "*",
            "send_wildcard": True,
            "supports_credentials": False,
            "methods": METHODS,
            "allow_headers": "*",
            "expose_headers": EXPOSE_HEADERS,
            "max_age": PREFLIGHT_MAX_AGE,
        },
    }
    if origins:
        # Never "*" with credentials: only the exact origins the operator lists.
        resources[r"/api/*"] = {
            "origins": [origin for origin in origins if origin != "*"],
            "supports_credentials": True,
            "methods": METHODS,
            "allow_headers": ALLOW_HEADERS,
            "expose_headers": EXPOSE_HEADERS,
            "max_age": PREFLIGHT_MAX_AGE,
            "vary_header": True,
        }
    return resources


def init_cors(app):
    """Apply the CORS policy of CORS_ORIGINS to the app."""
    CORS(app, resources=cors_resources(app.config["CORS_ORIGINS"]))
