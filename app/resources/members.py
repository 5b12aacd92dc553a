"""Members of a list: `Members` (/lists/<id>/members) and `MemberItem` (/lists/<id>/members/<user_id>)."""

from flask import Response
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.apidoc import Page, doc
from app.conditional import not_modified, representation_etag, require_match
from app.errors import abort
from app.extensions import db
from app.http import load_body
from app.idempotency import idempotent
from app.models import Membership
from app.pagination import page_result, paginate, sort_parser
from app.permissions import authorize, membership_for
from app.schemas.member import member_create_schema, member_schema
from app.services import members

MEMBER_SORTS = {"user_id": Membership.user_id, "created_at": Membership.created_at, "role": Membership.role}
member_parser = sort_parser(MEMBER_SORTS, "created_at")


def _member(list_id, user_id):
    """Return a member of a list the caller can see, or answer 404."""
    membership = db.session.execute(
        select(Membership)
        .options(joinedload(Membership.user))
        .where(Membership.list_id == list_id, Membership.user_id == user_id)
    ).scalar_one_or_none()
    if membership is None:
        abort(404, "No such member.")
    return membership


def _dump(membership, status=200, headers=None):
    body = member_schema.dump(membership)
    return body, status, {"ETag": representation_etag(body), **(headers or {})}


class Members(Resource):
    scope = "lists"
    method_decorators = [jwt_required()]

    @doc(
        "List a list's members (viewer+).",
        query=member_parser,
        responses={200: Page(member_schema)},
        errors=(400, 404),
        tags=["members"],
    )
    def get(self, list_id):
        """List the members of a list."""
        membership_for(list_id)
        args = member_parser.parse_args()
        query = select(Membership).options(joinedload(Membership.user)).where(Membership.list_id == list_id)
        rows, cursor = paginate(query, args["sort"], MEMBER_SORTS, Membership.user_id, args, db.session)
        return page_result(member_schema.dump(rows, many=True), cursor)

    @doc(
        "Add a member by email (owner).",
        body=member_create_schema,
        responses={201: member_schema},
        errors=(400, 403, 404, 409, 415, 422),
        tags=["members"],
    )
    @idempotent
    def post(self, list_id):
        """Add a member."""
        membership_for(list_id, "manage_members")
        data = load_body(member_create_schema)
        membership = members.add_member(list_id, data["email"], data["role"])
        body, status, headers = _dump(membership, 201)  # flushed by add_member; answered before the commit
        db.session.commit()
        return body, status, {**headers, "Location": body["url"]}


class MemberItem(Resource):
    scope = "lists"
    method_decorators = [jwt_required()]

    @doc("Get a member (viewer+).", responses={200: member_schema, 304: None}, errors=(404,), tags=["members"])
    def get(self, list_id, user_id):
        """Return one member."""
        membership_for(list_id)
        body, status, headers = _dump(_member(list_id, user_id))
        return not_modified(headers["ETag"]) or (body, status, headers)

    @doc(
        "Change a member's role (owner); the last owner cannot be demoted.",
        body=member_schema,
        responses={200: member_schema},
        errors=(400, 403, 404, 409, 412, 415, 422),
        tags=["members"],
    )
    def patch(self, list_id, user_id):
        """Change a member's role."""
        membership_for(list_id, "manage_members")
        membership = _member(list_id, user_id)
        require_match(_dump(membership)[2]["ETag"])
        members.change_role(membership, load_body(member_schema)["role"])
        answer = _dump(membership)  # flushed by change_role; a member removed right after cannot make this a 500
        db.session.commit()
        return answer

    @doc(
        "Remove a member (owner), or leave the list (any member).",
        responses={204: None},
        errors=(403, 404, 409, 412),
        tags=["members"],
    )
    def delete(self, list_id, user_id):
        """Remove a member, or leave."""
        mine = membership_for(list_id)
        if user_id != current_user.id:
            authorize(mine, "manage_members")
        membership = _member(list_id, user_id)
        require_match(_dump(membership)[2]["ETag"])
        members.remove_member(membership)
        db.session.commit()
        return Response(status=204)
