"""Invitations to a list by email, managed by its owners, accepted by the invited account."""

from flask import Response
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource
from sqlalchemy import select

from app.apidoc import Page, doc
from app.conditional import not_modified, representation_etag, require_match
from app.errors import abort
from app.extensions import db
from app.http import load_body
from app.idempotency import idempotent
from app.models import Invitation
from app.pagination import page_parser, page_response, paginate
from app.permissions import membership_for
from app.personal_tokens.scopes import LOGIN_ONLY
from app.schemas.invitation import invitation_accept_schema, invitation_schema, invitations_schema
from app.schemas.member import member_schema
from app.services import invitations

invitation_page_parser = page_parser.copy()  # newest first


def invitation_of(list_id, invitation_id):
    """Return one invitation of a list, or answer 404."""
    invitation = db.session.execute(
        select(Invitation).where(Invitation.id == invitation_id, Invitation.list_id == list_id)
    ).scalar_one_or_none()
    if invitation is None:
        abort(404, "No such invitation.")
    return invitation


class InvitationList(Resource):
    scope = "lists"
    method_decorators = [jwt_required()]

    @doc(
        "List a list's pending invitations, newest first (owner)",
        query=invitation_page_parser,
        responses={200: Page(invitation_schema)},
        errors=(400, 403, 404),
        tags=["invitations"],
        description="Accepted invitations are gone; expired ones stay until deleted (see `expires_at`).",
    )
    def get(self, list_id):
        """List a list's invitations."""
        membership_for(list_id, "manage_members")
        args = invitation_page_parser.parse_args()
        query = select(Invitation).where(Invitation.list_id == list_id)
        rows, cursor = paginate(query, "-id", {"id": Invitation.id}, Invitation.id, args, db.session)
        body, headers = page_response(invitations_schema.dump(rows), cursor)
        return body, 200, headers

    @doc(
        "Invite an email address to a list (owner); the invitation is mailed to it",
        body=invitation_schema,
        responses={201: invitation_schema},
        errors=(403, 404, 409, 422),
        tags=["invitations"],
        description="The answer is the same whether or not the address has an account. The mail carries a link "
        "valid 7 days, accepted with POST /invitations/accept by a login whose verified email is this address. "
        "A member of the list already having the address is a 409; inviting an address again replaces its "
        "earlier invitation (whose link stops working).",
    )
    @idempotent
    def post(self, list_id):
        """Invite an address."""
        membership_for(list_id, "manage_members")
        data = load_body(invitation_schema)
        invitation = invitations.invite(list_id, data["email"], data["role"], current_user.id)
        db.session.commit()
        body = invitation_schema.dump(invitation)
        return body, 201, {"Location": body["url"]}


class InvitationItem(Resource):
    scope = "lists"
    method_decorators = [jwt_required()]

    @doc("Show one invitation (owner)", responses={200: invitation_schema}, errors=(403, 404), tags=["invitations"])
    def get(self, list_id, invitation_id):
        """Return one invitation."""
        membership_for(list_id, "manage_members")
        body = invitation_schema.dump(invitation_of(list_id, invitation_id))
        etag = representation_etag(body)
        return not_modified(etag) or (body, 200, {"ETag": etag})

    @doc(
        "Withdraw an invitation (owner); its link stops working",
        responses={204: None},
        errors=(403, 404, 412),
        tags=["invitations"],
    )
    def delete(self, list_id, invitation_id):
        """Withdraw an invitation."""
        membership_for(list_id, "manage_members")
        invitation = invitation_of(list_id, invitation_id)
        require_match(representation_etag(invitation_schema.dump(invitation)))
        db.session.delete(invitation)
        db.session.commit()
        return Response(status=204)


class InvitationAccept(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required()]

    @doc(
        "Accept an invitation: join its list with the invited role",
        body=invitation_accept_schema,
        responses={200: member_schema},
        errors=(403, 409, 422),
        tags=["invitations"],
        description="Needs a login whose verified email is the invited address: another account, or an "
        "unverified one, is a 403. An invalid, expired, withdrawn or accepted invitation is a 422 keyed "
        "`token`; a caller who is already a member gets a 409. The answer is the new membership.",
    )
    def post(self):
        """Join a list by invitation."""
        membership = invitations.accept(load_body(invitation_accept_schema)["token"], current_user)
        db.session.commit()
        return member_schema.dump(membership), 200
