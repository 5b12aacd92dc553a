"""Gunicorn settings; HOST, PORT and WEB_CONCURRENCY come from the environment."""

import os

# The gevent worker class (GUNICORN_WORKER_CLASS=gevent) serves the event stream
# (/api/v1/events): one open stream is a greenlet, not a worker. It must patch the
# standard library before the app (preloaded below) imports psycopg, redis or
# threading, so that they pick the cooperative versions.
WORKER_CLASS = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
if WORKER_CLASS == "gevent":
    from gevent import monkey

    monkey.patch_all()

import shutil  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import gunicorn.http.wsgi  # noqa: E402

# Metrics of every worker go to one directory; it must be set before a worker imports
# prometheus_client, and start empty so a restart does not add up old samples.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _metrics_dir, _own_metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]), False
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for _stale in _metrics_dir.glob("*.db"):
        _stale.unlink()
else:
    _parent = Path("/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir())
    # Directories of masters that died without cleaning up (SIGKILL) go now.
    for _old in _parent.glob("todos-metrics-*-*"):
        try:
            os.kill(int(_old.name.split("-")[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(_old, ignore_errors=True)
        except (ValueError, PermissionError):
            pass
    _prefix = f"todos-metrics-{os.getpid()}-"
    _metrics_dir, _own_metrics_dir = Path(tempfile.mkdtemp(prefix=_prefix, dir=_parent)), True
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)

from app.logs import logging_config  # noqa: E402 - after PROMETHEUS_MULTIPROC_DIR is set

# No product banner: the Server header names no software or version.
gunicorn.http.wsgi.SERVER = "todos"

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# sync workers, one per core: measured best on throughput and tail latency (see README).
# The event stream needs gevent workers (see above and the README's "Sync" section).
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
worker_class = WORKER_CLASS
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "2000"))
timeout = 30
graceful_timeout = 30  # SIGTERM: in-flight requests get this long to finish
keepalive = 5
# The longest request line Gunicorn reads (its default is 4094). Every query argument in the
# OpenAPI document is bounded so that any request it allows fits, percent-encoded
# (tests/test_request_line.py); nginx's large_client_header_buffers (8k) is the same bound.
limit_request_line = 8190
max_requests = 10000
max_requests_jitter = 1000
# Build the app once in the master: a configuration error stops start-up with its
# one-line message instead of a crash loop of workers.
preload_app = True
# The control socket lives at one fixed path per user; several instances on one host
# would fight over it, and nothing here uses it.
control_socket_disable = True
# Forwarded headers are believed only as TRUSTED_PROXIES says, and the app applies that itself
# (werkzeug's ProxyFix counts the hops: app/__init__.py). Gunicorn trusts no peer at all: its default
# would believe X-Forwarded-Proto (and -Ssl, -Protocol) from any loopback client, even at 0 proxies.
forwarded_allow_ips = ""
# One JSON line per request comes from the app (app/logs.py); Gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Gunicorn's own messages in the same JSON lines on stdout as the app's.
logconfig_dict = logging_config(loglevel)


def when_ready(server):
    """Let the timers that preloading started end before the first workers fork.

    Without REDIS_URL the rate limiter's in-memory storage starts a 10 ms expiry timer
    when the app is built. Under gevent that timer is a greenlet: a worker forked while it
    is pending runs it again and logs a KeyError from threading at start-up.
    """
    import threading

    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer) and thread.is_alive():
            thread.join(timeout=1)


def child_exit(server, worker):
    """Drop a dead worker's live gauges; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this master made."""
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
