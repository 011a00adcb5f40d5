"""Starting and stopping the local stack's processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from werkzeug.serving import BaseWSGIServer

CACHE = Path(os.environ.get("K1S0_CACHE", Path.home() / ".cache" / "k1s0-image-action"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def serve_http(port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threaded HTTP server on 127.0.0.1:`port`, serving from a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_http(server: ThreadingHTTPServer | BaseWSGIServer | None) -> None:
    if server:
        server.shutdown()
        server.server_close()


def serve_wsgi(port: int, app: WSGIApplication) -> BaseWSGIServer:
    """A threaded WSGI server (werkzeug's) on 127.0.0.1:`port`, serving from a daemon thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def tool(name: str) -> str:
    """A binary from the project's tool cache (scripts/go-tools.sh), else from PATH."""
    cached = CACHE / "bin" / name
    if cached.exists():
        return str(cached)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed; run scripts/setup.sh")
    return found


@dataclass
class Service:
    """A child process with its log in a file; `stop()` ends it and waits."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env) if self.env is not None else None,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            tail = log[-2000:]
            raise RuntimeError(f"{self.name} exited; its log ends:\n{tail}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)
