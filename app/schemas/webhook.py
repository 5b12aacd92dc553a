"""Webhook and delivery schemas."""

from flask import current_app
from marshmallow import ValidationError, fields, post_dump, post_load, validate, validates

from app.models import EVENTS
from app.schemas.base import AbsoluteUrl, ResourceSchema, StrictSchema, UTCDateTime
from app.schemas.fields import MAX_ID, StrictBoolean
from app.webhooks import ssrf


def _events(**kwargs):
    return fields.List(
        fields.String(validate=validate.OneOf(EVENTS)),
        validate=validate.Length(min=1, max=len(EVENTS) * 4),
        metadata={"description": "Events to receive: " + ", ".join(EVENTS) + "."},
        **kwargs,
    )


def _target_url(**kwargs):
    return fields.String(
        validate=validate.Length(min=1, max=ssrf.MAX_URL_LENGTH),
        metadata={
            "description": "Where deliveries are POSTed: https on a public address "
            "(http, or any address, only for hosts in WEBHOOK_ALLOWED_HOSTS)."
        },
        **kwargs,
    )


class WebhookRules:
    """Validation shared by create and update: a safe target URL, distinct events in a fixed order."""

    @validates("target_url")
    def check_target_url(self, value, **kwargs):
        try:
            ssrf.check(value, current_app.config["WEBHOOK_ALLOWED_HOSTS"])
        except ssrf.UnsafeURL as e:
            raise ValidationError(str(e)) from None

    @post_load
    def tidy(self, data, **kwargs):
        if "events" in data:
            data["events"] = [event for event in EVENTS if event in data["events"]]
        if "target_url" in data:
            data["target_url"] = data["target_url"].strip()
        return data


class WebhookSchema(WebhookRules, ResourceSchema):
    url = AbsoluteUrl("api.webhook", webhook_id="id")
    deliveries_url = AbsoluteUrl("api.webhook_deliveries", webhook_id="id")
    target_url = _target_url(required=True)
    events = _events(required=True)
    list_id = fields.Integer(
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "One list the caller is a member of; null or absent: every list of the caller."},
    )
    active = StrictBoolean(
        load_default=True,
        metadata={
            "description": "Whether events are recorded; false once the URL answered 410 or the list was deleted."
        },
    )

    @post_dump(pass_original=True)
    def effective_active(self, data, original, **kwargs):
        data["active"] = original.enabled
        return data


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        dump_only=True,
        metadata={"description": "The signing secret (whsec_ + base64 key); shown in this answer only."},
    )


class WebhookUpdateSchema(WebhookRules, StrictSchema):
    target_url = _target_url()
    events = _events()
    active = StrictBoolean()


class DeliverySchema(ResourceSchema):
    url = AbsoluteUrl("api.webhook_delivery", webhook_id="webhook_id", delivery_id="id")
    webhook_id = fields.Integer(dump_only=True)
    message_id = fields.String(dump_only=True, metadata={"description": "The webhook-id header of every attempt."})
    event = fields.String(dump_only=True)
    status = fields.String(dump_only=True, metadata={"description": "pending, delivered or failed."})
    attempts = fields.Integer(dump_only=True)
    last_status_code = fields.Integer(dump_only=True, allow_none=True)
    last_error = fields.String(dump_only=True, allow_none=True)
    next_attempt_at = UTCDateTime(dump_only=True, allow_none=True)
    payload = fields.Dict(dump_only=True, metadata={"description": "The body that is POSTed."})


webhook_schema = WebhookSchema()
webhook_created_schema = WebhookCreatedSchema()
webhook_update_schema = WebhookUpdateSchema(partial=True)
delivery_schema = DeliverySchema()
delivery_summary_schema = DeliverySchema(exclude=("payload",))
