"""A local HTTP server for download tests: 127.0.0.1 only, a free port, one thread.

Files under the served folder are sent as usual; a path starting with
``/truncated/`` sends the same file's headers (true Content-Length) but only
its first half before closing the connection, like a broken download.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import threading

TRUNCATED = "/truncated/"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if not self.path.startswith(TRUNCATED):
            return super().do_GET()
        path = self.translate_path(self.path.removeprefix(TRUNCATED[:-1]))
        with open(path, "rb") as file:
            content = file.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content[: len(content) // 2])
        self.close_connection = True

    def log_message(self, format, *args):  # keep test output quiet
        pass


@contextlib.contextmanager
def serve(folder: os.PathLike):
    """Serve ``folder`` over HTTP; yields the base URL, and stops the server on exit."""
    handler = functools.partial(_Handler, directory=os.fspath(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def unused_url() -> str:
    """A URL on a free local port that nothing listens on (a server that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
