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


@pytest.mark.slow
@pytest.mark.parametrize(("proxies", "scheme"), [(None, "http"), (1, "https")])
def test_gunicorn_believes_forwarded_headers_only_as_trusted_proxies_says(live_server, proxies, scheme):
    import urllib.request

    server = live_server(workers=1, env={"TRUSTED_PROXIES": proxies})
    body = b'{"email": "proxy@example.com", "password": "correct-horse-battery"}'
    request = urllib.request.Request(
        server.url + "/api/v1/auth/register",
        data=body,
        headers={"Content-Type": "application/json", "X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        assert response.headers["Location"].startswith(f"{scheme}://127.0.0.1:{server.port}/api/v1/")


BASE = "https://todos.example.com"
EVIL = {"Host": "evil.example"}


@pytest.mark.parametrize("app_config", [{"PUBLIC_BASE_URL": BASE + "/"}], indirect=True)
def test_every_absolute_url_is_built_on_public_base_url_whatever_the_host(app, client, auth):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import WebhookEvent

    user = auth.user()
    headers = {**user.headers, **EVIL}
    r = client.post("/api/v1/lists", json={"name": "L"}, headers=headers)
    list_id = r.json["id"]
    assert r.json["url"] == r.headers["Location"] == f"{BASE}/api/v1/lists/{list_id}"
    for n in range(2):
        todo = client.post(f"/api/v1/lists/{list_id}/todos", json={"title": f"t{n}"}, headers=headers)
        assert todo.headers["Location"] == todo.json["url"] == f"{BASE}/api/v1/todos/{todo.json['id']}"
    page = client.get(f"/api/v1/lists/{list_id}/todos?limit=1", headers=headers)
    assert page.headers["Link"].startswith(f"<{BASE}/api/v1/lists/{list_id}/todos?")
    link = client.post(f"/api/v1/lists/{list_id}/share-links", json={"role": "editor"}, headers=headers)
    assert link.json["url"].startswith(f"{BASE}/api/v1/shared/") and link.headers["Location"].startswith(BASE + "/")
    shared = link.json["url"].removeprefix(BASE)
    created = client.post(shared, json={"title": "via link"}, headers=EVIL)
    assert created.json["url"].startswith(BASE + shared + "/") and created.headers["Location"] == created.json["url"]
    assert all(item["url"].startswith(BASE + "/") for item in client.get(shared, headers=EVIL).json)
    with app.app_context():  # what webhooks of other members will be sent, signed
        payloads = db.session.execute(select(WebhookEvent.payload)).scalars().all()
    urls = [p["data"]["url"] for p in payloads if "url" in p["data"]]
    assert urls and all(url.startswith(BASE + "/") for url in urls)
    assert "evil.example" not in str(payloads)


def test_without_public_base_url_development_uses_the_requests_own(client, auth):
    user = auth.user()
    r = client.post("/api/v1/lists", json={"name": "L"}, headers={**user.headers, "Host": "dev.local:5000"})
    assert r.json["url"].startswith("http://dev.local:5000/api/v1/lists/")


@pytest.mark.parametrize("app_config", [{"PUBLIC_BASE_URL": "https://todos.example.com/base"}], indirect=True)
def test_external_url_works_outside_a_request(app):
    from app.http import external_url

    with app.app_context():
        assert external_url("api.todo", todo_id=7) == "https://todos.example.com/base/api/v1/todos/7"
