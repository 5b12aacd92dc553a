"""The scopes a personal token can hold, and what each endpoint needs of it.

Every Resource class declares `scope`, in one line; the routing-table test fails for an
endpoint without one, and at run time a personal token on an undeclared endpoint is
refused (403), so a new endpoint can be forgotten by nobody but its own test:

    scope = "todos"                  # a family: GET/HEAD need todos:read, other methods todos:write
    scope = "changes:read"           # one scope for every method
    scope = {"get": "profile:read", "patch": LOGIN_ONLY, "delete": LOGIN_ONLY}   # per method
    scope = LOGIN_ONLY               # a login's token only: a personal token gets 403
    scope = PUBLIC                   # needs no login; a personal token is not even read
"""

SCOPES = (
    "profile:read",
    "lists:read",
    "lists:write",
    "todos:read",
    "todos:write",
    "webhooks:read",
    "webhooks:write",
    "changes:read",
    "exports",
)
PUBLIC = "public"
LOGIN_ONLY = "login only"
READS = frozenset({"GET", "HEAD"})


def expand(scopes):
    """The scopes a token effectively holds: `x:write` includes `x:read`."""
    held = set(scopes)
    return held | {s.removesuffix(":write") + ":read" for s in held if s.endswith(":write")}


def declaration_of(view):
    """The `scope` declared by a view's Resource class (or the function itself), else None."""
    return getattr(getattr(view, "view_class", view), "scope", None)


def needed_scope(declaration, method):
    """The scope, PUBLIC or LOGIN_ONLY that `method` needs under `declaration`; None if undecided."""
    if isinstance(declaration, dict):
        declaration = declaration.get(method.lower(), declaration.get("get") if method == "HEAD" else None)
    if declaration in (None, PUBLIC, LOGIN_ONLY) or declaration in SCOPES:
        return declaration
    if f"{declaration}:read" in SCOPES and f"{declaration}:write" in SCOPES:
        return f"{declaration}:{'read' if method in READS else 'write'}"
    raise ValueError(f"{declaration!r} is neither a scope, a scope family, PUBLIC nor LOGIN_ONLY")


def endpoint_scope(app, endpoint, method):
    """What `method` on the routing table's `endpoint` needs; static files are public."""
    if endpoint == "static" or endpoint.endswith(".static"):
        return PUBLIC
    return needed_scope(declaration_of(app.view_functions[endpoint]), method)
