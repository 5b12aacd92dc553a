"""Todos API: the application factory."""

import logging

from flask import Flask

from app.config import load_config


def create_app(test_config=None):
    """Build the application: config, extensions, API, error handlers, commands."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, test_config)
    register_extensions(app)
    register_request_hooks(app)
    from app.api import register_api
    from app.errors import register_error_handlers

    register_api(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def register_extensions(app):
    from app import db_engine
    from app.auth.tokens import register_jwt_callbacks
    from app.cors import init_cors
    from app.extensions import db, jwt, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(__import__("pathlib").Path(app.root_path).parent / "migrations"))
    jwt.init_app(app)
    from app.personal_tokens.principal import claims_for

    jwt.personal_claims = claims_for  # an instance attribute: called unbound
    init_cors(app)
    with app.app_context():
        db_engine.configure(db.engine)
    register_jwt_callbacks()
    logging.getLogger("app").setLevel(app.config["LOG_LEVEL"])


def register_request_hooks(app):
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app.auth.verified import require_verified_email
    from app.http import add_common_headers, assign_request_id, refuse_long_preconditions, refuse_nul_in_query
    from app.logs import init_logging
    from app.metrics import init_metrics
    from app.personal_tokens.enforce import enforce_scope
    from app.ratelimit import init_ratelimit
    from app.revalidation import init_revalidation

    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Only this many hops of X-Forwarded-* are believed; the rest is client input.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)

    app.before_request(assign_request_id)
    app.after_request(add_common_headers)
    # After the request id and the timer: a 429 is logged and counted like any answer.
    init_logging(app)
    init_metrics(app)
    init_ratelimit(app)
    app.before_request(refuse_nul_in_query)  # after the limiter: such a request still counts
    app.before_request(refuse_long_preconditions)
    app.before_request(enforce_scope)  # before the revalidation cache: nothing answers a token outside its scopes
    app.before_request(require_verified_email)
    init_revalidation(app)  # last: a revalidation answered from Redis was counted and checked like any request


def register_commands(app):
    from app.commands import register

    register(app)
