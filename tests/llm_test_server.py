#!/usr/bin/env python3
"""A local HTTP server that speaks the OpenAI chat-completions protocol and
returns SCRIPTED answers for tests. It runs no model: its answers are fixed
rules, labelled as such in every reply, and must never be presented as a
model's. Binds 127.0.0.1 on a free port and prints "PORT <n>" on stdout.

Only POST /v1/chat/completions answers; any other path gets 404
{"detail": "Not Found"}, as vLLM's FastAPI server does.

Behaviour is switched at run time with POST /control {"mode": ..., ...}:
  ok         valid answers: go_to_work = <go_to_work> (default 0.1), comply_isolation 0.8, and
             isolate_if_symptomatic between 0.5 and 0.9 depending on the prompt (so archetypes differ);
             with "go_to_work_seq": [a, b, ...] and "per": k, requests 1..k answer go_to_work a, k+1..2k b,
             ..., the last value from then on (one value per refresh when k is the requests of one refresh)
  constant   the same valid answer for every prompt (degenerate)
  per_group  isolate_if_symptomatic depends on the archetype's description only (the same every refresh)
  status     every request answered with HTTP <status> (e.g. 500) and an OpenAI-style error
  detail     HTTP <status> with a FastAPI-style {"detail": [{"loc", "msg"}]} body
  auth       401 with the token echoed in the message unless "Authorization: Bearer <key>"; then ok
  echo       HTTP <status> whose message quotes the request's Authorization header
  echo_answer valid answers whose reasoning quotes the request's Authorization header
  429        the first <count> requests get 429 with Retry-After: <retry_after>, then ok
  flaky      the first request with a given body gets HTTP 503, the same body again is answered ok
             (a client that retries 5xx gets every answer; one that does not gets none)
  slow       sleeps <delay> s (default 5), then ok (delay also applies in other modes when set)
  trickle    HTTP 200 whose body comes one byte every <interval> s (default 0.2)
  malformed  content is not JSON
  schema     content lacks comply_isolation
  range      go_to_work = 1.7
  half       go_to_work = 1.7 when the request's seed is odd, valid answers otherwise
  fenced     the valid JSON inside a ```json code fence
  think      a <think> block (holding a decoy JSON object) before the valid JSON
  prose      a sentence before the valid JSON and another after it
  error200   HTTP 200 carrying {"error": {"message"}}
  refusal    HTTP 200 with content null and a refusal
  length     HTTP 200 with the JSON cut off and finish_reason "length"
  utf8       valid answers whose reasoning holds two bytes that are not UTF-8
  redirect   307 to <port>/elsewhere/v1/chat/completions
  huge       HTTP 200 with a body of <size> bytes (default 17 MiB) that is no chat completion
Every chat completion reports usage: prompt_tokens = characters of the messages // 4, completion_tokens =
characters of the content // 4 (totals in /stats).
GET /stats returns {"requests", "max_in_flight", "in_flight", "auth", "last_request", "prompt_tokens",
"completion_tokens"}; POST /control resets it, and requests still running from before the reset (a slow
reply whose client has gone) stop and no longer count.
"""
import json
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
DEFAULTS = {"mode": "ok", "go_to_work": 0.1, "status": 500, "count": 0, "retry_after": 1, "delay": 0.0,
            "interval": 0.2, "key": ""}
STATE = dict(DEFAULTS, gen=0)
STATS = {"requests": 0, "in_flight": 0, "max_in_flight": 0, "auth": [], "last_request": None,
         "prompt_tokens": 0, "completion_tokens": 0}
GENERATION = [0]   # bumped by every /control: requests of an earlier generation are abandoned
HUGE = {}   # size -> body bytes, built once
SEEN_BODIES = set()   # request bodies answered so far (flaky mode)


def wait(seconds, gen):
    """Sleeps in short slices; False when /control reset the server meanwhile (the request is abandoned)."""
    end = time.time() + seconds
    while time.time() < end:
        if STATE["gen"] != gen:
            return False
        time.sleep(min(0.05, max(0.0, end - time.time())))
    return STATE["gen"] == gen


def shade(text):
    """A number in [0.5, 0.9] that depends on text (crc32: the same in every process)."""
    return 0.5 + (zlib.crc32(text.encode()) % 41) / 100.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # no 40 ms Nagle/delayed-ACK stalls

    def log_message(self, *args):
        pass

    def send_bytes(self, status, data, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.request_done()   # before the client can see the reply and send its next request
        self.wfile.write(data)

    def request_done(self):
        """Ends this request's in-flight count once (a chat completion that is still the current generation's)."""
        gen = getattr(self, "counted_gen", None)
        if gen is None:
            return
        self.counted_gen = None
        with LOCK:
            if STATE["gen"] == gen:
                STATS["in_flight"] -= 1

    def reply(self, status, body, headers=None):
        self.send_bytes(status, json.dumps(body).encode(), headers)

    def do_GET(self):
        if self.path == "/v1/models":
            self.reply(200, {"object": "list", "data": [{"id": "civitas-test-server", "object": "model"}]})
        elif self.path == "/stats":
            with LOCK:
                self.reply(200, dict(STATS))
        else:
            self.reply(404, {"detail": "Not Found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        if self.path == "/control":
            with LOCK:
                STATE.clear()
                STATE.update(DEFAULTS)
                STATE.update(json.loads(raw or b"{}"))
                GENERATION[0] += 1
                STATE["gen"] = GENERATION[0]
                STATS.update({"requests": 0, "in_flight": 0, "max_in_flight": 0, "auth": [], "last_request": None,
                              "prompt_tokens": 0, "completion_tokens": 0})
                SEEN_BODIES.clear()
            self.reply(200, {"ok": True})
            return
        if self.path != "/v1/chat/completions":
            self.reply(404, {"detail": "Not Found"})
            return
        req = json.loads(raw)
        with LOCK:
            st = dict(STATE)
            STATS["requests"] += 1
            n = STATS["requests"]
            STATS["in_flight"] += 1
            STATS["max_in_flight"] = max(STATS["max_in_flight"], STATS["in_flight"])
            STATS["last_request"] = req
            auth = self.headers.get("Authorization")
            if auth and auth not in STATS["auth"]:
                STATS["auth"].append(auth)
            st["first_of_body"] = raw not in SEEN_BODIES
            SEEN_BODIES.add(raw)
        self.counted_gen = st["gen"]
        try:
            self.answer(req, st, n, auth)
        finally:
            self.request_done()

    def answer(self, req, st, n, auth):
        mode, gen = st["mode"], st["gen"]
        if (st["delay"] or mode == "slow") and not wait(st["delay"] or 5.0, gen):
            return
        if mode == "huge":
            size = int(st.get("size", 17 << 20))
            if size not in HUGE:
                HUGE[size] = b'{"padding": "' + b"x" * size + b'"}'
            self.send_bytes(200, HUGE[size])
            return
        if mode == "status":
            self.reply(st["status"], {"error": {"message": "scripted failure"}})
            return
        if mode == "detail":
            self.reply(st["status"], {"detail": [{"loc": ["body", "max_tokens"], "msg": "scripted validation failure",
                                                  "type": "value_error"}]})
            return
        if mode == "echo":
            self.reply(st["status"], {"error": {"message": f"scripted failure; the request said Authorization: {auth}"}})
            return
        if mode == "auth" and auth != f"Bearer {st['key']}":
            token = (auth or "").removeprefix("Bearer ")
            self.reply(401, {"error": {"message": f"Incorrect API key provided: {token} (scripted)",
                                       "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        if mode == "redirect":
            port = self.server.server_address[1]
            self.send_bytes(307, b"", {"Location": f"http://127.0.0.1:{port}/elsewhere/v1/chat/completions"})
            return
        if mode == "429" and n <= st["count"]:
            self.reply(429, {"error": {"message": "rate limited (scripted)"}}, {"Retry-After": str(st["retry_after"])})
            return
        if mode == "flaky" and st["first_of_body"]:
            self.reply(503, {"error": {"message": "overloaded (scripted)"}})
            return
        if mode == "error200":
            self.reply(200, {"error": {"message": "scripted error inside a 200 reply", "type": "server_error"}})
            return
        if mode == "trickle":
            body = b'{"choices": [{"message": {"content": "scripted trickle"}}]}' + b" " * 4096
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for k in range(len(body)):
                if not wait(st["interval"], gen):
                    return
                self.wfile.write(body[k:k + 1])
                self.wfile.flush()
            return
        user = next((m["content"] for m in req["messages"] if m["role"] == "user"), "")
        group = next((line for line in user.splitlines() if line.startswith("Consider a")), user)
        isolate = {"constant": 0.9, "per_group": shade(group)}.get(mode, shade(user))
        go = st["go_to_work"]
        if st.get("go_to_work_seq"):
            seq = st["go_to_work_seq"]
            go = seq[min((n - 1) // int(st["per"]), len(seq) - 1)]
        answer = {"isolate_if_symptomatic": isolate, "go_to_work": go, "comply_isolation": 0.8,
                  "reasoning": "scripted test answer (not a model)"}
        if mode == "schema":
            del answer["comply_isolation"]
        if mode == "range" or (mode == "half" and req.get("seed", 0) % 2):
            answer["go_to_work"] = 1.7
        if mode == "echo_answer":
            answer["reasoning"] += f"; the request said Authorization: {auth}"
        if mode == "utf8":
            answer["reasoning"] += " @BAD@"
        content = json.dumps(answer)
        finish = "stop"
        if mode == "malformed":
            content = "I think they would stay home."
        elif mode == "fenced":
            content = "```json\n" + content + "\n```"
        elif mode == "think":
            content = ('<think>\nA first guess: {"isolate_if_symptomatic": 0.01, "go_to_work": 0.99, '
                       '"comply_isolation": 0.01}. On reflection, no.\n</think>\n\n' + content)
        elif mode == "prose":
            content = "Here is my estimate for this group:\n" + content + "\nThese are scripted numbers."
        elif mode == "length":
            content, finish = content[:40], "length"
        message = {"role": "assistant", "content": content}
        if mode == "refusal":
            message = {"role": "assistant", "content": None, "refusal": "I can't help with that (scripted refusal)"}
        prompt_tokens = sum(len(m["content"]) for m in req["messages"]) // 4
        completion_tokens = len(content) // 4
        with LOCK:
            if STATE["gen"] == gen:
                STATS["prompt_tokens"] += prompt_tokens
                STATS["completion_tokens"] += completion_tokens
        data = json.dumps({"id": f"test-{n}", "object": "chat.completion", "created": int(time.time()),
                           "model": "civitas-test-server",
                           "choices": [{"index": 0, "finish_reason": finish, "message": message}],
                           "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                     "total_tokens": prompt_tokens + completion_tokens}}).encode()
        self.send_bytes(200, data.replace(b"@BAD@", b"\xff\xfe"))


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
