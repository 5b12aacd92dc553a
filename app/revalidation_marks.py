"""What a commit must forget from the revalidation cache (app/revalidation.py): entry names and marks.

The cache's entries are named here, and a bulk statement's caller marks its session here
with the entries it changed. This module imports nothing of the application, so that the
models and services that change watched rows can use it without importing the cache (which
imports the models).
"""

PENDING_KEYS = "revalidation_keys"  # session.info: entries a commit must tombstone
RAISE_FLOOR = "revalidation_floor"  # session.info: the commit must raise the floor
HANDLED = "revalidation"  # execution option of a bulk statement whose entries the caller names


# Entry names, relative: the cache puts its database's prefix in front (RevalidationCache.key).
def session_key(session_id):
    return f"s:{session_id}"


def user_key(user_id):
    return f"u:{user_id}"


def member_key(user_id, list_id):
    return f"m:{user_id}:{list_id}"


def todo_key(todo_id):
    return f"t:{todo_id}"


def forget_on_commit(session, keys):
    """Tombstone `keys` when `session` commits: for bulk statements run with `handled()`."""
    session.info.setdefault(PENDING_KEYS, set()).update(keys)


def handled():
    """Execution options of a bulk statement whose changed entries the caller passes to forget_on_commit."""
    return {HANDLED: True}
