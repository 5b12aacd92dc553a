"""A TCP proxy that can be cut and restored: a database or Redis going away, without stopping it."""

import contextlib
import socket
import threading


def _bind(ports):
    low, high = (int(part) for part in ports.split("-"))
    for port in range(low, high + 1):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", port))
            return listener
        except OSError:
            listener.close()
    raise OSError(f"no free port in {ports}")


class TcpProxy:
    """Listen on 127.0.0.1 (the first free port of `ports`, "low-high") and pipe connections to `target_port`."""

    def __init__(self, target_port, target_host="127.0.0.1", ports="0-0"):
        self.target = (target_host, target_port)
        self.listener = _bind(ports)
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self._lock = threading.Lock()
        self._conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self):
        """Refuse new connections and break every open one, as a crashed server would."""
        self.up = False
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.listener.close()
