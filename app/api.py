"""The one routing table: every endpoint of the service, in one place."""

from flask import Blueprint

from app.http import ProblemApi, output_json
from app.metrics import Metrics
from app.resources import auth, docs, lists, members, ops, share_links, shared, tags, todos, users, webhooks

# Ids in paths are 32-bit positive integers: anything else matches no route (404).
ID = "int(min=1, max=2147483647)"

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
api = ProblemApi(api_bp)
api.representations = {"application/json": output_json}

ops_bp = Blueprint("ops", __name__)
ops_api = ProblemApi(ops_bp)
ops_api.representations = {"application/json": output_json}

# Operations
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

# Users
api.add_resource(users.Me, "/users/me", endpoint="me")
api.add_resource(users.MePassword, "/users/me/password", endpoint="me_password")
api.add_resource(users.UserList, "/users", endpoint="users")
api.add_resource(users.UserAdmin, f"/users/<{ID}:user_id>", endpoint="user")

# Lists, members, todos, tags
api.add_resource(lists.TodoLists, "/lists", endpoint="lists")
api.add_resource(lists.TodoListItem, f"/lists/<{ID}:list_id>", endpoint="list")
api.add_resource(members.Members, f"/lists/<{ID}:list_id>/members", endpoint="members")
api.add_resource(members.MemberItem, f"/lists/<{ID}:list_id>/members/<{ID}:user_id>", endpoint="member")
api.add_resource(todos.ListTodos, f"/lists/<{ID}:list_id>/todos", endpoint="list_todos")
api.add_resource(todos.Todos, "/todos", endpoint="todos")
api.add_resource(todos.TodoItem, f"/todos/<{ID}:todo_id>", endpoint="todo")
api.add_resource(tags.Tags, "/tags", endpoint="tags")

# Share links
api.add_resource(share_links.ShareLinkList, f"/lists/<{ID}:list_id>/share-links", endpoint="share_links")
api.add_resource(share_links.ShareLink, f"/lists/<{ID}:list_id>/share-links/<{ID}:link_id>", endpoint="share_link")
api.add_resource(shared.SharedTodoList, "/shared/<string:token>/todos", endpoint="shared_todos")
api.add_resource(shared.SharedTodo, f"/shared/<string:token>/todos/<{ID}:todo_id>", endpoint="shared_todo")

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


def register_api(app):
    """Mount the API and operations blueprints."""
    app.register_blueprint(api_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(docs.assets_bp)
