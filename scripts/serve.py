"""Run Gunicorn (gevent workers) and the webhook delivery worker together; stop both when either stops or on a signal.

`make run` starts this. SIGINT/SIGTERM (Ctrl-C, or make being stopped) are passed to
both children; the children also get SIGTERM from the kernel if this process dies,
and this process stops them if its own parent (make) goes away.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 35  # Gunicorn's graceful_timeout, plus a little


def _die_with_parent():
    # Not on Linux: the parent-watch loop in main() still stops the children.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(argv, env=None):
    return subprocess.Popen(argv, preexec_fn=_die_with_parent, env=env)


def _environment():
    """This process's environment, with PUBLIC_BASE_URL defaulting to where Gunicorn listens.

    The worker builds absolute URLs (webhook and reminder payloads, mail links) outside any
    request: without the setting it would not know the development server's address.
    """
    from dotenv import dotenv_values

    env = dict(os.environ)
    if not env.get("PUBLIC_BASE_URL") and not dotenv_values(".env").get("PUBLIC_BASE_URL"):
        env["PUBLIC_BASE_URL"] = f"http://{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '8000')}"
    return env


def main():
    bin_dir = os.path.dirname(sys.executable)
    env = _environment()
    children = [
        # One port for everything, the event stream included: gevent workers, so that open
        # streams (GET /api/v1/events) hold no worker (README "Sync" for production routing).
        _start(
            [os.path.join(bin_dir, "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
            env={"GUNICORN_WORKER_CLASS": "gevent", **env},
        ),
        _start([os.path.join(bin_dir, "flask"), "webhooks", "run"], env=env),
    ]
    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: stopping.append(signum))
    parent = os.getppid()
    while not stopping and all(child.poll() is None for child in children) and os.getppid() == parent:
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    codes = [child.returncode for child in children]
    return 0 if stopping else next((code for code in codes if code), 0)


if __name__ == "__main__":
    sys.exit(main())
