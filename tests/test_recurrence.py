"""Recurring todos: time zones, RRULE validation, completing across DST and month ends, occurrences, calendar."""

from datetime import UTC

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar
from sqlalchemy import select

from app.extensions import db
from app.models import Todo, WebhookEvent
from tests.factories import make_list
from tests.test_share_links import share

PROBLEM = "application/problem+json"


@pytest.fixture
def people(app, auth):
    owner, viewer, stranger = auth.user(), auth.user(), auth.user()
    list_id = make_list(app, {owner.id: "owner", viewer.id: "viewer"}, name="Chores")
    return owner, viewer, stranger, list_id


def create(client, people, **body):
    owner, _, _, list_id = people
    r = client.post(f"/api/v1/lists/{list_id}/todos", json={"title": "Water the plants", **body}, headers=owner.headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


def patch(client, people, todo, **body):
    r = client.patch(f"/api/v1/todos/{todo['id']}", json=body, headers=people[0].headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


def occurrences(client, people, todo, limit=10, who=0):
    r = client.get(f"/api/v1/todos/{todo['id']}/occurrences?limit={limit}", headers=people[who].headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return [item["due_at"] for item in r.json["items"]]


# --- the profile's time zone


def test_profile_timezone_defaults_to_utc_and_changes(client, auth):
    user = auth.user()
    assert client.get("/api/v1/users/me", headers=user.headers).json["timezone"] == "UTC"
    r = client.patch("/api/v1/users/me", json={"timezone": "Europe/Paris"}, headers=user.headers)
    assert r.status_code == 200 and r.json["timezone"] == "Europe/Paris"
    assert client.get("/api/v1/users/me", headers=user.headers).json["timezone"] == "Europe/Paris"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "europe/paris", "", "../etc/passwd", 5, None])
def test_profile_unknown_timezone_is_422_and_changes_nothing(client, auth, zone):
    user = auth.user()
    r = client.patch("/api/v1/users/me", json={"timezone": zone}, headers=user.headers)
    assert r.status_code == 422 and r.mimetype == PROBLEM
    assert "timezone" in r.json["errors"]
    assert client.get("/api/v1/users/me", headers=user.headers).json["timezone"] == "UTC"


def test_todo_timezone_defaults_to_the_creators(client, people):
    client.patch("/api/v1/users/me", json={"timezone": "America/New_York"}, headers=people[0].headers)
    todo = create(client, people)
    assert todo["timezone"] == "America/New_York"
    assert todo["recurrence"] is None and todo["reminders"] == []
    assert create(client, people, timezone="Asia/Tokyo")["timezone"] == "Asia/Tokyo"


# --- validation


@pytest.mark.parametrize(
    "body, field",
    [
        ({"recurrence": "FREQ=HOURLY"}, "recurrence"),
        ({"recurrence": "FREQ=MINUTELY"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY;BYHOUR=9"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY;BYSETPOS=1"}, "recurrence"),
        ({"recurrence": "FREQ=WEEKLY;BYDAY=XX"}, "recurrence"),
        ({"recurrence": "INTERVAL=2"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY;COUNT=2;UNTIL=20271231T235959Z"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY;UNTIL=20271231"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY;COUNT=0"}, "recurrence"),
        ({"recurrence": "FREQ=YEARLY;BYMONTH=13"}, "recurrence"),
        ({"recurrence": "FREQ=MONTHLY;BYMONTHDAY=32"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY;FREQ=WEEKLY"}, "recurrence"),
        ({"recurrence": 7}, "recurrence"),
        # Rules that match no date: dateutil would search them up to the year 9999.
        ({"recurrence": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}, "recurrence"),
        ({"recurrence": "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6"}, "recurrence"),
        ({"recurrence": "FREQ=MONTHLY;BYDAY=6MO"}, "recurrence"),
        ({"recurrence": "FREQ=YEARLY;BYDAY=60MO"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY;BYDAY=2MO"}, "recurrence"),
        ({"timezone": "Nowhere/Special"}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"reminders": [0, 1, 2, 3, 4, 5]}, "reminders"),
        ({"reminders": [10, 10]}, "reminders"),
        ({"reminders": [-1]}, "reminders"),
        ({"reminders": [40321]}, "reminders"),
        ({"reminders": [1.5]}, "reminders"),
        ({"reminders": ["10"]}, "reminders"),
        ({"reminders": 10}, "reminders"),
    ],
)
def test_invalid_recurrence_fields_are_422_keyed_by_field(client, people, body, field):
    owner, _, _, list_id = people
    r = client.post(
        f"/api/v1/lists/{list_id}/todos",
        json={"title": "x", "due_at": "2027-01-04T09:00:00Z", **body},
        headers=owner.headers,
    )
    assert r.status_code == 422 and r.mimetype == PROBLEM, r.json
    assert set(r.json["errors"]) == {field}
    assert client.get(f"/api/v1/lists/{list_id}/todos", headers=owner.headers).json["items"] == []


@pytest.mark.parametrize("field, value", [("recurrence", "FREQ=DAILY"), ("reminders", [15])])
def test_recurrence_and_reminders_need_a_due_at(client, people, field, value):
    owner, _, _, list_id = people
    r = client.post(f"/api/v1/lists/{list_id}/todos", json={"title": "x", field: value}, headers=owner.headers)
    assert r.status_code == 422 and set(r.json["errors"]) == {field}
    todo = create(client, people)
    r = client.patch(f"/api/v1/todos/{todo['id']}", json={field: value}, headers=owner.headers)
    assert r.status_code == 422 and set(r.json["errors"]) == {field}


def test_clearing_due_at_clears_recurrence_and_reminders(client, people):
    todo = create(client, people, due_at="2027-01-04T09:00:00Z", recurrence="freq=weekly", reminders=[30, 0])
    assert todo["recurrence"] == "FREQ=WEEKLY" and todo["reminders"] == [0, 30]
    todo = patch(client, people, todo, due_at=None)
    assert (todo["due_at"], todo["recurrence"], todo["reminders"]) == (None, None, [])


def test_a_rule_whose_day_comes_from_the_due_time_must_match_a_date(client, people):
    owner, _, _, list_id = people
    body = {"title": "x", "due_at": "2027-01-30T09:00:00Z", "recurrence": "FREQ=MONTHLY;BYMONTH=2"}
    r = client.post(f"/api/v1/lists/{list_id}/todos", json=body, headers=owner.headers)
    assert r.status_code == 422 and set(r.json["errors"]) == {"recurrence"}
    todo = create(client, people, due_at="2027-01-29T09:00:00Z", recurrence="FREQ=MONTHLY;BYMONTH=2")
    # The 29th of every February: the next is in the leap year.
    assert occurrences(client, people, todo, limit=2) == ["2027-01-29T09:00:00Z", "2028-02-29T09:00:00Z"]
    r = client.patch(f"/api/v1/todos/{todo['id']}", json={"due_at": "2027-01-30T09:00:00Z"}, headers=owner.headers)
    assert r.status_code == 422 and set(r.json["errors"]) == {"recurrence"}
    assert client.get(f"/api/v1/todos/{todo['id']}", headers=owner.headers).json["due_at"] == "2027-01-29T09:00:00Z"


def test_rule_parts_accepted(client, people):
    rule = "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR;BYMONTH=1,3,5,7;WKST=SU;COUNT=4"
    assert create(client, people, due_at="2027-01-29T09:00:00Z", recurrence=rule)["recurrence"] == rule


# --- completing a recurring todo


@pytest.mark.parametrize(
    "zone, due_at, expected",
    [
        # Europe, spring forward (28 March 2027): 09:00 CET, then 09:00 CEST.
        ("Europe/Paris", "2027-03-27T08:00:00Z", ["2027-03-28T07:00:00Z", "2027-03-29T07:00:00Z"]),
        # Europe, fall back (31 October 2027): 09:00 CEST, then 09:00 CET.
        ("Europe/Paris", "2027-10-30T07:00:00Z", ["2027-10-31T08:00:00Z", "2027-11-01T08:00:00Z"]),
        # US, spring forward (14 March 2027): 09:00 EST, then 09:00 EDT.
        ("America/New_York", "2027-03-13T14:00:00Z", ["2027-03-14T13:00:00Z", "2027-03-15T13:00:00Z"]),
        # US, fall back (7 November 2027): 09:00 EDT, then 09:00 EST.
        ("America/New_York", "2027-11-06T13:00:00Z", ["2027-11-07T14:00:00Z", "2027-11-08T14:00:00Z"]),
        # 02:30 does not exist on 28 March in Paris: read with the offset before the gap (RFC 5545).
        ("Europe/Paris", "2027-03-27T01:30:00Z", ["2027-03-28T01:30:00Z", "2027-03-29T00:30:00Z"]),
        # 02:30 happens twice on 31 October in Paris: the first one.
        ("Europe/Paris", "2027-10-30T00:30:00Z", ["2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"]),
    ],
)
def test_completing_keeps_the_wall_clock_across_dst(client, people, zone, due_at, expected):
    todo = create(client, people, due_at=due_at, recurrence="FREQ=DAILY", timezone=zone)
    for want in expected:
        todo = patch(client, people, todo, completed=True)
        assert (todo["due_at"], todo["completed"], todo["completed_at"]) == (want, False, None)


def test_weekly_across_dst_keeps_monday_nine(client, people):
    todo = create(
        client, people, due_at="2027-03-22T08:00:00Z", recurrence="FREQ=WEEKLY;BYDAY=MO", timezone="Europe/Paris"
    )
    assert patch(client, people, todo, completed=True)["due_at"] == "2027-03-29T07:00:00Z"


@pytest.mark.parametrize(
    "rule, due_at, expected",
    [
        # The 31st: months without one are skipped (RFC 5545).
        ("FREQ=MONTHLY;BYMONTHDAY=31", "2027-01-31T10:00:00Z", ["2027-03-31T10:00:00Z", "2027-05-31T10:00:00Z"]),
        ("FREQ=MONTHLY", "2027-01-31T10:00:00Z", ["2027-03-31T10:00:00Z", "2027-05-31T10:00:00Z"]),
        # The last day of every month.
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "2027-01-31T10:00:00Z", ["2027-02-28T10:00:00Z", "2027-03-31T10:00:00Z"]),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "2028-01-31T10:00:00Z", ["2028-02-29T10:00:00Z", "2028-03-31T10:00:00Z"]),
        # Leap days: the next 29 February is four years on.
        ("FREQ=YEARLY", "2028-02-29T10:00:00Z", ["2032-02-29T10:00:00Z", "2036-02-29T10:00:00Z"]),
        (
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1",
            "2027-02-28T10:00:00Z",
            ["2028-02-29T10:00:00Z", "2029-02-28T10:00:00Z"],
        ),
    ],
)
def test_completing_month_ends_and_leap_days(client, people, rule, due_at, expected):
    todo = create(client, people, due_at=due_at, recurrence=rule, timezone="UTC")
    assert occurrences(client, people, todo, limit=3) == [due_at, *expected]
    for want in expected:
        todo = patch(client, people, todo, completed=True)
        assert (todo["due_at"], todo["completed"]) == (want, False)


def test_count_counts_from_the_first_due_time_then_completes(client, people):
    todo = create(client, people, due_at="2027-01-01T09:00:00Z", recurrence="FREQ=DAILY;COUNT=3")
    assert occurrences(client, people, todo) == ["2027-01-01T09:00:00Z", "2027-01-02T09:00:00Z", "2027-01-03T09:00:00Z"]
    todo = patch(client, people, todo, completed=True)
    assert todo["due_at"] == "2027-01-02T09:00:00Z" and not todo["completed"]
    assert occurrences(client, people, todo) == ["2027-01-02T09:00:00Z", "2027-01-03T09:00:00Z"]
    todo = patch(client, people, todo, completed=True)
    todo = patch(client, people, todo, completed=True)
    assert todo["completed"] is True and todo["completed_at"] is not None
    assert todo["due_at"] == "2027-01-03T09:00:00Z"
    assert occurrences(client, people, todo) == []


def test_until_ends_the_rule(client, people):
    todo = create(client, people, due_at="2027-01-01T09:00:00Z", recurrence="FREQ=WEEKLY;UNTIL=20270115T090000Z")
    assert occurrences(client, people, todo) == ["2027-01-01T09:00:00Z", "2027-01-08T09:00:00Z", "2027-01-15T09:00:00Z"]
    todo = patch(client, people, todo, completed=True)
    todo = patch(client, people, todo, completed=True)
    assert todo["due_at"] == "2027-01-15T09:00:00Z" and not todo["completed"]
    assert patch(client, people, todo, completed=True)["completed"] is True


def test_setting_the_due_time_restarts_the_count(client, people):
    todo = create(client, people, due_at="2027-01-01T09:00:00Z", recurrence="FREQ=DAILY;COUNT=2")
    todo = patch(client, people, todo, completed=True)
    todo = patch(client, people, todo, due_at="2027-02-01T09:00:00Z")
    assert occurrences(client, people, todo) == ["2027-02-01T09:00:00Z", "2027-02-02T09:00:00Z"]


def test_completing_records_the_occurrence_done(app, client, people):
    todo = create(client, people, due_at="2027-01-04T09:00:00Z", recurrence="FREQ=WEEKLY")
    patch(client, people, todo, completed=True)
    with app.app_context():
        events = db.session.execute(select(WebhookEvent).order_by(WebhookEvent.id)).scalars().all()
        completed = [e.payload["data"] for e in events if e.event == "todo.completed"]
    assert len(completed) == 1
    assert completed[0]["occurrence"] == "2027-01-04T09:00:00Z"
    assert completed[0]["due_at"] == "2027-01-11T09:00:00Z" and completed[0]["completed"] is False


def test_a_todo_that_does_not_recur_completes(client, people):
    todo = create(client, people, due_at="2027-01-04T09:00:00Z")
    todo = patch(client, people, todo, completed=True)
    assert todo["completed"] is True and todo["due_at"] == "2027-01-04T09:00:00Z"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_completing_through_a_share_link_advances(client, people, method):
    owner, _, _, list_id = people
    todo = create(client, people, due_at="2027-01-04T09:00:00Z", recurrence="FREQ=WEEKLY")
    root = share(client, owner, list_id, role="editor")["url"]
    r = getattr(client, method)(f"{root}/{todo['id']}", json={"title": "Water the plants", "completed": True})
    assert r.status_code == 200 and r.json["completed"] is False
    assert set(r.json) == {"id", "url", "title", "completed", "order"}  # the Todo-Backend shape is fixed
    after = client.get(f"/api/v1/todos/{todo['id']}", headers=owner.headers).json
    assert after["due_at"] == "2027-01-11T09:00:00Z" and after["completed"] is False


# --- occurrences


def test_occurrences_paginate_with_a_cursor(client, people):
    todo = create(client, people, due_at="2027-01-04T09:00:00Z", recurrence="FREQ=WEEKLY;BYDAY=MO,WE")
    owner = people[0]
    r = client.get(f"/api/v1/todos/{todo['id']}/occurrences?limit=3", headers=owner.headers)
    assert [i["due_at"] for i in r.json["items"]] == [
        "2027-01-04T09:00:00Z",
        "2027-01-06T09:00:00Z",
        "2027-01-11T09:00:00Z",
    ]
    assert r.headers["Link"].endswith('rel="next"')
    r = client.get(
        f"/api/v1/todos/{todo['id']}/occurrences?limit=3&cursor={r.json['next_cursor']}", headers=owner.headers
    )
    assert [i["due_at"] for i in r.json["items"]] == [
        "2027-01-13T09:00:00Z",
        "2027-01-18T09:00:00Z",
        "2027-01-20T09:00:00Z",
    ]
    assert len(occurrences(client, people, todo)) == 10


def test_occurrences_of_plain_and_undated_todos(client, people):
    assert occurrences(client, people, create(client, people, due_at="2027-01-04T09:00:00Z")) == [
        "2027-01-04T09:00:00Z"
    ]
    assert occurrences(client, people, create(client, people)) == []


def test_occurrences_access_and_bad_arguments(client, people):
    owner, viewer, stranger, _ = people
    todo = create(client, people, due_at="2027-01-04T09:00:00Z", recurrence="FREQ=DAILY")
    url = f"/api/v1/todos/{todo['id']}/occurrences"
    assert occurrences(client, people, todo, who=1)[:2] == ["2027-01-04T09:00:00Z", "2027-01-05T09:00:00Z"]
    r = client.get(url, headers=stranger.headers)
    assert r.status_code == 404 and r.mimetype == PROBLEM
    assert client.get(url).status_code == 401
    for bad in ("limit=0", "limit=101", "limit=x", "cursor=nonsense"):
        r = client.get(f"{url}?{bad}", headers=owner.headers)
        assert r.status_code == 400 and r.mimetype == PROBLEM, bad
    assert len(client.get(f"{url}?limit=100", headers=owner.headers).json["items"]) == 100


# --- calendar feed


def test_calendar_feed_parses_and_matches_occurrences(client, people):
    owner, _, _, list_id = people
    weekly = create(
        client,
        people,
        title="Bins out",
        notes="Green bin too",
        due_at="2027-03-22T18:00:00Z",
        recurrence="FREQ=WEEKLY;BYDAY=MO",
        timezone="Europe/London",
        reminders=[60, 0],
        tags=["home", "Weekly"],
    )
    counted = create(
        client, people, due_at="2027-01-01T09:00:00Z", recurrence="FREQ=DAILY;COUNT=5", timezone="America/New_York"
    )
    counted = patch(client, people, counted, completed=True)
    plain = create(client, people, due_at="2027-01-04T09:00:00Z")
    done = patch(client, people, create(client, people, due_at="2027-01-04T09:00:00Z"), completed=True)
    create(client, people, title="No date")
    token_root = share(client, owner, list_id, role="viewer")["url"]
    url = token_root.removesuffix("/todos") + "/calendar.ics"

    r = client.get(url, headers={"Origin": "https://calendar.example"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    calendar = Calendar.from_ical(r.data)
    assert calendar["version"] == "2.0" and "prodid" in calendar
    assert {str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")} >= {"Europe/London", "America/New_York"}
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert len(events) == 3 and done["id"] not in [int(u.split("@")[0].removeprefix("todo-")) for u in events]
    for todo in (weekly, counted, plain):
        event = next(e for uid, e in events.items() if uid.startswith(f"todo-{todo['id']}@"))
        want = occurrences(client, people, todo, limit=10)
        assert [_z(w) for w in _instances(event, 10)] == want, todo["title"]
    event = next(e for uid, e in events.items() if uid.startswith(f"todo-{weekly['id']}@"))
    assert str(event["summary"]) == "Bins out" and str(event["description"]) == "Green bin too"
    assert sorted(event["categories"].cats) == ["home", "weekly"]
    assert sorted(a.decoded("trigger").total_seconds() for a in event.walk("VALARM")) == [-3600, 0]
    assert event["dtstart"].params["TZID"] == "Europe/London"

    etag = r.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    patch(client, people, weekly, completed=True)
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert f"todo-{weekly['id']}@".encode() in changed.data  # the same UID, one week on


def _instances(event, count):
    start = event.decoded("dtstart")
    found = [start]
    if "rrule" in event:
        rule = rrulestr(event["rrule"].to_ical().decode(), dtstart=start)
        found += list(rule.xafter(start, count=count - 1, inc=False))
    return found[:count]


def _z(when):
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_calendar_of_an_unknown_token_is_404(client):
    r = client.get("/api/v1/shared/not-a-token/calendar.ics")
    assert r.status_code == 404 and r.mimetype == PROBLEM


def test_todo_rows_keep_the_anchor(app, client, people):
    todo = create(client, people, due_at="2027-01-01T09:00:00Z", recurrence="FREQ=DAILY;COUNT=3")
    patch(client, people, todo, completed=True)
    with app.app_context():
        row = db.session.get(Todo, todo["id"])
        assert row.recurrence_anchor.isoformat() == "2027-01-01T09:00:00+00:00"
