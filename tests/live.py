"""Run the real service under Gunicorn for a test: start_server(...) -> LiveServer."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.config import ENV_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "live-test-secret-key-" + "s" * 32
TEST_JWT_SECRET_KEY = "live-test-jwt-secret-" + "k" * 32
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class LiveServerError(RuntimeError):
    """The server did not come up; the message carries its log."""


class LiveServer:
    """A Gunicorn master and its workers, serving the app on 127.0.0.1."""

    def __init__(self, process, port, log_path):
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log_path = log_path
        self._final_log = None

    @property
    def pid(self):
        return self.process.pid

    @property
    def log(self):
        """Everything the server wrote to stdout and stderr so far."""
        if self._final_log is not None:
            return self._final_log
        try:
            return Path(self._log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def running(self):
        return self.process.poll() is None

    def worker_pids(self):
        """The pids of the master's live child processes (its workers)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            # After the command name: state, ppid, ...; a zombie is no worker.
            if int(fields[1]) == self.pid and fields[0] != "Z":
                children.append(int(stat.parent.name))
        return sorted(children)

    def wait_for_workers(self, count, timeout=START_TIMEOUT):
        """Wait until the master has `count` workers; return their pids."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) >= count:
                return pids
            time.sleep(0.05)
        raise LiveServerError(f"{count} workers did not start in {timeout}s\n{self.log}")

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM the master (it stops its workers); SIGKILL the group after `timeout`."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        # The master runs in its own process group, so this reaches workers it left behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()
        if self._final_log is None:
            self._final_log = self.log
            Path(self._log_path).unlink(missing_ok=True)
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _free_port():
    """A free port: in LIVE_PORT_RANGE ("8150-8159") when set, else one the OS picks."""
    span = os.environ.get("LIVE_PORT_RANGE")
    candidates = [0]
    if span:
        low, high = (int(part) for part in span.split("-"))
        candidates = range(low, high + 1)
        # Under pytest-xdist each worker takes its own slice of the range.
        worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1))
        if worker.startswith("gw") and count > 1 and len(candidates) >= count:
            candidates = candidates[int(worker[2:]) :: count]
    for candidate in candidates:
        with socket.socket() as s:
            # As Gunicorn does: a port whose old connections linger in TIME_WAIT is free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return s.getsockname()[1]
    raise LiveServerError(f"no free port in LIVE_PORT_RANGE={span}")


def _environment(database_url, workers, port, env):
    environ = {k: v for k, v in os.environ.items() if k not in ENV_SETTINGS and k != "WEB_CONCURRENCY"}
    environ.update(
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        DATABASE_URL=database_url,
        SECRET_KEY=TEST_SECRET_KEY,
        JWT_SECRET_KEY=TEST_JWT_SECRET_KEY,
        PYTHONUNBUFFERED="1",
    )
    for name, value in (env or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = str(value)
    return environ


def _healthy(url):
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_server(database_url, workers=2, env=None, port=None, timeout=START_TIMEOUT):
    """Start Gunicorn with gunicorn.conf.py and wsgi:app; return once /healthz answers.

    `env` adds or overrides environment variables (a value of None removes one);
    the settings of app/config.py are not inherited from the calling process.
    """
    attempts = 1 if port else 3
    for attempt in range(attempts):
        chosen = port or _free_port()
        log_fd, log_path = tempfile.mkstemp(prefix="live-server-", suffix=".log")
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=_environment(database_url, workers, chosen, env),
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(log_fd)
        server = LiveServer(process, chosen, log_path)
        deadline = time.monotonic() + timeout
        # Our master said it listens (another process may hold the port and answer /healthz).
        listening = f"Listening at: {server.url} ({process.pid})"
        while time.monotonic() < deadline and server.running():
            if listening in server.log and _healthy(server.url):
                return server
            time.sleep(0.1)
        log = server.log
        server.stop()
        # Another process may have taken the port between the check and the bind.
        if "Address already in use" in log and attempt + 1 < attempts:
            continue
        raise LiveServerError(f"gunicorn did not answer /healthz on {server.url} within {timeout}s\n{log}")


class LiveWorker:
    """`flask webhooks run --poll`: the worker that `make run` starts beside Gunicorn (mail, webhooks, jobs)."""

    def __init__(self, process, log_path):
        self.process = process
        self._log_path = log_path

    @property
    def log(self):
        try:
            return Path(self._log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM (it ends after the current delivery or job); SIGKILL after `timeout`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        Path(self._log_path).unlink(missing_ok=True)
        return self.process.returncode


def start_worker(database_url, env=None, interval=0.2):
    """Start the polling worker on the same settings as start_server's (PORT aside)."""
    log_fd, log_path = tempfile.mkstemp(prefix="live-worker-", suffix=".log")
    environ = _environment(database_url, 1, 0, {"FLASK_APP": "wsgi:app", **(env or {})})
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "webhooks", "run", "--poll", "--interval", str(interval)],
        cwd=ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    os.close(log_fd)
    return LiveWorker(process, log_path)
