"""The one routing table: every endpoint of the service, in one place."""

from flask import Blueprint

from app.http import ProblemApi, output_json
from app.resources import auth, ops, users

# Ids in paths are 32-bit positive integers: anything else matches no route (404).
ID = "int(min=1, max=2147483647)"

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
api = ProblemApi(api_bp)
api.representations = {"application/json": output_json}

ops_bp = Blueprint("ops", __name__)
ops_api = ProblemApi(ops_bp)
ops_api.representations = {"application/json": output_json}

# Operations
ops_api.add_resource(ops.Health, "/healthz", endpoint="healthz")
ops_api.add_resource(ops.Ready, "/readyz", endpoint="readyz")

# Authentication
api.add_resource(auth.Register, "/auth/register", endpoint="register")
api.add_resource(auth.Login, "/auth/login", endpoint="login")

# Users
api.add_resource(users.Me, "/users/me", endpoint="me")
api.add_resource(users.UserAdmin, f"/users/<{ID}:user_id>", endpoint="user")


def register_api(app):
    """Mount the API and operations blueprints."""
    app.register_blueprint(api_bp)
    app.register_blueprint(ops_bp)
