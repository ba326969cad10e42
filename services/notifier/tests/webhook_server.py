"""A real HTTP server on loopback for webhook tests: records every request and answers
each path as told (a status, a delay, a body, a redirect)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Behaviour:
    #: Statuses answered in turn (the last one repeats).
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    body: bytes = b"ok"
    location: str = ""


class WebhookServer:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.behaviours: dict[str, Behaviour] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with server.lock:
                    server.received.append(
                        Received(self.path, dict(self.headers.items()), body, time.monotonic())
                    )
                    behaviour = server.behaviours.setdefault(self.path, Behaviour())
                    status = behaviour.statuses[0]
                    if len(behaviour.statuses) > 1:
                        behaviour.statuses.pop(0)
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                try:
                    self.send_response(status)
                    if behaviour.location:
                        self.send_header("Location", behaviour.location)
                    self.send_header("Content-Length", str(len(behaviour.body)))
                    self.end_headers()
                    self.wfile.write(behaviour.body)
                except OSError:
                    pass  # the client gave up (a timeout under test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, **behaviour: object) -> None:
        with self.lock:
            self.behaviours[path] = Behaviour(**behaviour)  # type: ignore[arg-type]

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def __enter__(self) -> WebhookServer:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
