"""The data model: one module per aggregate."""

from app.models.change import Change
from app.models.email_token import TOKEN_PURPOSES, EmailToken
from app.models.idempotency import IdempotencyKey
from app.models.invitation import Invitation
from app.models.job import JOB_KINDS, JOB_STATUSES, Job
from app.models.mail import OutboxMail
from app.models.personal_token import PersonalToken
from app.models.reminder import LiveReminder, ReminderCounter, ReminderFired, ReminderSchedule
from app.models.share_link import ShareLink
from app.models.todo import Todo, TodoTag
from app.models.todo_list import MEMBER_ROLES, Membership, TodoList
from app.models.user import ROLES, AuthSession, User
from app.models.webhook import EVENTS, Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "EVENTS",
    "JOB_KINDS",
    "JOB_STATUSES",
    "MEMBER_ROLES",
    "ROLES",
    "TOKEN_PURPOSES",
    "AuthSession",
    "EmailToken",
    "Change",
    "IdempotencyKey",
    "Invitation",
    "Job",
    "LiveReminder",
    "Membership",
    "PersonalToken",
    "OutboxMail",
    "ReminderCounter",
    "ReminderFired",
    "ReminderSchedule",
    "ShareLink",
    "Todo",
    "TodoList",
    "TodoTag",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
]
