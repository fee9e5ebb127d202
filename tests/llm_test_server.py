#!/usr/bin/env python3
"""A local HTTP server that speaks the OpenAI chat-completions protocol and
returns SCRIPTED answers for tests. It runs no model: its answers are fixed
rules, labelled as such in every reply, and must never be presented as a
model's. Binds 127.0.0.1 on a free port and prints "PORT <n>" on stdout.

Behaviour is switched at run time with POST /control {"mode": ..., ...}:
  ok         valid answers: go_to_work = <go_to_work> (default 0.1), others 0.9/0.8; with
             "go_to_work_seq": [a, b, ...] and "per": k, requests 1..k answer a, k+1..2k b, ..., the last
             value from then on (one value per refresh when k is the requests of one refresh)
  status     every request answered with HTTP <status> (e.g. 500)
  429        the first <count> requests get 429 with Retry-After: <retry_after>, then ok
  flaky      the first request with a given body gets HTTP 503, the same body again is answered ok
             (a client that retries 5xx gets every answer; one that does not gets none)
  slow       sleeps <delay> s, then ok (delay also applies in ok mode when set)
  malformed  content is not JSON
  schema     content lacks comply_isolation
  range      go_to_work = 1.7
  half       go_to_work = 1.7 when the request's seed is odd, valid answers otherwise
  huge       HTTP 200 with a body of <size> bytes (default 17 MiB) that is no chat completion
GET /stats returns {"requests", "max_in_flight", "auth", "modes_seen"}; POST /control resets it.
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"mode": "ok", "go_to_work": 0.1, "status": 500, "count": 0, "retry_after": 1, "delay": 0.0}
STATS = {"requests": 0, "in_flight": 0, "max_in_flight": 0, "auth": []}
SEEN_BODIES = set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # no 40 ms Nagle/delayed-ACK stalls

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            self.reply(200, {"object": "list", "data": [{"id": "civitas-test-server", "object": "model"}]})
        elif self.path == "/stats":
            with LOCK:
                self.reply(200, dict(STATS))
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        if self.path == "/control":
            with LOCK:
                STATE.clear()
                STATE.update({"mode": "ok", "go_to_work": 0.1, "status": 500, "count": 0, "retry_after": 1, "delay": 0.0})
                STATE.update(json.loads(raw or b"{}"))
                STATS.update({"requests": 0, "in_flight": 0, "max_in_flight": 0, "auth": []})
                SEEN_BODIES.clear()
            self.reply(200, {"ok": True})
            return
        if self.path != "/v1/chat/completions":
            self.reply(404, {"error": "not found"})
            return
        req = json.loads(raw)
        with LOCK:
            STATS["requests"] += 1
            n = STATS["requests"]
            STATS["in_flight"] += 1
            STATS["max_in_flight"] = max(STATS["max_in_flight"], STATS["in_flight"])
            auth = self.headers.get("Authorization")
            if auth and auth not in STATS["auth"]:
                STATS["auth"].append(auth)
            mode, st = STATE["mode"], dict(STATE)
            first_of_body = raw not in SEEN_BODIES
            SEEN_BODIES.add(raw)
        try:
            if st["delay"] or mode == "slow":
                time.sleep(st["delay"] or 5.0)
            if mode == "huge":
                self.reply(200, {"padding": "x" * int(st.get("size", 17 << 20))})
                return
            if mode == "status":
                self.reply(st["status"], {"error": {"message": "scripted failure"}})
                return
            if mode == "429" and n <= st["count"]:
                self.reply(429, {"error": {"message": "rate limited (scripted)"}}, {"Retry-After": str(st["retry_after"])})
                return
            if mode == "flaky" and first_of_body:
                self.reply(503, {"error": {"message": "overloaded (scripted)"}})
                return
            go = st["go_to_work"]
            if st.get("go_to_work_seq"):
                seq = st["go_to_work_seq"]
                go = seq[min((n - 1) // int(st["per"]), len(seq) - 1)]
            answer = {"isolate_if_symptomatic": 0.9, "go_to_work": go, "comply_isolation": 0.8,
                      "reasoning": "scripted test answer (not a model)"}
            if mode == "schema":
                del answer["comply_isolation"]
            if mode == "range" or (mode == "half" and req.get("seed", 0) % 2):
                answer["go_to_work"] = 1.7
            content = "I think they would stay home." if mode == "malformed" else json.dumps(answer)
            self.reply(200, {"id": f"test-{n}", "object": "chat.completion", "created": int(time.time()),
                             "model": "civitas-test-server",
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": content}}],
                             "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})
        finally:
            with LOCK:
                STATS["in_flight"] -= 1


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256   # many clients connect at once in the concurrency tests

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return   # the client gave up (timeout tests do this on purpose)
        super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    lifetime = float(sys.argv[1]) if len(sys.argv) > 1 else 600.0   # stops by itself
    threading.Thread(target=server.serve_forever, daemon=True).start()
    time.sleep(lifetime)
    server.shutdown()


if __name__ == "__main__":
    main()
