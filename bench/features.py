"""The production app with one per-request feature switched off from outside, to measure what it costs.

    gunicorn -c gunicorn.conf.py bench.features:app     # BENCH_FEATURE_OFF=<name>, or unset: all on

`app/` has no switch for any of this: each function below takes the real app from
`create_app()` (production settings from the environment, as wsgi.py) and removes one
feature's hooks, so nothing a deployment can set weakens it. A switch that finds
nothing to remove fails, so a renamed hook cannot leave a feature silently on.

- `revocation`: the user and login-session lookup (one join) and its check that the
  session is live and the user active. The user is still loaded, by id alone (one
  primary-key query); a revoked or expired login, a deactivated user and a revoked
  personal token are then accepted until the token expires.
- `rate-limits`: the default API limit: the key (token verified for its user), the
  Redis round trip that counts the hit, the RateLimit-* headers. Limits that a view
  declares itself (login, mail) stay.
- `metrics`: the request counter and latency histogram, and the pool gauges updated at
  every connection checkout and checkin. /metrics still answers.
- `request-logs`: the JSON log line of each request. Its timer stays: metrics reads it.
- `request-ids`: making (or adopting) the X-Request-ID and sending it back.
- `security-headers`: X-Content-Type-Options, X-Frame-Options, Content-Security-Policy
  and the API's Cache-Control: no-store. The request id and the JSON charset stay.
- `etags`: the revalidation cache (app/revalidation.py): its check before every
  request, its Redis client, and its session listeners that note what each flush and
  commit changes (process-wide, as in a Gunicorn worker). ETag headers and
  If-None-Match/If-Match answered by the views stay.
- `scopes`: the check of a personal token's scopes before any view.
- `nul-refusal`: the 400 for a NUL character in the query string.
- `cors`: flask-cors's after-request handler and its wrappers of the error handlers.

Not switched, being off unless configured: ProxyFix (TRUSTED_PROXIES) and
REQUIRE_VERIFIED_EMAIL (its hook only reads the setting).
"""

import os
from functools import partial

from flask import g
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import create_app
from app.extensions import db, jwt
from app.http import JSON_CONTENT_TYPE, add_common_headers, assign_request_id, refuse_nul_in_query
from app.models import User
from app.ratelimit import limiter

ENV_VAR = "BENCH_FEATURE_OFF"


def _unhook(funcs, *hooks):
    """Remove each of `hooks` from a Flask hook list; a hook not found is an error."""
    for hook in hooks:
        if hook not in funcs:
            raise LookupError(f"{getattr(hook, '__qualname__', hook)} is not registered")
        funcs.remove(hook)


def _find(funcs, test, what):
    found = [f for f in funcs if test(f)]
    if not found:
        raise LookupError(f"{what} is not registered")
    return found


def _replace(funcs, old, new):
    if old not in funcs:
        raise LookupError(f"{old.__qualname__} is not registered")
    funcs[funcs.index(old)] = new


def revocation_off(app):
    """Accept any verified token: load its user by id, never its login session or its state."""

    def not_revoked(jwt_header, jwt_data):
        return False

    def user_by_id(jwt_header, jwt_data):
        if "principal" not in g:  # a personal token's user came with its token row
            g.principal = (db.session.get(User, int(jwt_data["sub"])), None)
        return g.principal[0]

    jwt.token_in_blocklist_loader(not_revoked)
    jwt.user_lookup_loader(user_by_id)


def rate_limits_off(app):
    """Remove the default API limit's hooks: no key, no Redis hit, no RateLimit-* headers."""
    from app.ratelimit import _drop_stray_retry_after

    _unhook(app.before_request_funcs[None], limiter._check_request_limit)
    headers = _find(
        app.after_request_funcs[None],
        lambda f: isinstance(f, partial) and f.args == (limiter,),
        "the limiter's header hook",
    )
    _unhook(app.after_request_funcs[None], *headers, _drop_stray_retry_after)
    _unhook(app.teardown_request_funcs[None], limiter._Limiter__release_context)


def metrics_off(app):
    """Remove the per-request counter and histogram and the connection pool gauges."""
    from app.metrics import _observe

    _unhook(app.after_request_funcs[None], _observe)
    with app.app_context():
        engine = db.engine
    for name in ("checkout", "checkin"):
        for listener in _find(getattr(engine.pool.dispatch, name), _from_metrics, f"the pool's {name} gauge"):
            event.remove(engine, name, listener)


def _from_metrics(listener):
    return getattr(listener, "__module__", None) == "app.metrics"


def request_logs_off(app):
    """Remove the request's log line (the timer that metrics reads stays)."""
    from app.logs import _log_request

    _unhook(app.after_request_funcs[None], _log_request)


def request_ids_off(app):
    """Neither make, adopt nor send back an X-Request-ID."""

    def common_headers_without_request_id(response):
        response = add_common_headers(response)
        del response.headers["X-Request-ID"]  # set (empty) with the other common headers: under a microsecond
        return response

    _unhook(app.before_request_funcs[None], assign_request_id)
    _replace(app.after_request_funcs[None], add_common_headers, common_headers_without_request_id)


def security_headers_off(app):
    """Send back the request id and the JSON charset only: none of the security headers."""

    def request_id_and_charset(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if response.mimetype == "application/json":
            response.headers["Content-Type"] = JSON_CONTENT_TYPE
        return response

    _replace(app.after_request_funcs[None], add_common_headers, request_id_and_charset)


def etags_off(app):
    """Remove the revalidation cache: its before-request check, its client, its session listeners."""
    from app import revalidation

    _unhook(app.before_request_funcs[None], revalidation.answer_from_cache)
    del app.extensions["revalidation"]
    for name, listener in revalidation_listeners():
        event.remove(Session, name, listener)


def revalidation_listeners():
    """The (event, listener) pairs the revalidation cache puts on every SQLAlchemy session."""
    from app import revalidation

    return [
        ("after_flush", revalidation._after_flush),
        ("do_orm_execute", revalidation._do_orm_execute),
        ("after_commit", revalidation._after_commit),
    ]


def scopes_off(app):
    """Let a personal token reach any endpoint a login may reach."""
    from app.personal_tokens.enforce import enforce_scope

    _unhook(app.before_request_funcs[None], enforce_scope)


def nul_refusal_off(app):
    """Let a NUL character in the query string through to the views."""
    _unhook(app.before_request_funcs[None], refuse_nul_in_query)


def cors_off(app):
    """Remove flask-cors: its after-request handler and its wrappers of the error handlers."""
    handlers = _find(
        app.after_request_funcs[None],
        lambda f: getattr(f, "__module__", "").startswith("flask_cors"),
        "flask-cors's handler",
    )
    _unhook(app.after_request_funcs[None], *handlers)
    for name in ("handle_exception", "handle_user_exception"):
        vars(app).pop(name, None)  # the instance attribute hides the class's own handler


# name: (switch, what the feature does, for the README's table)
FEATURES = {
    "revocation": (revocation_off, "checks the token's login session and user are live: one join per request"),
    "rate-limits": (rate_limits_off, "one budget per user across the API, counted in Redis; RateLimit-* headers"),
    "metrics": (metrics_off, "Prometheus request count, latency histogram and pool gauges, summed over workers"),
    "request-logs": (request_logs_off, "one JSON log line per request"),
    "request-ids": (request_ids_off, "an X-Request-ID made or adopted, in every log line and answer"),
    "security-headers": (security_headers_off, "nosniff, X-Frame-Options, CSP and no-store on every answer"),
    "etags": (etags_off, "the revalidation cache: a repeated If-None-Match answered 304 from Redis"),
    "scopes": (scopes_off, "a personal token is refused outside its scopes, before any view"),
    "nul-refusal": (nul_refusal_off, "a NUL in the query string is a 400, not a database error"),
    "cors": (cors_off, "cross-origin headers for listed origins and share links"),
}


def switch_off(app, name):
    """Switch the feature `name` off in `app`; an unknown name is an error."""
    _switch(name)(app)
    return app


def _switch(name):
    if name not in FEATURES:
        raise ValueError(f"{ENV_VAR}: unknown feature {name!r}; one of: {', '.join(FEATURES)}")
    return FEATURES[name][0]


def create(feature=None, test_config=None):
    """The production app, with `feature` switched off (None: every feature on)."""
    switch = _switch(feature) if feature else None  # a wrong name fails before the app is built
    app = create_app(test_config)
    if switch:
        switch(app)
    return app


def __getattr__(name):
    # `bench.features:app` is built when Gunicorn asks for it, so importing this module builds nothing.
    if name == "app":
        return create(os.environ.get(ENV_VAR) or None)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
