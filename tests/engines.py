"""One engine for every test app of a process with the same URL and engine options.

Every test builds an app, and Flask-SQLAlchemy makes each app an engine of its own, whose
cache of compiled statements starts empty: SQLAlchemy compiled every statement each test
ran anew, a fifth of the parallel run's CPU time (195 s of CPU before, 158 s after). Here
the apps of a pytest process with the same URL and engine options share one engine, as the
requests of a server's worker do; each test still ends by disposing of its pool. The engine
is configured once (app.db_engine, the pool metrics), else its listeners would run once per
app. Test-only: a server builds its app, and so its engine, once.

Its own module, imported once: pytest loads conftest.py both as a plugin and, for the test
modules that import from it, as `tests.conftest`.
"""

import weakref
from contextlib import contextmanager

from flask_sqlalchemy.extension import SQLAlchemy

from app import db_engine, metrics

_shared = {}  # (bind key, engine options) -> engine
_own = None  # within own_engines(): the engines made meanwhile, each for one app


def install_shared_engines():
    if getattr(SQLAlchemy._make_engine, "shared_by_tests", False):
        return
    original = SQLAlchemy._make_engine

    def make_engine(self, bind_key, options, app):
        if _own is not None:
            engine = original(self, bind_key, options, app)
            _own.append(engine)
            return engine
        key = (bind_key, repr(sorted(options.items(), key=lambda item: item[0])))
        if key not in _shared:
            _shared[key] = original(self, bind_key, options, app)
        return _shared[key]

    make_engine.shared_by_tests = True
    SQLAlchemy._make_engine = make_engine
    db_engine.configure = _once_per_engine(db_engine.configure)
    metrics.watch_pool = _once_per_engine(metrics.watch_pool)


def _once_per_engine(configure):
    done = weakref.WeakSet()

    def configure_once(engine):
        if engine not in done:
            done.add(engine)
            configure(engine)

    return configure_once


@contextmanager
def own_engines():
    """Meanwhile each new app gets an engine of its own (for a test that changes its engine for
    good, such as removing its listeners); they are disposed of at the end."""
    global _own
    _own = []
    try:
        yield
    finally:
        for engine in _own:
            engine.dispose()
        _own = None
