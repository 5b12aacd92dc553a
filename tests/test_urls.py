"""Absolute URLs in bodies: built from one url_for per request, the same text url_for gives for each object."""

import pytest

from tests.conftest import make_config

PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "todos.example.org", "X-Forwarded-Port": "8443"}


@pytest.fixture
def app_config(database_url, request):
    return make_config(database_url, **getattr(request, "param", {}))


def _list_with_todos(client, user, headers, count=3):
    todo_list = client.post("/api/v1/lists", json={"name": "Groceries"}, headers={**user.headers, **headers}).json
    for i in range(count):
        r = client.post(
            f"/api/v1/lists/{todo_list['id']}/todos", json={"title": f"t{i}"}, headers={**user.headers, **headers}
        )
        assert r.status_code == 201
    return todo_list


def test_urls_of_every_item_in_a_page(client, auth):
    user = auth.user()
    todo_list = _list_with_todos(client, user, {})
    assert todo_list["url"] == f"http://localhost/api/v1/lists/{todo_list['id']}"
    items = client.get(f"/api/v1/lists/{todo_list['id']}/todos", headers=user.headers).json["items"]
    assert [t["url"] for t in items] == [f"http://localhost/api/v1/todos/{t['id']}" for t in items]
    members = client.get(f"/api/v1/lists/{todo_list['id']}/members", headers=user.headers).json["items"]
    assert [m["url"] for m in members] == [f"http://localhost/api/v1/lists/{todo_list['id']}/members/{user.id}"]


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}], indirect=True)
def test_urls_behind_a_trusted_proxy(client, auth):
    user = auth.user()
    todo_list = _list_with_todos(client, user, PROXY)
    items = client.get(f"/api/v1/lists/{todo_list['id']}/todos", headers={**user.headers, **PROXY}).json["items"]
    assert len(items) == 3
    assert [t["url"] for t in items] == [f"https://todos.example.org:8443/api/v1/todos/{t['id']}" for t in items]
    # The next request, without the proxy's headers, builds its own URLs again.
    plain = client.get(f"/api/v1/lists/{todo_list['id']}/todos", headers=user.headers).json["items"]
    assert [t["url"] for t in plain] == [f"http://localhost/api/v1/todos/{t['id']}" for t in plain]
