"""Registration, login and the token lifecycle."""

from flask import current_app
from flask_jwt_extended import set_access_cookies, set_refresh_cookies
from flask_restful import Resource
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.passwords import hash_password, verify_password
from app.auth.tokens import issue_tokens, start_session
from app.errors import abort
from app.extensions import db
from app.http import load_body, output_json
from app.models import User
from app.schemas.user import login_schema, register_schema, token_schema, user_schema


def token_response(user, session, fresh, status=200):
    """Issue a token pair for `session`, as a body and as HttpOnly cookies."""
    access, refresh = issue_tokens(user, session, fresh)
    db.session.commit()
    expires_in = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())
    body = token_schema.dump(
        {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": expires_in}
    )
    response = output_json(body, status)
    set_access_cookies(response, access)
    set_refresh_cookies(response, refresh)
    return response


class Register(Resource):
    def post(self):
        """Create an account."""
        data = load_body(register_schema)
        user = User(email=data["email"], display_name=data.get("display_name"),
                    password_hash=hash_password(data["password"]))
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            abort(409, "An account with this email already exists.", errors={"email": ["Already registered."]})
        return user_schema.dump(user), 201, {"Location": user_schema.dump(user)["url"]}


class Login(Resource):
    def post(self):
        """Exchange email and password for tokens."""
        data = load_body(login_schema)
        email = data["email"].strip().lower()
        user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        ok = verify_password(user.password_hash if user else None, data["password"])
        if not ok or not user.is_active:
            abort(401, "The email or password is incorrect.")
        return token_response(user, start_session(user), fresh=True)
