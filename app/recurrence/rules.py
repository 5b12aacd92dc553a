"""Recurrence rules: which RRULE values are accepted, and the due times they give, in the todo's zone.

The arithmetic is python-dateutil's rrule over zone-aware datetimes (zoneinfo): it
combines each date with the rule's wall-clock time in the zone, so a 09:00 todo stays
at 09:00 across daylight-saving changes. A wall-clock time that does not exist that
day (in the spring gap) is read with the offset before the gap, and one that happens
twice (in the autumn) is the first, as RFC 5545 (3.3.5) says.
"""

import functools
import re
import zoneinfo
from datetime import UTC, datetime

from dateutil.rrule import rrulestr

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "COUNT", "UNTIL", "WKST")
MAX_COUNT = 1000
UNTIL_FORMAT = re.compile(r"^\d{8}T\d{6}Z$")
# Numeric parts and their ranges (RFC 5545 3.3.10): a list of whole numbers, none zero.
NUMBERS = {"BYMONTH": (1, 12), "BYMONTHDAY": (-31, 31)}
_PROBE = datetime(2026, 1, 1, tzinfo=UTC)
# The most days each month can have (February: leap years).
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
WEEKDAY = re.compile(r"^(?:([+-]?)(\d{1,2}))?(MO|TU|WE|TH|FR|SA|SU)$")
NEVER = "The rule never matches a date (e.g. the 30th of February)."


@functools.cache
def _zone_names():
    return frozenset(zoneinfo.available_timezones())


def zone_problem(name):
    """Why `name` is not an IANA zone this service knows, or None."""
    if name not in _zone_names():
        return "Unknown time zone: give an IANA name such as Europe/Paris."
    return None


def zone(name):
    return zoneinfo.ZoneInfo(name)


def rule_problem(value):
    """Why `value` is not an accepted RRULE value, or None. Parts are checked, then dateutil parses it."""
    pairs = [part.partition("=") for part in value.split(";")]
    names = [name for name, _, _ in pairs]
    unknown = [name for name in names if name not in PARTS]
    if unknown or any(not sep or not text for _, sep, text in pairs):
        return f"Only the RRULE parts {', '.join(PARTS)} are supported, each as NAME=value."
    parts = {name: text for name, _, text in pairs}
    if len(parts) != len(pairs):
        return "Each RRULE part may appear once."
    if parts.get("FREQ") not in FREQUENCIES:
        return f"FREQ is required and must be one of {', '.join(FREQUENCIES)}."
    if "COUNT" in parts and "UNTIL" in parts:
        return "COUNT and UNTIL cannot both be given."
    if "UNTIL" in parts and not UNTIL_FORMAT.match(parts["UNTIL"]):
        return "UNTIL must be a UTC date-time such as 20271231T235959Z."
    if "COUNT" in parts and not (parts["COUNT"].isdigit() and 1 <= int(parts["COUNT"]) <= MAX_COUNT):
        return f"COUNT must be a whole number from 1 to {MAX_COUNT}."
    if "INTERVAL" in parts and not (parts["INTERVAL"].isdigit() and 1 <= int(parts["INTERVAL"]) <= 1000):
        return "INTERVAL must be a whole number from 1 to 1000."
    for name, (low, high) in NUMBERS.items():
        if name in parts and not all(_whole_in(item, low, high) for item in parts[name].split(",")):
            return f"{name} takes whole numbers from {low} to {high}, not 0, separated by commas."
    if "BYDAY" in parts:
        problem = _weekday_problem(parts)
        if problem:
            return problem
    if not _some_date(parts):
        return NEVER
    try:
        rrulestr(value, dtstart=_PROBE)
    except (ValueError, TypeError, KeyError, IndexError):
        return "Not a valid RRULE value."
    return None


def _weekday_problem(parts):
    """Why BYDAY is not a list of weekdays with ordinals that can occur (RFC 5545), or None."""
    if parts["FREQ"] in ("DAILY", "WEEKLY"):
        most = 0  # plain weekdays only
    elif parts["FREQ"] == "MONTHLY" or "BYMONTH" in parts:
        most = 5  # the 5th Monday of a month at most
    else:
        most = 53
    for item in parts["BYDAY"].split(","):
        match = WEEKDAY.match(item)
        if not match:
            return "BYDAY takes weekdays (MO, TU, WE, TH, FR, SA, SU), e.g. MO,WE or, monthly, -1FR."
        if match[2] is not None and not 1 <= int(match[2]) <= most:
            if most == 0:
                return "BYDAY takes plain weekdays (no ordinal such as 2MO) with FREQ=DAILY or WEEKLY."
            return f"A BYDAY ordinal is from 1 to {most} (or -1 to -{most}) with this rule."
    return None


def _some_date(parts, start=None):
    """Whether some month of the rule has one of its month days.

    dateutil searches up to the year 9999 for a rule that matches no date (seconds of
    CPU for a daily one), so such rules are refused. Without BYMONTHDAY or BYDAY, a
    MONTHLY or YEARLY rule takes its day from DTSTART (`start`), as RFC 5545 says.
    """
    months = [int(m) for m in parts["BYMONTH"].split(",")] if "BYMONTH" in parts else range(1, 13)
    if "BYMONTHDAY" in parts:
        days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
    elif start is not None and "BYDAY" not in parts and parts.get("FREQ") in ("MONTHLY", "YEARLY"):
        days = [start.day]
        if parts["FREQ"] == "YEARLY" and "BYMONTH" not in parts:
            months = [start.month]
    else:
        return True
    return any(abs(day) <= MONTH_DAYS[month - 1] for month in months for day in days)


def rule_problem_at(value, start, zone_name):
    """Why the accepted rule `value` can give no date from `start` (an aware time) in that zone, or None."""
    parts = dict(part.partition("=")[::2] for part in value.split(";"))
    return None if _some_date(parts, start.astimezone(zone(zone_name))) else NEVER


def _whole_in(text, low, high):
    try:
        number = int(text)
    except ValueError:
        return False
    return number != 0 and low <= number <= high


def normalize(value):
    """The stored form of an accepted rule: upper case, without an `RRULE:` prefix."""
    return value.strip().upper().removeprefix("RRULE:")


def rule_for(recurrence, anchor, zone_name):
    """The dateutil rule of `recurrence` with DTSTART `anchor` (an aware time) in the zone `zone_name`."""
    return rrulestr(recurrence, dtstart=anchor.astimezone(zone(zone_name)))


def next_after(todo, when):
    """The todo's first occurrence strictly after `when` (UTC), or None when the rule has ended."""
    rule = rule_for(todo.recurrence, todo.recurrence_anchor or todo.due_at, todo.timezone)
    found = rule.after(when.astimezone(zone(todo.timezone)), inc=False)
    return found.astimezone(UTC) if found else None


def upcoming(todo, after=None, limit=10):
    """Up to `limit` due times of an open todo, from its due_at (or strictly after `after`), in UTC.

    The current due_at is always the first, even where the rule would not give it:
    as in RFC 5545, DTSTART is the first instance.
    """
    if todo.completed or todo.due_at is None:
        return []
    found = []
    if after is None:
        found.append(todo.due_at)
        after = todo.due_at
    if not todo.recurrence:
        return found[:limit]
    rule = rule_for(todo.recurrence, todo.recurrence_anchor or todo.due_at, todo.timezone)
    for when in rule.xafter(after.astimezone(zone(todo.timezone)), inc=False):
        if len(found) >= limit:
            break
        found.append(when.astimezone(UTC))
    return found[:limit]


def last(todo):
    """The last occurrence of a rule with COUNT (UTC), or None when the rule does not end by count."""
    if not todo.recurrence or "COUNT=" not in todo.recurrence:
        return None
    rule = rule_for(todo.recurrence, todo.recurrence_anchor or todo.due_at, todo.timezone)
    items = list(rule)
    return items[-1].astimezone(UTC) if items else None
