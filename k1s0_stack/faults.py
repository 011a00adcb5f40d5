"""A fault-injecting HTTP proxy: forwards to a real service, except that the next N requests whose
path starts with a prefix are answered with an error status (503 by default), after `hang` s."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from k1s0_stack.process import free_port, serve_http, stop_http

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class FaultProxy:
    upstream: str
    port: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    status: int = 503
    hang: float = 0.0  # seconds a failing request waits before its answer (past a client timeout)
    # (method, path, status answered) for every request, in order
    log: list[tuple[str, str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int, path_prefix: str = "/") -> None:
        with self._lock:
            self.failures[path_prefix] = count

    def injected(self) -> int:
        return sum(1 for _, _, status in self.log if status == self.status)

    def start(self) -> FaultProxy:
        self.port = self.port or free_port()
        self._server = serve_http(self.port, _handler(self))
        return self

    def stop(self) -> None:
        stop_http(self._server)

    def _take_failure(self, path: str) -> bool:
        with self._lock:
            for prefix, left in self.failures.items():
                if left > 0 and path.startswith(prefix):
                    self.failures[prefix] = left - 1
                    return True
        return False


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if proxy._take_failure(self.path):
                proxy.log.append((self.command, self.path, proxy.status))
                if proxy.hang:
                    time.sleep(proxy.hang)
                data = b'{"code":14,"message":"injected fault"}'
                self.send_response(proxy.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            answer = requests.request(
                self.command,
                proxy.upstream + self.path,
                headers=headers,
                data=body,
                timeout=30,
                allow_redirects=False,
            )
            proxy.log.append((self.command, self.path, answer.status_code))
            self.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-encoding":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = _forward

    return Handler
