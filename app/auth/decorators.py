"""Role checks for Resource classes."""

from functools import wraps

from flask_jwt_extended import current_user, verify_jwt_in_request

from app.errors import abort


def role_required(role):
    """Require a valid access token whose user currently has `role` (read per request)."""

    def decorator(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            verify_jwt_in_request()
            if current_user.role != role:
                abort(403, f"This needs the {role} role.")
            return fn(*args, **kwargs)

        return wrapper

    return decorator
