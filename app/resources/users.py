"""The caller's own profile and the admin's user management."""

from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource

from app.auth.decorators import role_required
from app.extensions import db
from app.models import User
from app.schemas.user import user_schema


class Me(Resource):
    method_decorators = [jwt_required()]

    def get(self):
        """Return the caller's profile."""
        return user_schema.dump(current_user)


class UserAdmin(Resource):
    method_decorators = [role_required("admin")]

    def get(self, user_id):
        """Return one user."""
        return user_schema.dump(db.get_or_404(User, user_id))
