"""Every request the OpenAPI document allows fits what Gunicorn reads, so every answer is the service's.

Gunicorn refuses a request line longer than `limit_request_line` with its own `414` in
text/html, before the service sees it: a schema-valid request must never get there. Each
query, path and header argument is bounded in the document and in the parsers, and the
longest request line the document allows, percent-encoded, fits.
"""

import re
from pathlib import Path

import pytest
import requests

API = "/api/v1"

ROOT = Path(__file__).resolve().parent.parent
# One character percent-encoded at its worst: four UTF-8 bytes, three characters each.
WORST_ENCODED_CHARACTER = 12
# An integer of any bound the document states fits in this many characters ("-2147483648").
BOUNDED_INTEGER = 11
ASCII_CLASS = re.compile(r"^\^\[[A-Za-z0-9_.\\-]+\](\*|\+|\{\d+(,\d+)?\})\$$")


def gunicorn_setting(name):
    match = re.search(rf"^{name} = (\d+)", (ROOT / "gunicorn.conf.py").read_text(), re.MULTILINE)
    assert match, f"gunicorn.conf.py sets {name}"
    return int(match[1])


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                parameters = [*item.get("parameters", ()), *operation.get("parameters", ())]
                yield method.upper(), path, [_resolve(spec, p) for p in parameters]


def _resolve(spec, parameter):
    if "$ref" in parameter:
        return spec["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
    return parameter


def longest_value(schema):
    """The most characters one value of `schema` takes in a URL, or None when it is unbounded."""
    kind = schema.get("type")
    if "anyOf" in schema:
        choices = [longest_value(choice) for choice in schema["anyOf"]]
        return None if None in choices else max(choices)
    if "enum" in schema:
        return max(len(str(choice)) for choice in schema["enum"]) * WORST_ENCODED_CHARACTER
    if kind == "boolean":
        return len("false")
    if kind == "integer":
        bounded = "maximum" in schema and "minimum" in schema
        return BOUNDED_INTEGER if bounded else None
    if kind == "string" and schema.get("format") in ("date-time", "date"):
        return 64 * 3  # RFC 3339 with a fraction and an offset, every character escaped
    if kind == "string" and "maxLength" in schema:
        ascii_only = ASCII_CLASS.match(schema.get("pattern", ""))
        return schema["maxLength"] * (1 if ascii_only else WORST_ENCODED_CHARACTER)
    if kind == "string" and ASCII_CLASS.match(schema.get("pattern", "")):
        bound = re.search(r"\{(?:\d+,)?(\d+)\}\$$", schema["pattern"])
        return int(bound[1]) if bound else None
    if kind == "array" and "maxItems" in schema:
        item = longest_value(schema["items"])
        return None if item is None else schema["maxItems"] * item
    return None


def longest_request_line(method, path, parameters):
    """(length, unbounded names) of the longest request line an operation's arguments allow."""
    length = len(f"{method} {path}? HTTP/1.1")
    unbounded = []
    for parameter in parameters:
        if parameter["in"] not in ("query", "path"):
            continue
        longest = longest_value(parameter["schema"])
        if longest is None:
            unbounded.append(parameter["name"])
            continue
        name = len(parameter["name"]) + 2  # "name=" and "&"
        repeats = parameter["schema"].get("maxItems", 1) if parameter["schema"].get("type") == "array" else 1
        if parameter["in"] == "path":
            length += longest - len("{" + parameter["name"] + "}")
        else:
            length += longest + name * repeats
    return length, unbounded


def test_every_argument_of_every_operation_is_bounded_and_fits_the_request_line(client):
    spec = client.get(f"{API}/openapi.json").json
    limit = gunicorn_setting("limit_request_line")
    too_long, unbounded = [], []
    for method, path, parameters in operations(spec):
        length, names = longest_request_line(method, path, parameters)
        unbounded += [f"{method} {path} {name}" for name in names]
        if length > limit:
            too_long.append(f"{method} {path}: {length}")
        for header in (p for p in parameters if p["in"] == "header"):
            if header["schema"].get("maxLength") is None and "enum" not in header["schema"]:
                unbounded.append(f"{method} {path} header {header['name']}")
    assert unbounded == []
    assert too_long == []
    assert limit == 8190  # the most Gunicorn reads, and nginx's large_client_header_buffers


def test_the_bounds_the_document_states_are_the_parsers_bounds(client, auth):
    user = auth.user()
    todo_list = client.post(f"{API}/lists", json={"name": "Home"}, headers=user.headers).json
    r = client.get(f"{API}/todos?cursor=" + "A" * 3001, headers=user.headers)
    assert (r.status_code, r.mimetype) == (400, "application/problem+json")
    assert "cursor" in r.json["errors"]
    r = client.get(f"{API}/lists?cursor=abc%20def", headers=user.headers)
    assert (r.status_code, r.json["errors"].keys()) == (400, {"cursor"})
    tags = "&".join(f"tag=t{n}" for n in range(21))
    r = client.get(f"{API}/lists/{todo_list['id']}/todos?{tags}", headers=user.headers)
    assert (r.status_code, r.mimetype) == (400, "application/problem+json")
    assert r.json["errors"] == {"tag": ["At most 20."]}
    tags = "&".join(f"tag=t{n}" for n in range(20))
    assert client.get(f"{API}/todos?{tags}", headers=user.headers).status_code == 200
    for name in ("If-None-Match", "If-Match"):
        r = client.get(f"{API}/lists/{todo_list['id']}", headers={**user.headers, name: '"' + "a" * 1023 + '"'})
        assert (r.status_code, r.mimetype, list(r.json["errors"])) == (400, "application/problem+json", [name])
    r = client.get(f"{API}/shared/{'a' * 65}/todos")
    assert (r.status_code, r.mimetype) == (404, "application/problem+json")
    spec = client.get(f"{API}/openapi.json").json
    tokens = [p for _, path, ps in operations(spec) if "{token}" in path for p in ps if p["name"] == "token"]
    assert tokens and {token["schema"]["maxLength"] for token in tokens} == {64}


@pytest.mark.serial
def test_the_longest_request_line_allowed_gets_the_services_own_answer(app, auth, live_server):
    """Through Gunicorn: the longest GET /todos the document allows is answered in problem+json, not 414."""
    user = auth.user()
    server = live_server(workers=1)
    query = [("cursor", "A" * 3000), ("q", "\U0001f600" * 200), ("sort", "-created_at")]
    query += [("tag", f"{n:02d}" + "x" * 48) for n in range(20)]
    query += [("due_before", "2026-12-07T12:00:00.123456+01:00"), ("list_id", "2147483647")]
    url = server.url + f"{API}/todos?" + requests.models.RequestEncodingMixin._encode_params(query)
    assert len(url) > 4094  # longer than Gunicorn reads by default
    login = requests.post(
        f"{server.url}{API}/auth/login", json={"email": user.email, "password": user.password}, timeout=30
    )
    r = requests.get(url, headers={"Authorization": f"Bearer {login.json()['access_token']}"}, timeout=30)
    assert (r.status_code, r.headers["Content-Type"]) == (400, "application/problem+json")
    assert r.json()["errors"] == {"cursor": ["Invalid cursor."]}
