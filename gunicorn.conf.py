"""Gunicorn settings; HOST, PORT and WEB_CONCURRENCY come from the environment."""

import os

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
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
