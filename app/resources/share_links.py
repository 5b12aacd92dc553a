"""Share links of a list, managed by its owners."""

from flask import Response
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource
from sqlalchemy import select

from app import models, sharing
from app.apidoc import Page, doc
from app.conditional import not_modified, representation_etag, require_match
from app.errors import abort
from app.extensions import db
from app.http import external_url, load_body
from app.idempotency import idempotent, shown_once
from app.pagination import page_parser, page_response, paginate
from app.permissions import membership_for
from app.schemas.share_link import share_link_schema, share_links_schema

link_page_parser = page_parser.copy()  # newest first; no sort: lists hold a handful of links


def owner_of(list_id):
    """Return the caller's membership on a list they own; 404 if they cannot see it, 403 if not an owner."""
    membership = membership_for(list_id)
    if not membership.allows("owner"):
        abort(403, "Only an owner can manage share links.")
    return membership


def link_of(list_id, link_id):
    """Return one share link of a list, or answer 404."""
    link = db.session.execute(
        select(models.ShareLink).where(models.ShareLink.id == link_id, models.ShareLink.list_id == list_id)
    ).scalar_one_or_none()
    if link is None:
        abort(404, "No such share link.")
    return link


class ShareLinkList(Resource):
    scope = "lists"
    method_decorators = [jwt_required()]

    @doc(
        "List the share links of a list (owner); `url` is null: the token is shown only at creation.",
        query=link_page_parser,
        responses={200: Page(share_link_schema)},
        errors=(400, 403, 404),
        tags=["share links"],
    )
    def get(self, list_id):
        """List a list's share links, newest first."""
        owner_of(list_id)
        args = link_page_parser.parse_args()
        query = select(models.ShareLink).where(models.ShareLink.list_id == list_id)
        rows, cursor = paginate(query, "-id", {"id": models.ShareLink.id}, models.ShareLink.id, args, db.session)
        body, headers = page_response(share_links_schema.dump(rows), cursor)
        return body, 200, headers

    @doc(
        "Create a share link (owner); the answer's `url` carries the secret token, shown this once.",
        body=share_link_schema,
        responses={201: share_link_schema},
        errors=(400, 403, 404, 413, 415, 422),
        tags=["share links"],
    )
    @idempotent
    def post(self, list_id):
        """Create a share link and show its URL, once."""
        owner_of(list_id)
        data = load_body(share_link_schema)
        link, token = sharing.create_link(list_id, data["role"], data["expires_at"], current_user.id)
        db.session.commit()
        link.url = external_url("api.shared_todos", token=shown_once(token))
        location = external_url("api.share_link", list_id=list_id, link_id=link.id)
        return share_link_schema.dump(link), 201, {"Location": location}


class ShareLink(Resource):
    scope = "lists"
    method_decorators = [jwt_required()]

    @doc(
        "Return one share link (owner); `url` is null.",
        responses={200: share_link_schema},
        errors=(403, 404),
        tags=["share links"],
    )
    def get(self, list_id, link_id):
        """Return one share link."""
        owner_of(list_id)
        body = share_link_schema.dump(link_of(list_id, link_id))
        etag = representation_etag(body)
        return not_modified(etag) or (body, 200, {"ETag": etag})

    @doc(
        "Revoke a share link (owner); it stops working at once.",
        responses={204: None},
        errors=(403, 404, 412),
        tags=["share links"],
    )
    def delete(self, list_id, link_id):
        """Revoke a share link."""
        owner_of(list_id)
        link = link_of(list_id, link_id)
        require_match(representation_etag(share_link_schema.dump(link)))
        db.session.delete(link)
        db.session.commit()
        return Response(status=204)
