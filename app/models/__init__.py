"""The data model: one module per aggregate."""

from app.models.idempotency import IdempotencyKey
from app.models.share_link import ShareLink
from app.models.todo import Todo, TodoTag
from app.models.todo_list import MEMBER_ROLES, Membership, TodoList
from app.models.user import ROLES, AuthSession, User
from app.models.webhook import EVENTS, Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "EVENTS",
    "MEMBER_ROLES",
    "ROLES",
    "AuthSession",
    "IdempotencyKey",
    "Membership",
    "ShareLink",
    "Todo",
    "TodoList",
    "TodoTag",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
]
