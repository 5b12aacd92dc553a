"""The iCalendar (RFC 5545) feed of a list: one VEVENT per open todo with a due time, built with icalendar."""

from datetime import UTC, timedelta

from icalendar import Alarm, Calendar, Event, vRecur

from app.recurrence import rules

PRODID = "-//Todos API//Calendar feed 1.0//EN"


def calendar_bytes(name, todos, host):
    """The VCALENDAR of `todos` (open, with a due time) of the list called `name`, as bytes.

    Everything in it derives from the todos' rows (DTSTAMP is the todo's last change),
    so the same state always gives the same bytes, and the same ETag.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for todo in todos:
        calendar.add_component(event_for(todo, host))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def event_for(todo, host):
    """One todo as a VEVENT: its due time (in its zone), rule, reminders as alarms, tags as categories."""
    event = Event()
    event.add("uid", f"todo-{todo.id}@{host}")
    event.add("dtstamp", todo.updated_at.astimezone(UTC))
    event.add("summary", todo.title)
    if todo.notes:
        event.add("description", todo.notes)
    event.add("dtstart", todo.due_at.astimezone(rules.zone(todo.timezone)))
    rule = feed_rule(todo) if todo.recurrence else None
    if rule:
        event.add("rrule", rule)
    if todo.tags:
        event.add("categories", todo.tags)
    for minutes in todo.reminders:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", todo.title)
        alarm.add("trigger", -timedelta(minutes=minutes))
        event.add_component(alarm)
    return event


def feed_rule(todo):
    """The todo's rule as the feed gives it: from the current due time, so a COUNT becomes its last UNTIL.

    The feed's DTSTART is the current due time; the rule's COUNT counts from the first
    one, so the occurrences already done would be counted twice. UNTIL, the rule's own
    last occurrence, says the same thing from any start.
    """
    rule = vRecur.from_ical(todo.recurrence)
    if "COUNT" in rule:
        last = rules.last(todo)
        if last is None or last <= todo.due_at:
            return None  # nothing after the current due time: a single event
        del rule["COUNT"]
        rule["UNTIL"] = [last]
    return rule
