"""Exports and imports: 202 and a job, the worker's run, downloads, retention, formats and bad input."""

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from app.extensions import db
from app.jobs import runner
from app.models import Job, Todo, TodoList
from app.models.base import utcnow

EXPORTS, IMPORTS = "/api/v1/exports", "/api/v1/imports"


@pytest.fixture
def app_config(database_url, tmp_path):
    from tests.conftest import make_config

    return make_config(database_url, JOB_FILES_DIR=str(tmp_path / "jobs"))


def run_jobs(app):
    """What the worker does: run every due job."""
    with app.app_context():
        ran = runner.run_due()
        db.session.remove()
        return ran


def make_list(client, user, name, todos, description=None):
    r = client.post("/api/v1/lists", json={"name": name, "description": description}, headers=user.headers)
    assert r.status_code == 201, r.json
    list_id = r.json["id"]
    for todo in todos:
        body = {k: v for k, v in todo.items() if k != "completed"}
        r = client.post(f"/api/v1/lists/{list_id}/todos", json=body, headers=user.headers)
        assert r.status_code == 201, r.json
        if todo.get("completed"):
            r = client.patch(f"/api/v1/todos/{r.json['id']}", json={"completed": True}, headers=user.headers)
            assert r.status_code == 200
    return list_id


def export(client, user, **body):
    r = client.post(EXPORTS, json={"format": "json", **body}, headers=user.headers)
    assert r.status_code == 202, r.json
    assert r.headers["Location"] == r.json["url"]
    assert r.json["status"] == "queued"
    return r.json


def upload(client, user, content, filename="todos.json"):
    data = {"file": (io.BytesIO(content), filename)}
    return client.post(IMPORTS, data=data, headers=user.headers, content_type="multipart/form-data")


def poll(client, user, url):
    r = client.get(url, headers=user.headers)
    assert r.status_code == 200, r.json
    return r.json


def lists_of(client, user):
    """{list name: [todo fields, in order]} as the API shows them."""
    found = {}
    for item in client.get("/api/v1/lists?limit=200", headers=user.headers).json["items"]:
        todos = client.get(f"/api/v1/lists/{item['id']}/todos?limit=200", headers=user.headers).json["items"]
        keep = (
            "title",
            "notes",
            "completed",
            "completed_at",
            "due_at",
            "priority",
            "tags",
            "order",
            "recurrence",
            "timezone",
        )
        found[item["name"]] = (item["description"], [{k: t[k] for k in keep} for t in todos])
    return found


TODOS = [
    {"title": "Buy milk", "notes": "oat", "priority": 2, "tags": ["Shop", "home"], "due_at": "2026-12-24T09:30:00Z"},
    {"title": "Done already", "completed": True, "order": 7.5},
    {"title": "=SUM(A1)", "notes": None, "priority": 3, "tags": ["x"]},
    {
        "title": "Bins out",
        "due_at": "2027-01-04T19:00:00Z",
        "recurrence": "FREQ=WEEKLY;BYDAY=MO",
        "timezone": "Europe/Paris",
    },
]


def test_json_export_imported_into_another_account_recreates_the_lists_and_todos(app, client, auth):
    alice, bob = auth.user(), auth.user()
    make_list(client, alice, "Groceries", TODOS, description="Weekly")
    make_list(client, alice, "Empty", [])
    job = export(client, alice)
    assert run_jobs(app) == 1
    done = poll(client, alice, job["url"])
    assert (done["status"], done["progress"], done["error"]) == ("done", 100, None)
    assert done["result"]["lists"] == 2 and done["result"]["todos"] == 4
    r = client.get(done["download_url"], headers=alice.headers)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.headers["Cache-Control"] == "no-store"
    document = json.loads(r.data)
    assert (document["format"], document["version"]) == ("todos-api-export", 1)
    assert document["lists"][0]["members"][0]["email"] == alice.email
    assert {"name": "shop", "count": 1} in document["lists"][0]["tags"]

    since = client.get("/api/v1/changes", headers=bob.headers).json["next_cursor"]
    r = upload(client, bob, r.data, "alice.json")
    assert r.status_code == 202, r.json
    assert run_jobs(app) == 1
    imported = poll(client, bob, r.headers["Location"])
    assert imported["status"] == "done", imported
    assert imported["result"] == {"lists": 2, "todos": 4, "tags": 3}
    assert lists_of(client, bob) == lists_of(client, alice)
    # Bob's clients hear of the new lists through the change feed, and load their todos.
    items = client.get("/api/v1/changes", query_string={"since": since}, headers=bob.headers).json["items"]
    assert sorted((i["kind"], i["op"], i["data"]["name"]) for i in items) == [
        ("list", "upsert", "Empty"),
        ("list", "upsert", "Groceries"),
    ]


def test_csv_export_has_one_row_per_todo(app, client, auth):
    alice = auth.user()
    make_list(client, alice, "Groceries", TODOS)
    job = export(client, alice, format="csv")
    run_jobs(app)
    r = client.get(poll(client, alice, job["url"])["download_url"], headers=alice.headers)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert [row["title"] for row in rows] == ["Buy milk", "Done already", "'=SUM(A1)", "Bins out"]
    assert rows[0]["tags"] == "home shop" and rows[0]["due_at"] == "2026-12-24T09:30:00Z"
    assert rows[1]["completed"] == "true" and rows[0]["list_name"] == "Groceries"
    assert (rows[1]["order"], rows[2]["notes"]) == ("7.5", "")


def test_export_of_one_list(app, client, auth):
    alice = auth.user()
    make_list(client, alice, "A", TODOS[:1])
    second = make_list(client, alice, "B", TODOS[1:])
    job = export(client, alice, list_id=second)
    run_jobs(app)
    r = client.get(poll(client, alice, job["url"])["download_url"], headers=alice.headers)
    assert [item["name"] for item in json.loads(r.data)["lists"]] == ["B"]


def test_jobs_are_their_owners_only(app, client, auth):
    alice, mallory = auth.user(), auth.user()
    job = export(client, alice)
    run_jobs(app)
    for url in (job["url"], job["url"] + "/download"):
        r = client.get(url, headers=mallory.headers)
        assert (r.status_code, r.mimetype) == (404, "application/problem+json")
    assert client.get(EXPORTS, headers=mallory.headers).json["items"] == []
    assert [item["id"] for item in client.get(EXPORTS, headers=alice.headers).json["items"]] == [job["id"]]
    imp = upload(client, alice, b"[]", "x.json").json
    assert client.get(imp["url"], headers=mallory.headers).status_code == 404
    assert client.get(EXPORTS + f"/{imp['id']}", headers=alice.headers).status_code == 404  # an import is no export


def test_job_list_is_paginated(client, auth):
    alice = auth.user()
    ids = [export(client, alice)["id"] for _ in range(3)]
    r = client.get(EXPORTS + "?limit=2", headers=alice.headers)
    assert [item["id"] for item in r.json["items"]] == ids[::-1][:2]
    assert 'rel="next"' in r.headers["Link"]
    r = client.get(EXPORTS + f"?limit=2&cursor={r.json['next_cursor']}", headers=alice.headers)
    assert ([item["id"] for item in r.json["items"]], r.json["next_cursor"]) == ([ids[0]], None)


def test_download_before_done_is_409_and_after_retention_410(app, client, auth):
    alice = auth.user()
    job = export(client, alice)
    r = client.get(job["url"] + "/download", headers=alice.headers)
    assert (r.status_code, r.mimetype) == (409, "application/problem+json")
    run_jobs(app)
    with app.app_context():
        row = db.session.get(Job, job["id"])
        path = Path(row.file_path)
        assert path.exists()
        assert row.expires_at - row.finished_at == timedelta(days=7)
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert runner.purge_expired(utcnow()) == 1
    assert not path.exists()
    r = client.get(job["url"] + "/download", headers=alice.headers)
    assert (r.status_code, r.mimetype) == (410, "application/problem+json")
    assert "7 days" in r.json["detail"]


def test_etag_on_a_job(client, auth):
    alice = auth.user()
    job = export(client, alice)
    r = client.get(job["url"], headers=alice.headers)
    r2 = client.get(job["url"], headers={**alice.headers, "If-None-Match": r.headers["ETag"]})
    assert r2.status_code == 304


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "xml"}, "format"),
        ({}, "format"),
        ({"format": "json", "list_id": "1"}, "list_id"),
        ({"format": "json", "x": 1}, "x"),
    ],
)
def test_export_request_validation(client, auth, body, field):
    r = client.post(EXPORTS, json=body, headers=auth.user().headers)
    assert (r.status_code, r.mimetype) == (422, "application/problem+json")
    assert field in r.json["errors"]


def test_export_of_a_list_you_cannot_see_is_404(client, auth):
    alice, mallory = auth.user(), auth.user()
    list_id = make_list(client, alice, "Private", [])
    r = client.post(EXPORTS, json={"format": "json", "list_id": list_id}, headers=mallory.headers)
    assert r.status_code == 404
    with client.application.app_context():
        assert db.session.query(Job).count() == 0


def test_import_request_errors(client, auth):
    alice = auth.user()
    r = client.post(IMPORTS, json={"file": "x"}, headers=alice.headers)
    assert (r.status_code, r.mimetype) == (415, "application/problem+json")
    r = client.post(IMPORTS, data={"other": "x"}, headers=alice.headers, content_type="multipart/form-data")
    assert r.status_code == 422 and set(r.json["errors"]) == {"other"}
    r = client.post(IMPORTS, data={}, headers=alice.headers, content_type="multipart/form-data")
    assert r.status_code == 422 and set(r.json["errors"]) == {"file"}
    r = upload(client, alice, b"[" + b" " * (10 * 1024 * 1024) + b"]")
    assert (r.status_code, r.mimetype) == (413, "application/problem+json")
    r = client.post(IMPORTS, data={"file": (io.BytesIO(b"[]"), "a.json")}, content_type="multipart/form-data")
    assert r.status_code == 401


def test_import_just_under_the_limit_is_accepted(client, auth):
    r = upload(client, auth.user(), b"[" + b" " * (10 * 1024 * 1024 - 2) + b"]")
    assert r.status_code == 202, r.json


TODOIST = (
    "TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE,DURATION,DURATION_UNIT\n"
    "task,Plan the trip,,1,1,Ann (1),,2026-12-07,en,Europe/Paris,,\n"
    "note,Book early,,,,Ann (1),,,,,,\n"
    ",,,,,,,,,,,\n"
    "section,Packing List,,,,,,,,,,\n"
    "task,Passport,Check expiry,4,1,Ann (1),,Dec 8 2026 10:00,en,UTC,,\n"
    "task,Socks,,3,2,Ann (1),,,en,,,\n"
)


def test_todoist_csv_import(app, client, auth):
    alice = auth.user()
    r = upload(client, alice, TODOIST.encode(), "Trip.csv")
    assert r.status_code == 202
    run_jobs(app)
    job = poll(client, alice, r.json["url"])
    assert job["status"] == "done", job
    assert job["result"] == {"lists": 1, "todos": 3, "tags": 2}
    ((description, todos),) = [value for name, value in lists_of(client, alice).items() if name == "Trip"]
    assert [(t["title"], t["priority"], t["tags"]) for t in todos] == [
        ("Plan the trip", 3, []),
        ("Passport", 0, ["packing-list"]),
        ("Socks", 1, ["packing-list"]),
    ]
    assert todos[0]["due_at"] == "2026-12-06T23:00:00Z"  # midnight in Paris
    assert todos[0]["notes"] == "Book early"
    assert (todos[1]["notes"], todos[1]["due_at"]) == ("Check expiry", "2026-12-08T10:00:00Z")


def test_todo_backend_array_import(app, client, auth):
    alice = auth.user()
    items = [{"title": "a", "completed": True, "order": 2}, {"title": "b", "id": 9, "url": "http://x/9"}]
    r = upload(client, alice, json.dumps(items).encode(), "backend.json")
    run_jobs(app)
    assert poll(client, alice, r.json["url"])["result"] == {"lists": 1, "todos": 2, "tags": 0}
    _, todos = lists_of(client, alice)["backend"]
    assert [(t["title"], t["completed"], t["order"]) for t in todos] == [("b", False, 1.0), ("a", True, 2.0)]
    assert todos[1]["completed_at"] is not None


BAD_ROWS = "\n".join(
    ["TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,DATE"] + ["task,ok,,4,1,"] * 15 + ["task,late,,4,1,someday"]
)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"\xff\xfe[]", "not UTF-8"),
        (b"TYPE,CONTENT\ntask,x\n", "lacks the column(s) DESCRIPTION, PRIORITY, INDENT, DATE"),
        (b'{"lists": []}', "neither a Todos API export"),
        (b'{"format": "todos-api-export", "version": 2, "lists": []}', "version 2"),
        (b'{"format": "todos-api-export", "version": 1, "lists": [{"name": "a", "todos": {}}]}', "list 1: todos"),
        (b'[{"title": "ok"}, {"title": ""}]', "row 2: title"),
        (b'[{"title": "ok"}, 3]', "row 2: expected an object"),
        (b'[{"title": "ok", "due": 1}]', "row 1: unknown field due"),
        (b"[{", "not valid JSON"),
        (b"   ", "empty"),
        (BAD_ROWS.encode(), "row 17: DATE 'someday'"),
        (b"TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,DATE\ntask,x,,9,1,\n", "row 2: PRIORITY '9'"),
        (b"TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,DATE\ntask,x\n", "row 2: has 2 of the 6 columns"),
    ],
)
def test_bad_import_fails_with_an_error_naming_the_row_and_creates_nothing(app, client, auth, content, error):
    alice = auth.user()
    r = upload(client, alice, content, "bad.csv")
    assert r.status_code == 202, r.json
    run_jobs(app)
    job = poll(client, alice, r.json["url"])
    assert job["status"] == "failed"
    assert error in job["error"]
    assert job["result"] is None
    with app.app_context():
        assert db.session.query(TodoList).count() == 0
        assert db.session.get(Job, job["id"]).file_path is not None  # kept on the row, removed from disk
        assert not Path(db.session.get(Job, job["id"]).file_path).exists()


def test_a_failure_while_writing_rolls_back_every_list(app, client, auth, monkeypatch):
    from app.jobs import importer

    alice = auth.user()
    document = {"format": "todos-api-export", "version": 1, "lists": [{"name": "a", "todos": [{"title": "x"}]}] * 3}
    r = upload(client, alice, json.dumps(document).encode())
    calls = []
    real = importer._create_list

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(importer, "_create_list", failing)
    run_jobs(app)
    job = poll(client, alice, r.json["url"])
    assert (job["status"], job["error"]) == ("failed", "An unexpected error occurred while running the job.")
    with app.app_context():
        assert db.session.query(TodoList).count() == 0


def test_a_lapsed_lease_is_taken_again_then_failed_after_the_last_attempt(app, client, auth):
    alice = auth.user()
    job = export(client, alice)
    with app.app_context():
        app.config["JOB_MAX_ATTEMPTS"] = 2
        for attempt in (1, 2):
            assert runner.claim(utcnow()) == (job["id"], attempt)  # the worker dies here
            assert runner.claim(utcnow()) is None  # the lease holds
            later = utcnow() + timedelta(seconds=61)
            assert runner.give_up_stale(later) == (1 if attempt == 2 else 0)
            if attempt == 1:
                db.session.execute(db.update(Job).values(locked_until=utcnow() - timedelta(seconds=1)))
                db.session.commit()
    failed = poll(client, alice, job["url"])
    assert failed["status"] == "failed" and "stopped 2 times" in failed["error"]
    assert failed["attempts"] == 2


def test_a_run_whose_lease_was_taken_over_writes_nothing(app, client, auth):
    alice = auth.user()
    r = upload(client, alice, b'[{"title": "a"}]')
    with app.app_context():
        job_id, attempt = runner.claim(utcnow())
        db.session.execute(db.update(Job).values(attempts=Job.attempts + 1))  # another worker took it
        db.session.commit()
        runner.run_one(job_id, attempt)
        assert db.session.query(TodoList).count() == 0
        assert db.session.get(Job, job_id).status == "running"
    assert poll(client, alice, r.json["url"])["status"] == "running"


def test_at_most_five_pending_jobs_per_user(app, client, auth):
    alice = auth.user()
    for _ in range(5):
        export(client, alice)
    r = client.post(EXPORTS, json={"format": "csv"}, headers=alice.headers)
    assert (r.status_code, r.mimetype) == (409, "application/problem+json")
    assert upload(client, alice, b"[]").status_code == 409
    assert client.post(EXPORTS, json={"format": "csv"}, headers=auth.user().headers).status_code == 202
    run_jobs(app)
    assert client.post(EXPORTS, json={"format": "csv"}, headers=alice.headers).status_code == 202


def test_nul_in_an_imported_text_names_the_row(app, client, auth):
    alice = auth.user()
    r = upload(client, alice, b'[{"title": "ok"}, {"title": "a\\u0000b"}]')
    run_jobs(app)
    job = poll(client, alice, r.json["url"])
    assert (job["status"], job["error"]) == ("failed", "row 2: title: Text may not contain the NUL character (U+0000).")


def test_openapi_documents_the_upload_and_the_export_format(client):
    spec = client.get("/api/v1/openapi.json").json
    body = spec["paths"]["/api/v1/imports"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file"] and body["properties"]["file"]["format"] == "binary"
    download = spec["paths"]["/api/v1/exports/{export_id}/download"]["get"]["responses"]
    assert download["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ExportDocument"}
    assert {"409", "410"} <= set(download)
    assert "todos-api-export" in spec["paths"]["/api/v1/exports"]["post"]["description"]
    assert set(spec["components"]["schemas"]["ExportedTodo"]["properties"]) >= {"title", "tags", "order", "due_at"}
    assert "Location" in spec["paths"]["/api/v1/exports"]["post"]["responses"]["202"]["headers"]


def test_a_bad_row_after_batches_were_written_fails_the_import_and_creates_nothing(app, client, auth, monkeypatch):
    from app.jobs import importer

    alice = auth.user()
    items = [{"title": f"todo {i}"} for i in range(2 * importer.BATCH + 500)] + [{"title": "late", "order": "x"}]
    r = upload(client, alice, json.dumps(items).encode(), "big.json")
    written = []
    real = importer._create_todos

    def counted(chunk, *args):
        written.append(len(chunk))
        return real(chunk, *args)

    monkeypatch.setattr(importer, "_create_todos", counted)
    run_jobs(app)
    job = poll(client, alice, r.json["url"])
    assert job["status"] == "failed"
    assert job["error"].startswith(f"row {len(items)}: order:"), job["error"]
    with app.app_context():
        # PostgreSQL: rows go to the database as they are read. SQLite: the file is checked before any write.
        sqlite = db.engine.dialect.name == "sqlite"
        assert written == ([] if sqlite else [importer.BATCH, importer.BATCH])
        assert (db.session.query(TodoList).count(), db.session.query(Todo).count()) == (0, 0)


def test_a_json_export_with_its_keys_in_another_order_imports(app, client, auth):
    """A JSON object's keys have no order: an export whose keys were sorted, or a list's name after its todos."""
    alice = auth.user()
    document = {
        "lists": [
            {"todos": [{"title": "b"}, {"title": "a", "tags": ["x"]}], "description": "later", "name": "Named late"},
            {"name": "Plain", "todos": []},
        ],
        "webhooks": [{"id": 1, "events": ["todo.created"]}],
        "format": "todos-api-export",
        "version": 1,
    }
    r = upload(client, alice, json.dumps(document).encode())
    run_jobs(app)
    assert poll(client, alice, r.json["url"])["result"] == {"lists": 2, "todos": 2, "tags": 1}
    found = lists_of(client, alice)
    assert sorted(found) == ["Named late", "Plain"]
    assert found["Named late"][0] == "later"
    assert [t["title"] for t in found["Named late"][1]] == ["b", "a"]


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"lists": [{"name": "a", "todos": [{"title": ""}]}], "format": "other", "version": 1}, "neither"),
        ({"lists": [{"name": "a", "todos": [{"title": ""}]}], "format": "todos-api-export"}, "version None"),
        ({"lists": [{"name": "a", "todos": [{"title": ""}]}], "format": "todos-api-export", "version": 1}, "todo 1"),
        ({"format": "todos-api-export", "version": 1, "lists": [{"todos": [{"title": "x"}]}]}, "list 1: name"),
        ({"format": "todos-api-export", "version": 1, "lists": [{"name": "a"}, {"name": ""}]}, "list 2: name"),
        ({"format": "todos-api-export", "version": 1, "lists": {}}, 'no "lists" array'),
        ({"format": "todos-api-export", "version": 1}, 'no "lists" array'),
    ],
)
def test_a_json_export_header_read_after_its_lists_is_still_checked_first(app, client, auth, document, error):
    alice = auth.user()
    r = upload(client, alice, json.dumps(document).encode())
    run_jobs(app)
    job = poll(client, alice, r.json["url"])
    assert job["status"] == "failed" and error in job["error"], job["error"]
    with app.app_context():
        assert db.session.query(TodoList).count() == 0


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b'[{"title": "a"}] [', "not valid JSON"),  # found after the rows were written
        (b'{"format": "todos-api-export", "version": 1, "lists": []} x', "not valid JSON"),
        (b'[{"title": "a"}, {"title": "b"', "not valid JSON"),
        (b'[{"title": "a"}, {"title": ' + b"[" * 1000000 + b"]" * 1000000 + b"}]", "more than 16 deep"),
        (b'{"lists": [], "webhooks": ' + b"[" * 1000000 + b"]" * 1000000 + b"}", "neither a Todos API export"),
        (b"[" + b'{"title": "a"},' * 100000 + b'{"title": "\xe9"}]', "invalid byte at offset 1500012"),
    ],
)
def test_a_file_broken_after_good_rows_creates_nothing(app, client, auth, content, error):
    alice = auth.user()
    r = upload(client, alice, content)
    run_jobs(app)
    job = poll(client, alice, r.json["url"])
    assert job["status"] == "failed" and error in job["error"], job["error"]
    with app.app_context():
        assert db.session.query(TodoList).count() == 0


def test_the_offset_of_a_bad_byte_counts_from_the_start_of_the_file(app, client, auth):
    from app.jobs.formats import CHUNK

    alice = auth.user()
    head = b'[{"title": "'
    filler = b"a" * (CHUNK - len(head) - 1)
    content = head + filler + "\u00e9".encode() + b'"}, {"title": "\xe9"}]'  # é is cut by the first chunk's end
    r = upload(client, alice, content)
    run_jobs(app)
    job = poll(client, alice, r.json["url"])
    bad = content.rindex(b"\xe9")
    assert job["error"] == f"The file is not UTF-8 text (invalid byte at offset {bad})."


def test_an_import_may_start_with_a_byte_order_mark(app, client, auth):
    alice = auth.user()
    for content, name in [(b'\xef\xbb\xbf[{"title": "a"}]', "bom.json"), (b"\xef\xbb\xbf" + TODOIST.encode(), "t.csv")]:
        r = upload(client, alice, content, name)
        run_jobs(app)
        assert poll(client, alice, r.json["url"])["status"] == "done"


def _todo_backend_file(path, count):
    path.write_bytes(json.dumps([{"title": f"todo {i}", "completed": i % 2 == 0} for i in range(count)]).encode())
    return path


def _todoist_file(path, count):
    rows = ["TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,DATE"]
    rows += [f"task,todo {i},,{1 + i % 4},1,2026-12-{1 + i % 28:02}\nnote,a note on {i},,,," for i in range(count)]
    path.write_text("\n".join(rows))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("make_file", [_todo_backend_file, _todoist_file])
def test_an_import_is_read_as_a_stream(app, tmp_path, make_file):
    """The reader holds a row at a time: its first todo comes before most of the file is read, its memory stays flat."""
    import tracemalloc

    from app.jobs import formats

    def peak(count):
        with open(make_file(tmp_path / f"{count}.upload", count), "rb") as upload:
            tracemalloc.start()
            try:
                items = formats.read(upload, "f.json")
                assert isinstance(next(items), formats.ListOpened)
                assert next(items)["title"] == "todo 0"
                read_before_first_todo = upload.tell()
                assert sum(1 for item in items if isinstance(item, dict)) == count - 1
                return tracemalloc.get_traced_memory()[1], read_before_first_todo / upload.tell()
            finally:
                tracemalloc.stop()

    with app.app_context():
        # The reader's buffers grow with a small file: at 2,000 rows of Todo-Backend JSON they are within
        # 15% of their most (900 KB here at 4,000 rows and at 12,000); at 1,000 rows, 40% below it.
        (small, _), (large, read_first) = peak(2000), peak(8000)
    assert read_first < 0.2  # of the 8,000-row file, before its first todo came out
    assert large < small * 1.5, (small, large)


@pytest.mark.parametrize(("duty_cycle", "rests"), [(0.5, [1.0, 2.0]), (0.25, [3.0, 6.0]), (1, [])])
def test_an_export_rests_between_batches_for_its_duty_cycle(duty_cycle, rests):
    """Work of 1 s then 2 s between rests: at a duty cycle d it rests work * (1 - d) / d after each."""
    from app.jobs.exporter import _Pace

    clock, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    pace = _Pace(duty_cycle, clock=lambda: clock[0], sleep=sleep)
    for work in (1.0, 2.0):
        clock[0] += work
        pace.rest()
    assert slept == rests
