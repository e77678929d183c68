"""A local HTTP server for download tests: 127.0.0.1 only, a free port, threads that stop themselves.

Files under the served folder are sent as usual, except those whose URL path is
given a fault in ``faults`` (looked up at each request, so a test may change it):

- ``"truncated"``: the true Content-Length, half the file, then the connection closes;
- ``"long"``: a Content-Length of half the file, then all of it;
- ``"huge"``: a Content-Length of :data:`HUGE_LENGTH`, then the file;
- ``"invalid-length"``: a Content-Length that is not a number;
- ``"endless"``: no Content-Length, and zeros until the client goes;
- ``"trickle"``: the true Content-Length, then one byte per :data:`TRICKLE_SECONDS`;
- ``"slow-headers"``: the status line, then one byte of headers per :data:`TRICKLE_SECONDS`;
- ``"stall"``: the true Content-Length, half the file, then nothing.

Every endless or slow response also ends when the server stops or after
:data:`BOUND_SECONDS`, so no test can hang on it.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import threading
import time

FAULTS = ("truncated", "long", "huge", "invalid-length", "endless", "trickle", "slow-headers",
          "stall")
HUGE_LENGTH = 10**15
TRICKLE_SECONDS = 1.0
BOUND_SECONDS = 30.0
_ZEROS = bytes(1 << 16)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handlers, which end once ``stopping`` is set
    block_on_close = True

    def __init__(self, handler, faults: dict, log: list | None):
        super().__init__(("127.0.0.1", 0), handler)
        self.faults, self.log, self.stopping = faults, log, threading.Event()


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: _Server
    timeout = BOUND_SECONDS  # a write to a client that stopped reading ends too

    def do_GET(self):
        if self.server.log is not None:
            self.server.log.append(self.path)
        fault = self.server.faults.get(self.path)
        if fault is None:
            return super().do_GET()
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; the faults are {FAULTS}")
        with open(self.translate_path(self.path), "rb") as file:
            content = file.read()
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client gave up (or the bound passed)
            getattr(self, f"_send_{fault.replace('-', '_')}")(content)

    def _start(self, length):
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send_truncated(self, content):
        self._start(len(content))
        self.wfile.write(content[: len(content) // 2])

    def _send_long(self, content):
        self._start(len(content) // 2)
        self.wfile.write(content)

    def _send_huge(self, content):
        self._start(HUGE_LENGTH)
        self.wfile.write(content)

    def _send_invalid_length(self, content):
        self._start("12abc")
        self.wfile.write(content)

    def _send_endless(self, content):
        self._start(None)
        self._until_stopped(lambda: self.wfile.write(_ZEROS), interval=0)

    def _send_trickle(self, content):
        self._start(len(content))
        pieces = iter(content)
        self._until_stopped(lambda: self.wfile.write(bytes([next(pieces)])), TRICKLE_SECONDS)

    def _send_slow_headers(self, content):
        self.wfile.write(b"HTTP/1.0 200 OK\r\n")
        pieces = iter(f"Content-Length: {len(content)}\r\n\r\n".encode())
        self._until_stopped(lambda: self.wfile.write(bytes([next(pieces)])), TRICKLE_SECONDS)

    def _send_stall(self, content):
        self._start(len(content))
        self.wfile.write(content[: len(content) // 2])
        self._until_stopped(lambda: None, BOUND_SECONDS)

    def _until_stopped(self, send, interval: float) -> None:
        """Call ``send`` every ``interval`` s until the server stops, the bound, or the end of what to send."""
        end = time.monotonic() + BOUND_SECONDS
        with contextlib.suppress(StopIteration):
            while time.monotonic() < end and not self.server.stopping.wait(interval):
                send()

    def log_message(self, format, *args):  # keep test output quiet
        pass


@contextlib.contextmanager
def serve(folder: os.PathLike, faults: dict[str, str] | None = None, log: list | None = None):
    """Serve ``folder`` over HTTP; yields the base URL, and stops the server and its handlers on exit.

    Args:
        folder: the folder to serve.
        faults: URL path (``"/tiny/model.weights.h5"``) to fault (:data:`FAULTS`).
        log: a list to which the path of every request is appended.
    """
    server = _Server(functools.partial(_Handler, directory=os.fspath(folder)),
                     {} if faults is None else faults, log)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def unused_url() -> str:
    """A URL on a free local port that nothing listens on (a server that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
