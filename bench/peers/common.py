"""What the peers share: the database URL and the todo's public fields."""

import os

# The todo as `GET /todos/<id>` answers it; both peers check their schema against this.
TODO_FIELDS = (
    "id",
    "url",
    "list_id",
    "title",
    "notes",
    "completed",
    "completed_at",
    "due_at",
    "priority",
    "tags",
    "assignee_id",
    "order",
    "created_by",
    "created_at",
    "updated_at",
)


def database_url(driver="psycopg"):
    url = os.environ["DATABASE_URL"]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return f"postgresql+{driver}://" + url[len(prefix) :]
    return url
