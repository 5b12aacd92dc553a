"""Personal access tokens of the caller, managed from a login (never from a personal token)."""

from flask import Response
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource
from sqlalchemy import select

from app.apidoc import Page, doc
from app.conditional import not_modified, representation_etag, require_match
from app.errors import abort
from app.extensions import db
from app.http import load_body
from app.idempotency import idempotent, shown_once
from app.models import PersonalToken
from app.pagination import page_response, paginate, sort_parser
from app.personal_tokens.scopes import LOGIN_ONLY
from app.personal_tokens.service import create_token
from app.schemas.personal_token import personal_token_schema, personal_token_update_schema, personal_tokens_schema

TOKEN_SORTS = {"created_at": PersonalToken.created_at, "id": PersonalToken.id}
token_list_parser = sort_parser(TOKEN_SORTS, "-created_at")
TAGS = ["personal tokens"]
REPLAY_NOTE = (
    "A retry with the same `Idempotency-Key` creates no second token and replays this answer with "
    "`token: null`: the secret is never stored, not even for a replay. A script that lost the first "
    "answer deletes that token and creates another."
)


def own_token(token_id):
    """The caller's unrevoked token `token_id`, or 404."""
    personal = db.session.get(PersonalToken, token_id)
    if personal is None or personal.user_id != current_user.id or personal.revoked_at is not None:
        abort(404, "No such personal access token.")
    return personal


def token_response(personal, status=200):
    body = personal_token_schema.dump(personal)
    return body, status, {"ETag": representation_etag(body)}


class PersonalTokenList(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required()]

    @doc(
        "List the caller's personal access tokens (expired ones too, until deleted); never the secret",
        query=token_list_parser,
        responses={200: Page(personal_token_schema)},
        errors=(400, 403),
        tags=TAGS,
    )
    def get(self):
        """List the caller's personal access tokens."""
        args = token_list_parser.parse_args()
        query = select(PersonalToken).where(
            PersonalToken.user_id == current_user.id, PersonalToken.revoked_at.is_(None)
        )
        rows, cursor = paginate(query, args["sort"], TOKEN_SORTS, PersonalToken.id, args, db.session)
        body, headers = page_response(personal_tokens_schema.dump(rows), cursor)
        return body, 200, headers

    @doc(
        "Create a personal access token; the answer's `token` is the secret, shown this once",
        body=personal_token_schema,
        responses={201: personal_token_schema},
        errors=(403,),
        tags=TAGS,
        description=REPLAY_NOTE,
    )
    @idempotent
    def post(self):
        """Create a personal access token and show its secret, once."""
        data = load_body(personal_token_schema)
        personal, secret = create_token(current_user.id, data["name"], data["scopes"], data["expires_at"])
        db.session.commit()
        body = personal_token_schema.dump(personal)
        return {**body, "token": shown_once(secret)}, 201, {"Location": body["url"]}


class PersonalTokenItem(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required()]

    @doc("Show one of the caller's personal access tokens", responses={200: personal_token_schema}, tags=TAGS)
    def get(self, token_id):
        """Return one personal access token (never its secret)."""
        body, status, headers = token_response(own_token(token_id))
        return not_modified(headers["ETag"]) or (body, status, headers)

    @doc(
        "Rename a personal access token",
        body=personal_token_update_schema,
        responses={200: personal_token_schema},
        tags=TAGS,
    )
    def patch(self, token_id):
        """Rename a personal access token."""
        personal = own_token(token_id)
        require_match(representation_etag(personal_token_schema.dump(personal)))
        personal.name = load_body(personal_token_update_schema)["name"]
        db.session.commit()
        return token_response(personal)

    @doc("Delete a personal access token; it stops working at once", responses={204: None}, tags=TAGS)
    def delete(self, token_id):
        """Revoke a personal access token."""
        personal = own_token(token_id)
        require_match(representation_etag(personal_token_schema.dump(personal)))
        PersonalToken.revoke_where(PersonalToken.id == personal.id)
        db.session.commit()
        return Response(status=204)
