"""Helpers for the synthetic-data tests: a real HTTP server speaking the OpenAI chat-completions API with
scripted answers (it records every request and the most requests it had in flight at once), and the texts of
a small corpus."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], str | list[str]]

MATH = '''"""Small helpers."""


def clamp(value, low, high):
    """Limit value to the range [low, high]."""
    if value < low:
        return low
    if value > high:
        return high
    return value


def mean(values):
    total = 0
    for value in values:
        total += value
    return total / len(values)


def word_count(text):
    words = [word for word in text.split() if word.strip()]
    return len(words)


class Counter:
    def __init__(self):
        self.count = 0

    def bump(self, by=1):
        self.count += by
        return self.count
'''

GUIDE = """# Deployment guide

The service is deployed with a rolling update: each node is drained, upgraded, checked and put back.
A node that fails its health check three times in a row is taken out of the pool and an operator is paged.

## Configuration

Settings live in service.toml. The listen port defaults to 8443 and the worker count to twice the cores.
Changes to the worker count need a restart; everything else is reloaded when the file changes on disk.
"""

VALID = """# Incident handbook

When the primary database stops answering the on-call engineer first checks the replication lag on
the standby, then promotes the standby if the lag is below thirty seconds and the primary stays silent.
Every promotion is written up within two working days with a timeline and the follow-up actions agreed.
"""


class ScriptedServer:
    """An OpenAI-compatible server on loopback whose answers come from ``answer(payload)``."""

    def __init__(self, answer: Answer, *, delay_s: float = 0.05, model: str = "scripted-model") -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.model = model
        self.requests: list[dict[str, Any]] = []  # chat completions
        self.gets: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                server.gets.append(self.path)
                if self.path.endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                with server._lock:
                    server.requests.append(payload)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay_s)
                    texts = server.answer(payload)
                    texts = [texts] if isinstance(texts, str) else texts
                    texts = (texts * payload.get("n", 1))[: payload.get("n", 1)]
                    choices = [
                        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                        for i, t in enumerate(texts)
                    ]
                    prompt = sum(len(m["content"].split()) for m in payload["messages"])
                    completion = sum(len(t.split()) for t in texts)
                    usage = {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                    }
                    self._send(
                        200,
                        {
                            "id": "x",
                            "object": "chat.completion",
                            "model": server.model,
                            "choices": choices,
                            "usage": usage,
                        },
                    )
                finally:
                    with server._lock:
                        server.in_flight -= 1

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def prompt_of(payload: dict[str, Any]) -> str:
    return payload["messages"][-1]["content"]


def symbol_of(payload: dict[str, Any]) -> str:
    """The function a code prompt is about (the text between the first pair of backquotes)."""
    return prompt_of(payload).split("`")[1]
