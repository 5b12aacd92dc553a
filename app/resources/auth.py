"""Registration, login and the token lifecycle: refresh, logout, sessions."""

from flask import current_app
from flask_jwt_extended import (
    current_user,
    get_jwt,
    jwt_required,
    set_access_cookies,
    set_refresh_cookies,
)
from flask_jwt_extended.config import config as jwt_config
from flask_restful import Resource
from sqlalchemy import select

from app.apidoc import Page, doc
from app.auth.email_accounts import check_registration, create_account
from app.auth.passwords import hash_password, needs_rehash, verify_password
from app.auth.throttle import login_throttles
from app.auth.tokens import current_session, issue_tokens, new_jti, start_session
from app.conditional import not_modified, representation_etag, require_match
from app.errors import abort
from app.extensions import db
from app.http import load_body, output_json
from app.models import AuthSession, User
from app.models.base import utcnow
from app.pagination import page_response, paginate, sort_parser
from app.personal_tokens.scopes import LOGIN_ONLY, PUBLIC
from app.schemas.user import (
    login_schema,
    register_schema,
    session_schema,
    token_schema,
    user_schema,
)

BAD_LOGIN = "The email or password is incorrect."
SESSION_SORTS = {"created_at": AuthSession.created_at, "id": AuthSession.id}
session_list_parser = sort_parser(SESSION_SORTS, "-created_at")


def token_response(user, session, fresh):
    """Commit, then answer with a token pair for `session`, as a body and as HttpOnly cookies."""
    access, refresh = issue_tokens(user, session, fresh)
    db.session.commit()
    expires_in = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())
    body = token_schema.dump(
        {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": expires_in}
    )
    response = output_json(body, 200)
    set_access_cookies(response, access)
    set_refresh_cookies(response, refresh)
    return response


def no_content(clear_cookies=False):
    """A 204; after a logout also clear the token cookies."""
    response = current_app.response_class(status=204)
    if clear_cookies:
        clear_token_cookies(response)
    return response


def clear_token_cookies(response):
    """Expire the four token cookies with both a past `Expires` and `Max-Age=0`, whatever a browser reads."""
    cookies = (
        (jwt_config.access_cookie_name, jwt_config.access_cookie_path, True),
        (jwt_config.access_csrf_cookie_name, jwt_config.access_csrf_cookie_path, False),
        (jwt_config.refresh_cookie_name, jwt_config.refresh_cookie_path, True),
        (jwt_config.refresh_csrf_cookie_name, jwt_config.refresh_csrf_cookie_path, False),
    )
    for name, path, httponly in cookies:
        response.delete_cookie(
            name,
            path=path,
            domain=jwt_config.cookie_domain,
            secure=jwt_config.cookie_secure,
            httponly=httponly,
            samesite=jwt_config.cookie_samesite,
        )


def own_live_session(session_id):
    """The caller's live session `session_id`, or 404."""
    session = db.session.get(AuthSession, session_id)
    if session is None or session.user_id != current_user.id or not session.is_live:
        abort(404)
    return session


class Register(Resource):
    scope = PUBLIC

    @doc(
        "Create an account",
        body=register_schema,
        responses={201: user_schema},
        errors=(403, 409, 422),
        auth=False,
        description="The account starts with `email_verified: false` and a verification mail is sent, unless "
        "an `invitation_token` for this email proves the address. REGISTRATION=invite-only needs that token "
        "(403 without it, 422 keyed `invitation_token` when invalid or for another address); "
        "REGISTRATION=closed answers 403 (admins create accounts with `flask users create`).",
    )
    def post(self):
        """Create an account."""
        data = load_body(register_schema)
        verified = check_registration(data["email"], data.get("invitation_token"))
        user = User(
            email=data["email"],
            display_name=data.get("display_name"),
            password_hash=hash_password(data["password"]),
            email_verified=verified,
        )
        create_account(user)
        body = user_schema.dump(user)
        return body, 201, {"Location": body["url"]}


class Login(Resource):
    scope = PUBLIC
    decorators = login_throttles

    @doc(
        "Log in: exchange email and password for tokens (also set as cookies)",
        body=login_schema,
        responses={200: token_schema},
        errors=(401, 422, 429),
        auth=False,
    )
    def post(self):
        """Exchange email and password for tokens."""
        data = load_body(login_schema)
        email = data["email"].strip().lower()
        user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        # Unknown email, wrong password and deactivated account: one hash check, one answer.
        ok = verify_password(user.password_hash if user else None, data["password"])
        if not ok or not user.is_active:
            abort(401, BAD_LOGIN)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(data["password"])
        return token_response(user, start_session(user), fresh=True)


class Refresh(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required(refresh=True)]

    @doc(
        "Exchange a refresh token for a new token pair (the old refresh token is revoked)",
        responses={200: token_schema},
    )
    def post(self):
        """Rotate the refresh token; a reused one ends its whole login."""
        session = current_session()
        lifetime = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
        if not session.rotate(get_jwt()["jti"], new_jti(), lifetime):
            AuthSession.revoke_where(AuthSession.id == session.id)
            db.session.commit()
            abort(401, "The refresh token was already used; this login has been ended. Log in again.")
        return token_response(current_user, session, fresh=False)


class Logout(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required()]

    @doc("Log out: end this login (its access and refresh tokens)", responses={204: None})
    def post(self):
        """End the caller's login."""
        AuthSession.revoke_where(AuthSession.id == current_session().id)
        db.session.commit()
        return no_content(clear_cookies=True)


class LogoutAll(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required()]

    @doc("Log out everywhere: end every login of the caller", responses={204: None})
    def post(self):
        """End every login of the caller."""
        AuthSession.revoke_where(AuthSession.user_id == current_user.id)
        db.session.commit()
        return no_content(clear_cookies=True)


class SessionList(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required()]

    @doc(
        "List the caller's active logins",
        query=session_list_parser,
        responses={200: Page(session_schema)},
        errors=(400,),
    )
    def get(self):
        """List the caller's active logins."""
        args = session_list_parser.parse_args()
        query = select(AuthSession).where(
            AuthSession.user_id == current_user.id, AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow()
        )
        rows, cursor = paginate(query, args["sort"], SESSION_SORTS, AuthSession.id, args, db.session)
        body, headers = page_response(session_schema.dump(rows, many=True), cursor)
        return body, 200, headers


class Session(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required()]

    @doc("Show one of the caller's active logins", responses={200: session_schema, 304: None}, errors=(404,))
    def get(self, session_id):
        """Return one of the caller's logins."""
        body = session_schema.dump(own_live_session(session_id))
        etag = representation_etag(body)
        return not_modified(etag) or (body, 200, {"ETag": etag})

    @doc("End one of the caller's logins", responses={204: None}, errors=(404, 412))
    def delete(self, session_id):
        """End one of the caller's logins."""
        session = own_live_session(session_id)
        require_match(representation_etag(session_schema.dump(session)))
        AuthSession.revoke_where(AuthSession.id == session.id)
        db.session.commit()
        return no_content(clear_cookies=session.id == current_session().id)
