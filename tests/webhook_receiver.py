"""A real HTTP receiver on 127.0.0.1 for webhook tests: records requests, answers as scripted."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

PORTS = range(8140, 8148)


class Receiver:
    """Answers each POST with the next scripted status (then `default`), after `delay` seconds."""

    def __init__(self):
        self.requests = []
        self.script = []
        self.default = 200
        self.delay = 0.0
        self.lock = threading.Lock()
        self.server = None

    @property
    def netloc(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def url(self):
        return f"http://{self.netloc}/hook"

    def answer(self):
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def wait_for(self, count, timeout=20.0):
        """Wait until `count` requests arrived; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        return list(self.requests)

    def ids(self):
        return [r.headers["webhook-id"] for r in self.requests]


def _handler(receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.answer()
            with receiver.lock:
                receiver.requests.append(
                    SimpleNamespace(path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body)
                )
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"http://{receiver.netloc}/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    return Handler


def start():
    """Start a receiver on the first free port of the range; stop it with stop()."""
    receiver = Receiver()
    for port in PORTS:
        try:
            receiver.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
            break
        except OSError:
            continue
    else:
        raise RuntimeError("no free port for the webhook receiver")
    receiver.server.daemon_threads = True
    # Polled every 50 ms, not the default 500: stop() waits for the poll to notice.
    threading.Thread(target=receiver.server.serve_forever, args=(0.05,), daemon=True).start()
    return receiver


def stop(receiver):
    receiver.server.shutdown()
    receiver.server.server_close()
