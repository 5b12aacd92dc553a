"""Ids are never reused, so an old URL never reaches a new object."""

from tests.conftest import PG_URL


def test_deleted_todo_id_is_not_reused(client, auth):
    user = auth.user()
    h = user.headers
    list_id = client.post("/api/v1/lists", json={"name": "L"}, headers=h).json["id"]
    first = client.post(f"/api/v1/lists/{list_id}/todos", json={"title": "a"}, headers=h).json["id"]
    assert client.delete(f"/api/v1/todos/{first}", headers=h).status_code == 204
    second = client.post(f"/api/v1/lists/{list_id}/todos", json={"title": "b"}, headers=h).json["id"]
    assert second > first
    assert client.get(f"/api/v1/todos/{first}", headers=h).status_code == 404


def test_sqlite_tables_use_autoincrement(app):
    if PG_URL:
        return  # PostgreSQL sequences never hand out an id twice
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        sql = db.session.execute(text("SELECT sql FROM sqlite_master WHERE name = 'todos'")).scalar_one()
    assert "AUTOINCREMENT" in sql
