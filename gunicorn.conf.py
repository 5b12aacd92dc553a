"""Gunicorn settings; HOST, PORT and WEB_CONCURRENCY come from the environment."""

import os
import shutil
import tempfile
from pathlib import Path

import gunicorn.http.wsgi

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
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
worker_class = "sync"
timeout = 30
graceful_timeout = 30  # SIGTERM: in-flight requests get this long to finish
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000
# Build the app once in the master: a configuration error stops start-up with its
# one-line message instead of a crash loop of workers.
preload_app = True
# The control socket lives at one fixed path per user; several instances on one host
# would fight over it, and nothing here uses it.
control_socket_disable = True
# One JSON line per request comes from the app (app/logs.py); Gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Gunicorn's own messages in the same JSON lines on stdout as the app's.
logconfig_dict = logging_config(loglevel)


def child_exit(server, worker):
    """Drop a dead worker's live gauges; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this master made."""
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
