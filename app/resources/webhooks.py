"""Webhooks: subscriptions (/webhooks), their deliveries, ping and redelivery."""

from flask import Response, current_app
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource
from sqlalchemy import select

from app.apidoc import Page, doc
from app.conditional import not_modified, representation_etag, require_match
from app.extensions import db
from app.http import load_body
from app.idempotency import idempotent
from app.models import Webhook, WebhookDelivery
from app.pagination import page_result, paginate, sort_parser
from app.ratelimit import limiter, rate_limit_key
from app.schemas.webhook import (
    delivery_schema,
    delivery_summary_schema,
    webhook_created_schema,
    webhook_schema,
    webhook_update_schema,
)
from app.webhooks import service

# Ids grow with creation time, so "created_at" pages by the primary key (and its index).
WEBHOOK_SORTS = {"created_at": Webhook.id}
DELIVERY_SORTS = {"created_at": WebhookDelivery.id}
webhook_parser = sort_parser(WEBHOOK_SORTS, "created_at")
delivery_parser = sort_parser(DELIVERY_SORTS, "-created_at")
delivery_parser.add_argument(
    "status",
    choices=("pending", "delivered", "failed"),
    location="args",
    help="status must be one of: pending, delivered, failed",
)
TAGS = ["webhooks"]


def sends_limit():
    """Ping and redelivery per user, WEBHOOK_SEND_RATE_LIMIT of the running app (10 per minute)."""
    return current_app.config.get("WEBHOOK_SEND_RATE_LIMIT", "10 per minute")


limit_sends = limiter.shared_limit(sends_limit, scope="webhook-sends", key_func=rate_limit_key)


def _dump(webhook, status=200, headers=None):
    body = webhook_schema.dump(webhook)
    return body, status, {"ETag": representation_etag(body), **(headers or {})}


class WebhookList(Resource):
    scope = "webhooks"
    method_decorators = [jwt_required()]

    @doc("List your webhooks.", query=webhook_parser, responses={200: Page(webhook_schema)}, errors=(400,), tags=TAGS)
    def get(self):
        """List the caller's webhooks."""
        args = webhook_parser.parse_args()
        query = select(Webhook).where(Webhook.user_id == current_user.id)
        rows, cursor = paginate(query, args["sort"], WEBHOOK_SORTS, Webhook.id, args, db.session)
        return page_result(webhook_schema.dump(rows, many=True), cursor)

    @doc(
        "Subscribe a URL to events; the answer carries the signing `secret`, this once.",
        body=webhook_schema,
        responses={201: webhook_created_schema},
        errors=(400, 404, 409, 413, 415, 422),
        tags=TAGS,
    )
    @idempotent
    def post(self):
        """Create a webhook."""
        webhook = service.create(current_user.id, load_body(webhook_schema))
        db.session.commit()
        body = webhook_created_schema.dump(webhook)
        return body, 201, {"Location": body["url"]}


class WebhookItem(Resource):
    scope = "webhooks"
    method_decorators = [jwt_required()]

    @doc("Get a webhook.", responses={200: webhook_schema, 304: None}, errors=(404,), tags=TAGS)
    def get(self, webhook_id):
        """Return one webhook."""
        body, status, headers = _dump(service.find(current_user.id, webhook_id))
        return not_modified(headers["ETag"]) or (body, status, headers)

    @doc(
        "Change a webhook's URL, events or active flag.",
        body=webhook_update_schema,
        responses={200: webhook_schema},
        errors=(400, 404, 409, 412, 413, 415, 422),
        tags=TAGS,
    )
    def patch(self, webhook_id):
        """Change a webhook."""
        webhook = service.find(current_user.id, webhook_id)
        require_match(_dump(webhook)[2]["ETag"])
        service.update_webhook(webhook, load_body(webhook_update_schema))
        db.session.commit()
        return _dump(webhook)

    @doc("Delete a webhook and its deliveries.", responses={204: None}, errors=(404, 412), tags=TAGS)
    def delete(self, webhook_id):
        """Delete a webhook."""
        webhook = service.find(current_user.id, webhook_id)
        require_match(_dump(webhook)[2]["ETag"])
        db.session.delete(webhook)
        db.session.commit()
        return Response(status=204)


class WebhookPing(Resource):
    scope = "webhooks"
    method_decorators = [jwt_required()]

    @doc("Queue a `ping` delivery to the webhook.", responses={202: delivery_schema}, errors=(404, 429), tags=TAGS)
    @idempotent
    @limit_sends
    def post(self, webhook_id):
        """Queue a ping."""
        delivery = service.ping(service.find(current_user.id, webhook_id))
        db.session.commit()
        body = delivery_schema.dump(delivery)
        return body, 202, {"Location": body["url"]}


class DeliveryList(Resource):
    scope = "webhooks"
    method_decorators = [jwt_required()]

    @doc(
        "List a webhook's deliveries, newest first; filter by `status`.",
        query=delivery_parser,
        responses={200: Page(delivery_summary_schema)},
        errors=(400, 404),
        tags=TAGS,
    )
    def get(self, webhook_id):
        """List a webhook's deliveries."""
        webhook = service.find(current_user.id, webhook_id)
        args = delivery_parser.parse_args()
        query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
        if args["status"]:
            query = query.where(WebhookDelivery.status == args["status"])
        rows, cursor = paginate(query, args["sort"], DELIVERY_SORTS, WebhookDelivery.id, args, db.session)
        return page_result(delivery_summary_schema.dump(rows, many=True), cursor)


class Delivery(Resource):
    scope = "webhooks"
    method_decorators = [jwt_required()]

    @doc("Get a delivery with its payload.", responses={200: delivery_schema}, errors=(404,), tags=TAGS)
    def get(self, webhook_id, delivery_id):
        """Return one delivery."""
        webhook = service.find(current_user.id, webhook_id)
        return delivery_schema.dump(service.find_delivery(webhook, delivery_id))


class DeliveryRedeliver(Resource):
    scope = "webhooks"
    method_decorators = [jwt_required()]

    @doc(
        "Queue a delivery again: same webhook-id, a fresh set of attempts.",
        responses={202: delivery_schema},
        errors=(404, 429),
        tags=TAGS,
    )
    @idempotent
    @limit_sends
    def post(self, webhook_id, delivery_id):
        """Queue a delivery again."""
        webhook = service.find(current_user.id, webhook_id)
        delivery = service.redeliver(service.find_delivery(webhook, delivery_id))
        db.session.commit()
        body = delivery_schema.dump(delivery)
        return body, 202, {"Location": body["url"]}
