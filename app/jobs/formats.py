"""Read an uploaded file as a stream: our JSON export, a Todo-Backend JSON array, or a Todoist CSV.

`read` yields, in file order, a ListOpened before the todos of each list, each todo
(a dict loaded through CarriedTodoSchema: the rules of the API), then a ListClosed;
or raises JobFailed naming the first bad row. It holds one row at a time, never the
whole file: JSON is parsed by ijson's events, CSV by the csv module line by line.
Nothing here touches the database.
"""

import codecs
import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ijson
from dateutil import parser as dateparser
from marshmallow import ValidationError

from app.jobs.carry import CARRIED, INFORMATIONAL, carried_todo_schema
from app.jobs.export_format import FORMAT as EXPORT_FORMAT
from app.jobs.export_format import VERSION as EXPORT_VERSION
from app.jobs.outcome import JobFailed

MAX_NAME = 200
MAX_DESCRIPTION = 10000
CHUNK = 1 << 16  # bytes read at a time when checking the encoding
MAX_DEPTH = 16  # arrays and objects within one another in a todo, a list's name or the header
TODO_BACKEND_FIELDS = {"title", "completed", "order"}
TODO_BACKEND_IGNORED = {"id", "url"}
TODOIST_REQUIRED = ("TYPE", "CONTENT", "DESCRIPTION", "PRIORITY", "INDENT", "DATE")
# Todoist's PRIORITY: 1 is the highest (p1), 4 none (p4); ours: 3 is the highest, 0 none.
TODOIST_PRIORITY = {"1": 3, "2": 2, "3": 1, "4": 0, "": 0}
_CONTAINERS = ("start_map", "start_array")
_DEPTH = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}


@dataclass
class ListOpened:
    """A list begins; its todos follow. `name` is None when the file gives it only after the todos."""

    name: str | None
    description: str | None


@dataclass
class ListClosed:
    """A list ends, with its name and description as the file finally gave them."""

    name: str
    description: str | None


def read(upload, filename):
    """Yield the lists and todos of an uploaded file (a binary file object), in file order, from its start."""
    first = check_encoding(upload)
    if not first:
        raise JobFailed("The file is empty.")
    if first in ("{", "["):
        try:
            yield from (todo_backend(upload, list_name(filename)) if first == "[" else json_export(upload))
        except ijson.JSONError as e:
            raise JobFailed(f"The file is not valid JSON: {e}.") from None
    else:
        yield from todoist(upload, list_name(filename))


def check_encoding(upload):
    """Check, a chunk at a time, that the file is UTF-8; leave it at its start, after a BOM if it has one.

    Return its first non-blank character, "" when it holds only white space.
    """
    upload.seek(0)
    start = len(codecs.BOM_UTF8) if upload.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8 else 0
    upload.seek(start)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, first = start, ""
    while True:
        chunk = upload.read(CHUNK)
        pending = len(decoder.getstate()[0])  # bytes of a character cut by the previous chunk
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as e:
            where = offset - pending + e.start
            raise JobFailed(f"The file is not UTF-8 text (invalid byte at offset {where}).") from None
        first = first or text.lstrip()[:1]
        if not chunk:
            break
        offset += len(chunk)
    upload.seek(start)
    return first


def list_name(filename):
    """The name of the list an import of `filename` makes: the file's name without its extension."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", (filename or "").replace("\x00", "").rsplit("/", 1)[-1]).strip()
    return (stem or "Imported")[:MAX_NAME]


def load_todo(data, where):
    """A todo loaded through the API's rules, or JobFailed naming `where`."""
    try:
        todo = carried_todo_schema.load(data)
    except ValidationError as e:
        raise JobFailed(f"{where}: {describe(e.messages)}") from None
    refuse_nul(todo, where)
    return todo


def refuse_nul(data, where):
    """JobFailed naming `where` and the field when a text holds NUL (PostgreSQL cannot store it)."""
    for field, value in data.items():
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise JobFailed(f"{where}: {field}: Text may not contain the NUL character (U+0000).")


def describe(messages):
    if isinstance(messages, dict):
        return "; ".join(f"{field}: {' '.join(map(str, _flat(text)))}" for field, text in messages.items())
    return " ".join(map(str, _flat(messages)))


def _flat(value):
    if isinstance(value, dict):
        for inner in value.values():
            yield from _flat(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _flat(inner)
    else:
        yield value


def todo_backend(upload, name):
    """A Todo-Backend array: `[{"title", "completed"?, "order"?}]` (`id` and `url` are ignored)."""
    events = ijson.basic_parse(upload, use_float=True)
    next(events)  # the array's start
    yield ListOpened(name, None)
    for index, (event, value) in enumerate(events, start=1):
        if event == "end_array":
            break
        where = f"row {index}"
        item = _value(events, event, value)
        if not isinstance(item, dict):
            raise JobFailed(f"{where}: expected an object with a title, found {type(item).__name__}.")
        unknown = sorted(set(item) - TODO_BACKEND_FIELDS - TODO_BACKEND_IGNORED)
        if unknown:
            fields = ", ".join(unknown)
            raise JobFailed(f"{where}: unknown field {fields} (a Todo-Backend todo has title, completed, order).")
        yield load_todo({k: v for k, v in item.items() if k in TODO_BACKEND_FIELDS}, where)
    _end(events)
    yield ListClosed(name, None)


def json_export(upload):
    """Our own JSON export, version 1: its lists and their todos (members and webhooks are not imported).

    The header (`format`, `version`) is checked as soon as it is read, so before the lists
    in an export as written. In a file that gives it after the lists (its keys sorted, say)
    it is checked at the end; a bad row is then reported only once the header is known right.
    """
    start = upload.tell()
    events = ijson.basic_parse(upload, use_float=True)
    next(events)  # the object's start
    header, lists_seen = {}, False
    for key, event, value in _members(events):
        if key in ("format", "version"):
            header[key] = _value(events, event, value)
            _check_header(header)
        elif key == "lists":
            if event != "start_array":
                raise JobFailed('The export has no "lists" array.')
            lists_seen = True
            try:
                yield from _export_lists(events)
            except JobFailed:
                if not {"format", "version"} <= set(header):  # a file that is no export of ours is told so first
                    upload.seek(start)
                    whole = _header(upload)
                    if whole is not None:
                        _check_header(whole, complete=True)
                raise
        else:
            _skip(events, event)
    _end(events)
    _check_header(header, complete=True)
    if not lists_seen:
        raise JobFailed('The export has no "lists" array.')


def _members(events):
    """(key, first event, first value) of each member of the object just opened, up to its end.

    The caller reads the whole of each member's value (_value, _skip) before the next one.
    """
    key = None
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "end_map":
            return
        else:
            yield key, event, value


def _end(events):
    """Read to the end of the document: the parser then checks that nothing follows it."""
    for _ in events:
        pass


def _header(upload):
    """The top-level `format` and `version` of the document, read from its start; None if it is broken."""
    events = ijson.basic_parse(upload, use_float=True)
    next(events)
    header = {}
    try:
        for key, event, value in _members(events):
            if key in ("format", "version"):
                header[key] = _value(events, event, value)
            else:
                _skip(events, event)
    except (ijson.JSONError, JobFailed):
        return None
    return header


def _not_an_export():
    return JobFailed(
        f'The JSON is neither a Todos API export (an object with "format": "{EXPORT_FORMAT}") '
        "nor a Todo-Backend array of todos."
    )


def _check_header(header, complete=False):
    """JobFailed if what is known of the header is wrong; with `complete`, what is missing is wrong too."""
    if "format" not in header and not complete:
        return
    if header.get("format") != EXPORT_FORMAT:
        raise _not_an_export()
    if ("version" in header or complete) and header.get("version") != EXPORT_VERSION:
        raise JobFailed(
            f"Export version {header.get('version')!r} is not supported; this service reads version {EXPORT_VERSION}."
        )


def _export_lists(events):
    """The lists of an export, from just inside its "lists" array to its end."""
    for number, (event, _) in enumerate(events, start=1):
        if event == "end_array":
            return
        where = f"list {number}"
        if event != "start_map":
            raise JobFailed(f"{where}: expected an object.")
        yield from _export_list(events, where)


def _export_list(events, where):
    """One list of an export, from just inside its object to its end."""
    fields, opened = {}, False
    for key, event, value in _members(events):
        if key == "todos":
            if event != "start_array":
                raise JobFailed(f"{where}: todos must be an array.")
            yield ListOpened(*_list_fields(fields, where, partial=True))
            opened = True
            yield from _export_todos(events, where)
        elif key in ("name", "description"):
            fields[key] = _value(events, event, value)
        else:
            _skip(events, event)
    name, description = _list_fields(fields, where)
    if not opened:
        yield ListOpened(name, description)
    yield ListClosed(name, description)


def _list_fields(fields, where, partial=False):
    """The list's name and description, checked; with `partial`, a name the file has not given yet is None."""
    name, description = fields.get("name"), fields.get("description")
    if (not partial or "name" in fields) and (not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME):
        raise JobFailed(f"{where}: name must be a string of 1 to {MAX_NAME} characters.")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
        raise JobFailed(f"{where}: description must be a string of at most {MAX_DESCRIPTION} characters, or null.")
    refuse_nul({"name": name, "description": description}, where)
    return name, description


def _export_todos(events, where):
    """The todos of a list, from just inside its "todos" array to its end."""
    for index, (event, value) in enumerate(events, start=1):
        if event == "end_array":
            return
        at = f"{where}, todo {index}"
        if event != "start_map":
            raise JobFailed(f"{at}: expected an object.")
        todo = _value(events, event, value)
        yield load_todo({k: v for k, v in todo.items() if k not in INFORMATIONAL}, at)


def _value(events, event, value, depth=1):
    """The whole value that starts with (event, value), reading the rest of it from `events`."""
    if event not in _CONTAINERS:
        return value
    if depth > MAX_DEPTH:
        raise JobFailed(f"The file nests arrays or objects more than {MAX_DEPTH} deep.")
    if event == "start_map":
        found, key = {}, None
        for event, value in events:
            if event == "map_key":
                key = value
            elif event == "end_map":
                return found
            else:
                found[key] = _value(events, event, value, depth + 1) if event in _CONTAINERS else value
    found = []
    for event, value in events:
        if event == "end_array":
            return found
        found.append(_value(events, event, value, depth + 1) if event in _CONTAINERS else value)
    return found


def _skip(events, event):
    """Read past the value that starts with `event`, keeping none of it (at any depth)."""
    if event not in _CONTAINERS:
        return
    depth = 1
    for event, _ in events:
        depth += _DEPTH.get(event, 0)
        if not depth:
            return


def todoist(upload, name):
    """A Todoist CSV export (one project): tasks become todos, sections tags, notes the task's notes.

    A task is loaded once the next task (or the end of the file) shows that no more notes
    follow it; the notes before the first task are the project's description.
    """
    upload.seek(0)
    text = io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")
    try:
        rows = csv.reader(text)
        try:
            header = [column.strip().upper() for column in next(rows)]
        except (StopIteration, csv.Error) as e:
            raise JobFailed(f"The file is not a CSV file: {e}.") from None
        missing = [column for column in TODOIST_REQUIRED if column not in header]
        if missing:
            raise JobFailed(
                f"The CSV lacks the column(s) {', '.join(missing)} of a Todoist export "
                f"({', '.join(TODOIST_REQUIRED)}, ...); the file is not a Todoist CSV export."
            )
        reader, opened = _TodoistReader(header), False
        try:
            for row in rows:
                done = reader.add(row, rows.line_num)
                if done:
                    if not opened:
                        yield reader.opened(name)
                        opened = True
                    yield _todoist_todo(*done)
        except csv.Error as e:
            raise JobFailed(f"row {rows.line_num}: the CSV is malformed ({e}).") from None
        if not opened:
            yield reader.opened(name)
        if reader.pending:
            yield _todoist_todo(*reader.pending)
        yield ListClosed(name, reader.description)
    finally:
        text.detach()  # the file stays open: it is the caller's


def _todoist_todo(number, raw):
    raw["due_at"] = raw["due_at"].strftime("%Y-%m-%dT%H:%M:%SZ") if raw["due_at"] else None
    return load_todo(raw, f"row {number}")


class _TodoistReader:
    """Turns Todoist rows into raw todos, one row at a time; a row's number is its line in the file."""

    def __init__(self, header):
        self.header = header
        self.section = None
        self.description = None
        self.pending = None  # (row number, raw todo) of the last task: notes may still follow it

    def add(self, row, number):
        """Read a row; return the task it completes, (row number, raw todo), or None."""
        if not any(cell.strip() for cell in row):
            return None  # Todoist separates sections with empty rows
        if len(row) < len(self.header):
            raise JobFailed(f"row {number}: has {len(row)} of the {len(self.header)} columns of the header.")
        cells = dict(zip(self.header, row, strict=False))
        kind = cells["TYPE"].strip().lower()
        if kind == "task":
            done, self.pending = self.pending, (number, self.task(cells, number))
            return done
        if kind == "section":
            self.section = section_tag(cells["CONTENT"])
        elif kind == "note":
            self.note(cells["CONTENT"])
        else:
            raise JobFailed(f"row {number}: TYPE {cells['TYPE']!r} is not task, section or note.")
        return None

    def opened(self, name):
        """The project's list, once its description (the notes before the first task) is whole."""
        refuse_nul({"description": self.description}, "the notes before the first task")
        return ListOpened(name, self.description)

    def task(self, cells, number):
        priority = cells["PRIORITY"].strip()
        if priority not in TODOIST_PRIORITY:
            raise JobFailed(f"row {number}: PRIORITY {priority!r} is not 1, 2, 3 or 4.")
        return {
            "title": cells["CONTENT"].strip(),
            "notes": cells["DESCRIPTION"].strip() or None,
            "priority": TODOIST_PRIORITY[priority],
            "due_at": todoist_date(cells["DATE"], cells.get("TIMEZONE", ""), number),
            "tags": [self.section] if self.section else [],
        }

    def note(self, content):
        content = content.strip()
        if self.pending is None:  # a comment on the project itself
            self.description = "\n\n".join(filter(None, [self.description, content]))
            return
        todo = self.pending[1]
        todo["notes"] = "\n\n".join(filter(None, [todo["notes"], content]))


def section_tag(name):
    """A section's name as a tag: letters, digits, '-' and '_', lower-cased, at most 50 characters."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower()).strip("-")[:50] or None


def todoist_date(value, zone, number):
    """The due time of a Todoist DATE: a date (midnight) or a date and time, in the row's TIMEZONE (else UTC)."""
    value = value.strip()
    if not value:
        return None
    try:
        tz = ZoneInfo(zone.strip()) if zone.strip() else UTC
    except (ZoneInfoNotFoundError, ValueError):
        raise JobFailed(f"row {number}: TIMEZONE {zone!r} is not a known time zone.") from None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:
            when = dateparser.parse(value, default=datetime.combine(datetime.now(tz).date(), time()))
        except (ValueError, OverflowError):
            raise JobFailed(
                f"row {number}: DATE {value!r} is not a date this import understands "
                "(e.g. 2026-12-07, 2026-12-07 09:30 or Dec 7 2026; recurring dates such as 'every day' are not)."
            ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC)


__all__ = ["CARRIED", "ListClosed", "ListOpened", "read"]
