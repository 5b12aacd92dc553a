"""Gunicorn processes under test: start with gunicorn.conf.py, find workers, read their RSS, stop."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.config import ENV_SETTINGS

ROOT = Path(__file__).resolve().parent.parent


class Server:
    """One Gunicorn master serving `app_spec` on 127.0.0.1:`port`."""

    def __init__(self, name, app_spec, port, env, log_dir, args=(), probe="/healthz"):
        self.name, self.port, self.url, self.probe = name, port, f"http://127.0.0.1:{port}", probe
        environ = {k: v for k, v in os.environ.items() if k not in ENV_SETTINGS and k != "WEB_CONCURRENCY"}
        environ.update({k: str(v) for k, v in env.items()}, HOST="127.0.0.1", PORT=str(port), PYTHONUNBUFFERED="1")
        self.log_path = Path(log_dir) / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *args, app_spec],
                cwd=ROOT,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait(probe)

    def _wait(self, probe, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + probe, timeout=2) as response:
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        log = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{self.name} did not start on {self.url}:\n{log}")

    def drain(self, timeout=120):
        """Wait until the requests a finished load left queued are served: the next answer comes after them."""
        try:
            with urllib.request.urlopen(self.url + self.probe, timeout=timeout):
                pass
        except urllib.error.HTTPError:
            pass
        time.sleep(0.2)

    def worker_pids(self):
        """Live child processes of the master: its workers."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def worker_rss(self):
        """{pid: resident set size in MB} of every worker, from /proc/<pid>/status."""
        sizes = {}
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[pid] = int(line.split()[1]) / 1024
            except OSError:
                continue
        return sizes

    def stop(self, timeout=15):
        """SIGTERM the master, then SIGKILL its process group if it lingers."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
