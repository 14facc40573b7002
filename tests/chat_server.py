"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol, for
the openai backend's tests. ``ChatServer.mode`` picks its behaviour per test."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    """Modes: ok, ignore_n (one choice whatever n), fail_once (HTTP 500 then ok),
    error_500, malformed, slow (sleeps ``delay_s``), stream, stream_cut (no [DONE]),
    bad_request (HTTP 400), unauthorised (needs ``api_key``). ``reply`` replaces the
    sample texts with one fixed answer; ``chunk_delay_s`` paces streamed chunks; ``models``
    is what ``GET /v1/models`` lists (None: it fails with HTTP 500, as ``transformers serve``
    does without a Hugging Face cache); ``pinned`` answers a request that names no model."""

    def __init__(self, mode: str = "ok", *, delay_s: float = 2.0,
                 api_key: str | None = None, reply: str | None = None,
                 chunk_delay_s: float = 0.0,
                 models: tuple[str, ...] | None = ("served-model",),
                 pinned: str = "pinned-model") -> None:
        self.mode, self.delay_s, self.api_key, self.models = mode, delay_s, api_key, models
        self.pinned = pinned
        self.reply, self.chunk_delay_s = reply, chunk_delay_s
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/v1/models":
                    return self._send(404, b'{"error": "not found"}')
                if server.models is None:
                    return self._send(500, b"Internal Server Error")
                listing = {"object": "list", "data": [{"id": name, "object": "model"}
                                                      for name in server.models]}
                self._send(200, json.dumps(listing).encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    count = len(server.requests)
                mode = server.mode
                if self.path != "/v1/chat/completions":
                    return self._send(404, b'{"error": "not found"}')
                if server.api_key and self.headers.get("Authorization") != \
                        f"Bearer {server.api_key}":
                    return self._send(401, b'{"error": "bad key"}')
                if mode == "error_500" or (mode == "fail_once" and count == 1):
                    return self._send(500, b'{"error": "engine overloaded"}')
                if mode == "bad_request":
                    return self._send(400, b'{"error": "unknown model"}')
                if mode == "malformed":
                    return self._send(200, b'{"choices": [{"mess')
                if mode == "slow":
                    time.sleep(server.delay_s)
                n = 1 if mode == "ignore_n" else body.get("n", 1)
                texts = [server.reply if server.reply is not None
                         else f"Sample {body.get('seed')}-{i} about the topic." for i in range(n)]
                if mode in ("stream", "stream_cut"):
                    return self._stream(texts, cut=mode == "stream_cut")
                answer = {"id": "x", "object": "chat.completion", "model": body.get("model", server.pinned),
                          "choices": [{"index": i, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": text}}
                                      for i, text in enumerate(texts)],
                          "usage": {"completion_tokens": 6 * n}}
                self._send(200, json.dumps(answer).encode())

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, texts: list[str], cut: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for index, text in enumerate(texts):
                    for word in text.split(" "):
                        chunk = {"choices": [{"index": index, "delta": {"content": word + " "}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(server.chunk_delay_s)
                if not cut:
                    self.wfile.write(b"data: [DONE]\n\n")

        return Handler
