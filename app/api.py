"""The one routing table: every endpoint of the service, in one place."""

from flask import Blueprint

from app.http import ProblemApi, output_json
from app.metrics import Metrics
from app.resources import (
    accounts,
    auth,
    changes,
    docs,
    invitations,
    jobs,
    lists,
    members,
    ops,
    personal_tokens,
    recurrence,
    share_links,
    shared,
    tags,
    todos,
    users,
    webhooks,
)
from app.web import web_bp

# Ids in paths are 32-bit positive integers: anything else matches no route (404).
ID = "int(min=1, max=2147483647)"
# A share token is 43 characters (app/sharing.py); a longer path segment is no token, and a 404.
TOKEN = "string(maxlength=64)"

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
api = ProblemApi(api_bp)
api.representations = {"application/json": output_json}

ops_bp = Blueprint("ops", __name__)
ops_api = ProblemApi(ops_bp)
ops_api.representations = {"application/json": output_json}

# Operations (`/` points at the docs until the web app takes it over)
ops_api.add_resource(ops.Health, "/healthz", endpoint="healthz")
ops_api.add_resource(ops.Ready, "/readyz", endpoint="readyz")

# Documentation and metrics
ops_api.add_resource(Metrics, "/metrics", endpoint="metrics")
ops_api.add_resource(docs.Docs, "/docs", endpoint="docs")
api.add_resource(docs.OpenApiDocument, "/openapi.json", endpoint="openapi")

# Authentication
api.add_resource(auth.Register, "/auth/register", endpoint="register")
api.add_resource(auth.Login, "/auth/login", endpoint="login")
api.add_resource(auth.Refresh, "/auth/refresh", endpoint="refresh")
api.add_resource(auth.Logout, "/auth/logout", endpoint="logout")
api.add_resource(auth.LogoutAll, "/auth/logout-all", endpoint="logout_all")
api.add_resource(auth.SessionList, "/auth/sessions", endpoint="sessions")
api.add_resource(auth.Session, f"/auth/sessions/<{ID}:session_id>", endpoint="session")
api.add_resource(personal_tokens.PersonalTokenList, "/auth/tokens", endpoint="personal_tokens")
api.add_resource(personal_tokens.PersonalTokenItem, f"/auth/tokens/<{ID}:token_id>", endpoint="personal_token")

# Accounts by email: password reset, verification, email change
api.add_resource(accounts.PasswordReset, "/auth/password-reset", endpoint="password_reset")
api.add_resource(accounts.PasswordResetConfirm, "/auth/password-reset/confirm", endpoint="password_reset_confirm")
api.add_resource(accounts.VerifyEmail, "/auth/verify-email", endpoint="verify_email")
api.add_resource(accounts.VerifyEmailResend, "/auth/verify-email/resend", endpoint="verify_email_resend")
api.add_resource(accounts.ConfirmEmailChange, "/auth/confirm-email-change", endpoint="confirm_email_change")

# Users
api.add_resource(users.Me, "/users/me", endpoint="me")
api.add_resource(users.MePassword, "/users/me/password", endpoint="me_password")
api.add_resource(users.MeEmail, "/users/me/email", endpoint="me_email")
api.add_resource(users.UserList, "/users", endpoint="users")
api.add_resource(users.UserAdmin, f"/users/<{ID}:user_id>", endpoint="user")
api.add_resource(users.UserPasswordReset, f"/users/<{ID}:user_id>/password-reset", endpoint="user_password_reset")

# Lists, members, todos, tags
api.add_resource(lists.TodoLists, "/lists", endpoint="lists")
api.add_resource(lists.TodoListItem, f"/lists/<{ID}:list_id>", endpoint="list")
api.add_resource(members.Members, f"/lists/<{ID}:list_id>/members", endpoint="members")
api.add_resource(members.MemberItem, f"/lists/<{ID}:list_id>/members/<{ID}:user_id>", endpoint="member")
api.add_resource(todos.ListTodos, f"/lists/<{ID}:list_id>/todos", endpoint="list_todos")
api.add_resource(todos.Todos, "/todos", endpoint="todos")
api.add_resource(todos.TodoItem, f"/todos/<{ID}:todo_id>", endpoint="todo")
api.add_resource(recurrence.TodoOccurrences, f"/todos/<{ID}:todo_id>/occurrences", endpoint="todo_occurrences")
api.add_resource(tags.Tags, "/tags", endpoint="tags")

# Share links
api.add_resource(share_links.ShareLinkList, f"/lists/<{ID}:list_id>/share-links", endpoint="share_links")
api.add_resource(share_links.ShareLink, f"/lists/<{ID}:list_id>/share-links/<{ID}:link_id>", endpoint="share_link")
api.add_resource(shared.SharedTodoList, f"/shared/<{TOKEN}:token>/todos", endpoint="shared_todos")
api.add_resource(shared.SharedTodo, f"/shared/<{TOKEN}:token>/todos/<{ID}:todo_id>", endpoint="shared_todo")
api.add_resource(recurrence.SharedCalendar, f"/shared/<{TOKEN}:token>/calendar.ics", endpoint="shared_calendar")

# Invitations
INVITATIONS = f"/lists/<{ID}:list_id>/invitations"
api.add_resource(invitations.InvitationList, INVITATIONS, endpoint="invitations")
api.add_resource(invitations.InvitationItem, f"{INVITATIONS}/<{ID}:invitation_id>", endpoint="invitation")
api.add_resource(invitations.InvitationAccept, "/invitations/accept", endpoint="invitation_accept")
# Sync: change feed and live events
api.add_resource(changes.Changes, "/changes", endpoint="changes")
api.add_resource(changes.Events, "/events", endpoint="events")

# Webhooks
WEBHOOK = f"/webhooks/<{ID}:webhook_id>"
api.add_resource(webhooks.WebhookList, "/webhooks", endpoint="webhooks")
api.add_resource(webhooks.WebhookItem, WEBHOOK, endpoint="webhook")
api.add_resource(webhooks.WebhookPing, f"{WEBHOOK}/ping", endpoint="webhook_ping")
api.add_resource(webhooks.DeliveryList, f"{WEBHOOK}/deliveries", endpoint="webhook_deliveries")
api.add_resource(webhooks.Delivery, f"{WEBHOOK}/deliveries/<{ID}:delivery_id>", endpoint="webhook_delivery")
api.add_resource(
    webhooks.DeliveryRedeliver, f"{WEBHOOK}/deliveries/<{ID}:delivery_id>/redeliver", endpoint="webhook_redeliver"
)

# Exports and imports (background jobs)
api.add_resource(jobs.ExportList, "/exports", endpoint="exports")
api.add_resource(jobs.ExportItem, f"/exports/<{ID}:export_id>", endpoint="export")
api.add_resource(jobs.ExportDownload, f"/exports/<{ID}:export_id>/download", endpoint="export_download")
api.add_resource(jobs.ImportList, "/imports", endpoint="imports")
api.add_resource(jobs.ImportItem, f"/imports/<{ID}:import_id>", endpoint="import")


def register_api(app):
    """Mount the API, operations and web app blueprints."""
    app.register_blueprint(api_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(docs.assets_bp)
    app.register_blueprint(web_bp)  # the web app at `/`: static files, outside the API document
