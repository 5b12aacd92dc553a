"""The caller's own profile and the admin's user management."""

from flask import Response
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource, inputs
from sqlalchemy import or_, select

from app.apidoc import Page, doc
from app.auth.accounts import change_password, delete_account, update_account
from app.auth.decorators import role_required
from app.auth.email_accounts import request_email_change, request_password_reset
from app.auth.tokens import current_session
from app.conditional import not_modified, representation_etag, require_match
from app.extensions import db
from app.http import load_body, query_text
from app.models import ROLES, User
from app.pagination import page_response, paginate, sort_parser
from app.personal_tokens.scopes import LOGIN_ONLY
from app.schemas.account import email_change_schema
from app.schemas.user import (
    admin_user_update_schema,
    password_change_schema,
    profile_update_schema,
    user_schema,
)
from app.services.members import profile_changed

USER_SORTS = {"id": User.id, "created_at": User.created_at, "email": User.email}
user_list_parser = sort_parser(USER_SORTS, "id")
user_list_parser.add_argument(
    "role", type=str, choices=ROLES, location="args", help=f"role must be one of: {', '.join(ROLES)}"
)
user_list_parser.add_argument("is_active", type=inputs.boolean, location="args", help="is_active must be true or false")
user_list_parser.add_argument(
    "q", type=query_text(1, 200), location="args", help="q must be 1-200 characters", trim=False
)


def user_response(user, status=200):
    """Dump `user` with its ETag."""
    body = user_schema.dump(user)
    return body, status, {"ETag": representation_etag(body)}


def get_user(user):
    """Answer a GET of `user`, or a 304 when the client's copy is current."""
    body, status, headers = user_response(user)
    return not_modified(headers["ETag"]) or (body, status, headers)


def check_if_match(user):
    require_match(representation_etag(user_schema.dump(user)))


class Me(Resource):
    scope = {"get": "profile:read", "patch": LOGIN_ONLY, "delete": LOGIN_ONLY}
    # Deleting the account needs a fresh token (a password login, not a refresh).
    method_decorators = {"get": [jwt_required()], "patch": [jwt_required()], "delete": [jwt_required(fresh=True)]}

    @doc("Show the caller's profile", responses={200: user_schema, 304: None})
    def get(self):
        """Return the caller's profile."""
        return get_user(current_user)

    @doc(
        "Change the caller's display name or time zone",
        body=profile_update_schema,
        responses={200: user_schema},
        errors=(412, 422),
    )
    def patch(self):
        """Change the caller's profile."""
        check_if_match(current_user)
        data = load_body(profile_update_schema)
        for name, value in data.items():
            setattr(current_user, name, value)
        if "display_name" in data:
            profile_changed(current_user)
        db.session.commit()
        return user_response(current_user)

    @doc(
        "Delete the caller's account, the lists only they own and their memberships (needs a fresh login)",
        responses={204: None},
        errors=(409, 412),
    )
    def delete(self):
        """Delete the caller's account."""
        check_if_match(current_user)
        delete_account(current_user)
        db.session.commit()
        return Response(status=204)


class MePassword(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required(fresh=True)]

    @doc(
        "Change the caller's password (needs a fresh login); every other login is ended",
        body=password_change_schema,
        responses={204: None},
        errors=(412, 422),
    )
    def put(self):
        """Change the caller's password."""
        check_if_match(current_user)
        data = load_body(password_change_schema)
        change_password(current_user, current_session(), data["current_password"], data["new_password"])
        db.session.commit()
        return Response(status=204)


class MeEmail(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required(fresh=True)]

    @doc(
        "Change the caller's email (needs a fresh login): a confirmation link goes to the new address",
        body=email_change_schema,
        responses={202: None},
        errors=(409, 412, 422),
        description="202 with no body: a link valid 24 hours is mailed to `new_email` and a notice to the current "
        "address; nothing changes until the link is used (POST /auth/confirm-email-change). A wrong `password` "
        "is a 422 keyed `password`; an address another account has is a 409.",
    )
    def put(self):
        """Ask to change the caller's email."""
        check_if_match(current_user)
        data = load_body(email_change_schema)
        request_email_change(current_user, data["new_email"], data["password"])
        db.session.commit()
        return Response(status=202)


class UserList(Resource):
    scope = LOGIN_ONLY
    method_decorators = [role_required("admin")]

    @doc("List users (admin)", query=user_list_parser, responses={200: Page(user_schema)}, errors=(400, 403))
    def get(self):
        """List users, filtered by role, is_active and q (email or name contains)."""
        args = user_list_parser.parse_args()
        query = select(User)
        if args["role"] is not None:
            query = query.where(User.role == args["role"])
        if args["is_active"] is not None:
            query = query.where(User.is_active.is_(args["is_active"]))
        if args["q"]:
            query = query.where(
                or_(
                    User.email.icontains(args["q"], autoescape=True),
                    User.display_name.icontains(args["q"], autoescape=True),
                )
            )
        rows, cursor = paginate(query, args["sort"], USER_SORTS, User.id, args, db.session)
        body, headers = page_response(user_schema.dump(rows, many=True), cursor)
        return body, 200, headers


class UserAdmin(Resource):
    scope = LOGIN_ONLY
    method_decorators = [role_required("admin")]

    @doc("Show a user (admin)", responses={200: user_schema, 304: None}, errors=(403, 404))
    def get(self, user_id):
        """Return one user."""
        return get_user(db.get_or_404(User, user_id))

    @doc(
        "Change a user's role, is_active or display_name (admin)",
        body=admin_user_update_schema,
        responses={200: user_schema},
        errors=(403, 404, 409, 412, 422),
    )
    def patch(self, user_id):
        """Change a user's role, activity or name."""
        user = db.get_or_404(User, user_id)
        check_if_match(user)
        update_account(user, load_body(admin_user_update_schema))
        db.session.commit()
        return user_response(user)

    @doc(
        "Delete a user, the lists only they own and their memberships (admin)",
        responses={204: None},
        errors=(403, 404, 409, 412),
    )
    def delete(self, user_id):
        """Delete a user."""
        user = db.get_or_404(User, user_id)
        check_if_match(user)
        delete_account(user)
        db.session.commit()
        return Response(status=204)


class UserPasswordReset(Resource):
    scope = LOGIN_ONLY
    method_decorators = [role_required("admin")]

    @doc(
        "Mail a user a password reset link (admin)",
        responses={202: None},
        errors=(403, 404),
        description="202 with no body: an active user gets a link valid 60 minutes, as with POST "
        "/auth/password-reset. Nobody sees or sets another user's password.",
    )
    def post(self, user_id):
        """Queue a password reset mail for a user."""
        user = db.get_or_404(User, user_id)
        request_password_reset(user.email)
        db.session.commit()
        return Response(status=202)
