#!/usr/bin/env python3
"""LLM bridge against tests/llm_test_server.py, a local server that speaks the
OpenAI chat-completions protocol with scripted answers (no model runs here;
nothing below is a model's answer): the refresh cycle changing behaviour in a
running simulation, concurrency, 429 with Retry-After, 5xx, timeouts, malformed
and schema-violating answers, out-of-range probabilities, an unreachable
endpoint, the API key handling, the answer cache, and bit-for-bit replay; and
what real servers do: configuration errors (401, 404, a wrong path, a
redirect) ending the run, base_url with /v1, answers in code fences, after a
<think> block or among prose, the server's reason in every error shape,
invalid UTF-8, an echoed API key, the refresh deadline against Retry-After and
a trickling reply, Ctrl-C in the middle of a refresh, the per-refresh record
and its cost in `civitas info`, degenerate answers, and the request shape the
README documents."""
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import civtest
import h5py
import numpy as np

ARGS = None
ARCHETYPES_WITH_AGENTS = 15   # 3 age bands x 5 boroughs
SAMPLES = 2


class Bridge(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.server = subprocess.Popen([sys.executable, os.path.join(ARGS.source, "tests", "llm_test_server.py"),
                                       "600"], stdout=subprocess.PIPE, text=True)
        line = cls.server.stdout.readline()
        assert line.startswith("PORT "), line
        cls.url = f"http://127.0.0.1:{int(line.split()[1])}"
        cls.heuristic = os.path.join(cls.dir, "heuristic.h5")
        p = cls.civitas("run", cls.study(), "--llm", "heuristic", "-o", cls.heuristic, "-q")
        assert p.returncode == 0, p.stderr

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.server.wait()
        cls.server.stdout.close()
        cls.tmp.cleanup()

    @classmethod
    def civitas(cls, *args, env=None):
        return subprocess.run([ARGS.civitas, *args], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, **(env or {})))

    @classmethod
    def study(cls, llm=None, name="s.json", behavior=None, **fields):
        body = {"base": os.path.join(ARGS.source, "tests", "data", "llm.json"), "name": "llm_test"}
        body["behavior"] = dict(behavior or {}, llm=dict({"base_url": cls.url,
                                                          "cache": os.path.join(cls.dir, "cache_" + name + "l")},
                                                         **(llm or {})))
        body.update(fields)
        path = os.path.join(cls.dir, name)
        with open(path, "w") as f:
            json.dump(body, f)
        return path

    def control(self, **state):
        req = urllib.request.Request(self.url + "/control", data=json.dumps(state).encode(), method="POST")
        urllib.request.urlopen(req, timeout=5).read()

    def stats(self):
        return json.loads(urllib.request.urlopen(self.url + "/stats", timeout=5).read())

    def run_llm(self, name, *extra, llm=None, env=None, expect=0, snapshots=None):
        out = os.path.join(self.dir, name + ".h5")
        fields = {"output": {"snapshots": snapshots}} if snapshots else {}
        p = self.civitas("run", self.study(llm=llm, name=name + ".json", **fields), "-o", out, *extra, env=env)
        self.assertEqual(p.returncode, expect, p.stderr)
        return out, p.stderr

    def assert_replays(self, name, recorded, *extra):
        """The recorded cache replays the run with no network: the same tables and fallbacks."""
        out = os.path.join(self.dir, name + "_replay.h5")
        p = self.civitas("run", self.study(llm={"base_url": "http://127.0.0.1:9"}, name=name + "_replay.json"),
                         "--llm", "replay", os.path.join(self.dir, f"cache_{name}.jsonl"), "-o", out, *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(recorded, "r") as a, h5py.File(out, "r") as b:
            self.assertTrue(np.array_equal(a["llm/tables"][:], b["llm/tables"][:]))
            self.assertEqual(list(a["llm/fallbacks"][:]), list(b["llm/fallbacks"][:]))
            self.assertEqual(self.strings(a["llm/fallback_reason"]), self.strings(b["llm/fallback_reason"]))

    @staticmethod
    def strings(ds):
        return [v.decode() if isinstance(v, bytes) else v for v in ds[...].ravel()]

    def test_refresh_changes_behaviour(self):
        self.control(mode="ok", go_to_work=0.1)
        out, err = self.run_llm("cycle")
        self.assertIn("LLM bridge (llm): 15 archetypes x 2 samples", err)
        with h5py.File(out, "r") as f, h5py.File(self.heuristic, "r") as h:
            self.assertEqual(f.attrs["status"], "complete")
            llm = f["llm"]
            self.assertEqual(llm.attrs["mode"], "llm")
            self.assertEqual(list(llm["refresh_step"][:]), [0, 7, 14])
            self.assertEqual(list(llm["requests"][:]), [ARCHETYPES_WITH_AGENTS * SAMPLES] * 3)
            self.assertEqual(list(llm["fallbacks"][:]), [0, 0, 0])
            go = llm["tables"][:, :, 1]
            self.assertTrue(np.allclose(go, 0.1))
            prompts = [p.decode() if isinstance(p, bytes) else p for p in llm["prompts"][0]]
            self.assertTrue(any("Staten Island" in p and "aged 65 or older" in p for p in prompts))
            answers = llm["answers"][0, 0, 0]
            self.assertIn("scripted test answer", answers.decode() if isinstance(answers, bytes) else answers)
            work_llm = f["timeseries/working"][:].sum()
            work_h = h["timeseries/working"][:].sum()
            self.assertLess(work_llm, 0.25 * work_h)   # 0.1 go-to-work vs the heuristic's ~0.95
            self.check_prompt_situation(f)

    def check_prompt_situation(self, f):
        """The day-7 prompts describe the simulation's own situation on 2020-03-08: the borough's reported
        cases of days 0-6 (in real-city units and per 100,000), their change against the 4-week mean, and
        unemployment at the end of day 6; recomputed here from the run's series."""
        scale = f.attrs["population_scale"]
        rep = f["timeseries/new_reported_cases"][:].sum(axis=2).astype(float)
        pop = sum(f["timeseries"][v][0].sum(axis=1) for v in ("susceptible", "exposed", "presymptomatic",
              "asymptomatic", "mild", "severe", "hospitalised", "recovered", "dead")).astype(float)
        emp, unemp = (f["timeseries"][v][6].sum(axis=1).astype(float) for v in ("employed", "unemployed"))
        labels = [a.decode() for a in f["llm/archetype"][:]]
        prompts = [p.decode() if isinstance(p, bytes) else p for p in f["llm/prompts"][1]]
        names = ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"]
        with_cases = 0
        for b, code in enumerate(["BX", "BK", "MN", "QN", "SI"]):
            cw = rep[0:7, b].sum()
            c4 = cw / 4   # four weeks back from day 7 hold only this week
            change = ("the same as" if c4 <= 0 or abs(cw / c4 - 1) < 0.005
                      else f"a {round((cw / c4 - 1) * 100)}% increase from" if cw > c4
                      else f"a {round((1 - cw / c4) * 100)}% decrease from")
            want = (f"Today is Sunday 2020-03-08, week 2 of the simulated period. This week there were "
                    f"{math.floor(cw / scale + 0.5)} newly reported COVID-19 cases in {names[b]} "
                    f"({cw * 1e5 / pop[b]:.1f} per 100,000 residents), which is {change} the average of the past "
                    f"four weeks. Unemployment in {names[b]} is {100 * unemp[b] / (emp[b] + unemp[b]):.1f}% of the "
                    f"labour force. Policies in force: no restrictions.")
            with_cases += cw > 0
            for a, label in enumerate(labels):
                if label.endswith("/" + code):
                    self.assertIn(want, prompts[a], label)
        self.assertGreater(with_cases, 0)   # some borough had cases, so the numbers were exercised

    def test_cache_then_replay_bit_for_bit(self):
        self.control(mode="ok", go_to_work=0.3)
        first, _ = self.run_llm("record", snapshots=["2020-03-15"])
        self.assertEqual(self.stats()["requests"], 3 * ARCHETYPES_WITH_AGENTS * SAMPLES)
        cache = os.path.join(self.dir, "cache_record.jsonl")
        # the same study again hits the cache for every prompt: no requests
        self.control(mode="status", status=500)
        again, _ = self.run_llm("record", snapshots=["2020-03-15"])
        self.assertEqual(self.stats()["requests"], 0)
        # replay: no network at all (the endpoint is made unreachable)
        out = os.path.join(self.dir, "replayed.h5")
        p = self.civitas("run", self.study(llm={"base_url": "http://127.0.0.1:9"}, name="replay.json",
                                           output={"snapshots": ["2020-03-15"]}),
                         "--llm", "replay", cache, "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(first, "r") as a, h5py.File(out, "r") as b:
            self.assertEqual(b["llm"].attrs["mode"], "replay")
            for k in a["timeseries"]:
                self.assertTrue(np.array_equal(a["timeseries"][k][:], b["timeseries"][k][:]), k)
            self.assertTrue(np.array_equal(a["llm/tables"][:], b["llm/tables"][:]))
            # and every agent's state on the snapshot day (after the day-7 and day-14 refreshes)
            self.assertEqual(list(b["agents/step"][:]), [14])
            for k in ("stage", "flags", "labour"):
                self.assertTrue(np.array_equal(a["agents"][k][:], b["agents"][k][:]), k)
            self.assertGreater(np.count_nonzero(b["agents/stage"][0]), 0)   # an epidemic under way

    def test_smoothing(self):
        # answers change per refresh (go_to_work 0.1, 0.9, 0.3); with smoothing 0.25 the rows are
        # 0.1 (first refresh: nothing to smooth), 0.25 x 0.1 + 0.75 x 0.9 = 0.7, 0.25 x 0.7 + 0.75 x 0.3 = 0.4
        self.control(mode="constant", go_to_work_seq=[0.1, 0.9, 0.3], per=ARCHETYPES_WITH_AGENTS * SAMPLES)
        out, _ = self.run_llm("smooth", llm={"smoothing": 0.25})
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm"].attrs["smoothing"], 0.25)
            used = f["llm/agents_per_archetype"][:] > 0
            go = f["llm/tables"][:, used, 1]
            for r, want in enumerate((0.1, 0.7, 0.4)):
                self.assertTrue(np.allclose(go[r], want, atol=1e-6), (r, go[r]))
            self.assertTrue(np.allclose(f["llm/tables"][:, used, 0], 0.9, atol=1e-6))   # constant answers stay
        self.assertEqual(self.stats()["requests"], 3 * ARCHETYPES_WITH_AGENTS * SAMPLES)

    def test_row_is_the_mean_of_valid_samples(self):
        # answers to odd seeds are out of range: an archetype's row averages its valid answers only, and one with
        # none keeps the heuristic row
        self.control(mode="half", go_to_work=0.2)
        out, _ = self.run_llm("half", "--steps", "1", llm={"validation_retries": 0})
        with h5py.File(out, "r") as f, h5py.File(self.heuristic, "r") as h:
            used = f["llm/agents_per_archetype"][:] > 0
            answers = f["llm/answers"][0]
            go, fallback_go = f["llm/tables"][0, :, 1], h["llm/tables"][0, :, 1]
        valid = {a: sum(json.loads(x)["go_to_work"] <= 1 for x in answers[a]) for a in np.flatnonzero(used)}
        for a, k in valid.items():
            self.assertAlmostEqual(go[a], 0.2 if k else fallback_go[a], delta=1e-6, msg=(a, k))
        self.assertIn(1, valid.values())   # the case where the divisor matters

    def test_request_body(self):
        # what is sent (and recorded with each answer): the model, the system prompt and the rendered user prompt,
        # sampling settings, a seed, and a JSON schema holding every decision to a number in [0, 1]
        self.control(mode="ok")
        out, _ = self.run_llm("request", "--steps", "1")
        with open(os.path.join(self.dir, "cache_request.jsonl")) as f:
            records = [json.loads(line) for line in f]
        with open(os.path.join(ARGS.source, "llm_bridge", "prompts", "system.txt")) as f:
            system = f.read().rstrip("\n ")
        with h5py.File(out, "r") as h:
            prompts = {p.decode() if isinstance(p, bytes) else p for p in h["llm/prompts"][0]}
        self.assertEqual(len(records), ARCHETYPES_WITH_AGENTS * SAMPLES)
        self.assertEqual(len({r["request"]["seed"] for r in records}), len(records))   # distinct seeds
        for r in records:
            q = r["request"]
            self.assertEqual(q["model"], "civitas-test-server")
            self.assertEqual([m["role"] for m in q["messages"]], ["system", "user"])
            self.assertEqual(q["messages"][0]["content"], system)
            self.assertIn(q["messages"][1]["content"], prompts)
            self.assertEqual((q["temperature"], q["max_tokens"]), (0.7, 300))
            schema = q["response_format"]["json_schema"]["schema"]
            self.assertEqual(q["response_format"]["type"], "json_schema")
            self.assertEqual(set(schema["required"]), {"isolate_if_symptomatic", "go_to_work", "comply_isolation",
                                                       "reasoning"})
            for d in ("isolate_if_symptomatic", "go_to_work", "comply_isolation"):
                self.assertEqual(schema["properties"][d], {"type": "number", "minimum": 0, "maximum": 1})
            self.assertFalse(schema["additionalProperties"])

    def test_recorded_failure_is_asked_again(self):
        # a failure recorded in the cache is not an answer: a later run with the same cache asks again
        llm = {"max_retries": 0, "validation_retries": 0}
        self.control(mode="status", status=500)
        self.run_llm("refail", "--steps", "1", llm=llm)
        self.control(mode="ok", go_to_work=0.35)
        out, _ = self.run_llm("refail", "--steps", "1", llm=llm)
        self.assertEqual(self.stats()["requests"], ARCHETYPES_WITH_AGENTS * SAMPLES)
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm/fallbacks"][0], 0)
            used = f["llm/agents_per_archetype"][:] > 0
            self.assertTrue(np.allclose(f["llm/tables"][0, used, 1], 0.35))

    def test_deadline_ends_the_refresh(self):
        # answers take 5 s each (30 of them, 4 at a time): a 1 s deadline ends the refresh with fallbacks
        self.control(mode="slow", delay=5)
        t0 = time.time()
        out, err = self.run_llm("deadline", "--steps", "1", llm={"deadline_s": 1, "timeout_s": 20, "max_retries": 0,
                                                                 "validation_retries": 0})
        self.assertLess(time.time() - t0, 20)   # the answers alone would take 40 s
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm/fallbacks"][0], ARCHETYPES_WITH_AGENTS)
            reasons = [r.decode() if isinstance(r, bytes) else r for r in f["llm/fallback_reason"][:]]
            # nothing is sent once the deadline has passed: the preflight and the 4 requests then in flight
            # (a timeout landing a hair before the deadline may let one more batch start, with a 1 ms budget)
            self.assertLessEqual(f["llm/requests"][0], 1 + 2 * 4)
        self.assertTrue(all("the refresh deadline (deadline_s = 1) passed" in r for r in reasons), reasons[:2])
        deadline = time.time() + 30   # let the server's abandoned requests finish before the next test
        while self.stats()["in_flight"] > 0 and time.time() < deadline:
            time.sleep(0.2)

    def test_replay_missing_answers(self):
        empty = os.path.join(self.dir, "empty.jsonl")
        open(empty, "w").close()
        out = os.path.join(self.dir, "missing.h5")
        p = self.civitas("run", self.study(name="missing.json"), "--llm", "replay", empty, "-o", out)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("empty.jsonl: no recorded answer for day 0", p.stderr)

    def test_replay_of_an_edited_answer(self):
        # an answer accepted when recorded but edited out of range since: the replay names the value and why it
        # cannot go on, instead of blaming the prompts
        self.control(mode="ok", go_to_work=0.4)
        self.run_llm("edited", "--steps", "1")
        cache = os.path.join(self.dir, "cache_edited.jsonl")
        with open(cache) as f:
            records = [json.loads(line) for line in f]
        answer = json.loads(records[0]["content"])
        answer["go_to_work"] = 1.7
        records[0]["content"] = json.dumps(answer)
        with open(cache, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
        out = os.path.join(self.dir, "edited_replay.h5")
        p = self.civitas("run", self.study(llm={"base_url": "http://127.0.0.1:9"}, name="edited_replay.json"),
                         "--llm", "replay", cache, "--steps", "1", "-o", out)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("go_to_work = 1.7, outside [0, 1]", p.stderr)
        self.assertIn("no re-asked answer is recorded", p.stderr)

    def test_replay_runs_out_mid_run(self):
        # answers recorded for the first week only: the replay fails at the day-7 refresh, and the file
        # keeps the 7 completed days (day 6 is written even though day 7's launch failed)
        self.control(mode="ok", go_to_work=0.5)
        self.run_llm("week1", "--steps", "7")
        cache = os.path.join(self.dir, "cache_week1.jsonl")
        out = os.path.join(self.dir, "replay_short.h5")
        p = self.civitas("run", self.study(llm={"base_url": "http://127.0.0.1:9"}, name="replay_short.json"),
                         "--llm", "replay", cache, "-o", out)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("no recorded answer for day 7", p.stderr)
        with h5py.File(out, "r") as f:
            self.assertEqual(int(f.attrs["steps_completed"]), 7)
            self.assertTrue(str(f.attrs["status"]).startswith("failed"), f.attrs["status"])
            self.assertEqual(f["timeseries/date"].shape[0], 7)
            self.assertEqual(f["llm/tables"].shape[0], 1)

    def test_concurrency(self):
        for conc in (1, 6):
            self.control(mode="ok", delay=0.2)
            self.run_llm(f"conc{conc}", "--steps", "1", llm={"concurrency": conc})
            s = self.stats()
            self.assertEqual(s["requests"], ARCHETYPES_WITH_AGENTS * SAMPLES)
            if conc == 1:
                self.assertEqual(s["max_in_flight"], 1)
            else:
                self.assertGreater(s["max_in_flight"], 1)
                self.assertLessEqual(s["max_in_flight"], conc)

    def test_429_retry_after(self):
        self.control(mode="429", count=3, retry_after=1)
        t0 = time.time()
        out, _ = self.run_llm("r429", "--steps", "1", llm={"concurrency": 2})
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm/fallbacks"][0], 0)
            self.assertGreaterEqual(f["llm/latency_s"][0], 1.0)   # waited for Retry-After
            # the first request meets all three 429s alone (the preflight): sent again twice (max_retries 2),
            # then asked again with a new seed in the validation round
            self.assertEqual(f["llm/retries"][0], 2)
            self.assertEqual(f["llm/rejected"][0], 1)
        self.assertEqual(self.stats()["requests"], ARCHETYPES_WITH_AGENTS * SAMPLES + 3)
        self.assertGreaterEqual(time.time() - t0, 1.0)

    def test_flaky_5xx_retried(self):
        # every request body is refused once with 503 and answered when sent again: only the client's own
        # retry gets the answers (no validation round to hide a missing retry)
        self.control(mode="flaky")
        out, _ = self.run_llm("flaky", "--steps", "1", llm={"validation_retries": 0})
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm/fallbacks"][0], 0)
            answers = [a.decode() if isinstance(a, bytes) else a for a in f["llm/answers"][0].ravel()]
            self.assertFalse([a for a in answers if a.startswith("ERROR")])
        self.assertEqual(self.stats()["requests"], 2 * ARCHETYPES_WITH_AGENTS * SAMPLES)

    def assert_fallback(self, name, needle, llm=None):
        out, err = self.run_llm(name, "--steps", "8", llm=llm)
        self.assertIn("warning: LLM refresh on day 0", err)
        with h5py.File(out, "r") as f, h5py.File(self.heuristic, "r") as h:
            self.assertEqual(f.attrs["status"], "complete")
            self.assertEqual(f["llm/fallbacks"][0], ARCHETYPES_WITH_AGENTS)
            reasons = [r.decode() if isinstance(r, bytes) else r for r in f["llm/fallback_reason"][:]]
            self.assertTrue(all(needle in r for r in reasons), reasons[:2])
            self.assertTrue(all("kept the heuristic row" in r for r in reasons[:ARCHETYPES_WITH_AGENTS]))
            # day-0 table = heuristic rows; day-7 fallbacks keep the previous row (not the day-7 heuristic row,
            # which differs: the heuristic rules react to the first week's cases)
            used = f["llm/agents_per_archetype"][:] > 0
            self.assertTrue(np.allclose(f["llm/tables"][0], h["llm/tables"][0]))
            self.assertTrue(any("kept the previous row" in r for r in reasons[ARCHETYPES_WITH_AGENTS:]))
            self.assertTrue(np.array_equal(f["llm/tables"][1][used], f["llm/tables"][0][used]))
            self.assertFalse(np.array_equal(h["llm/tables"][1][used], h["llm/tables"][0][used]))

    def test_500_falls_back(self):
        self.control(mode="status", status=500)
        # the server's own reason is kept; 5xx is retried: llm.json's max_retries 2 = 3 attempts per request
        self.assert_fallback("e500", "HTTP 500: scripted failure (gave up after 3 attempts)")
        # 2 refreshes x 2 validation rounds x 30 requests x 3 attempts
        self.assertEqual(self.stats()["requests"], 2 * 2 * ARCHETYPES_WITH_AGENTS * SAMPLES * 3)

    def assert_config_error(self, name, needles, llm=None, env=None):
        """Exit 5 after the one preflight request, with one error line naming base_url, model and the reason."""
        out, err = self.run_llm(name, "--steps", "8", llm=llm, env=env, expect=5)
        lines = [line for line in err.splitlines() if line.startswith("civitas: error:")]
        self.assertEqual(len(lines), 1, err)
        base_url = (llm or {}).get("base_url", self.url)
        for needle in [f"base_url '{base_url}'", "model 'civitas-test-server'", 'on_error "fallback"', *needles]:
            self.assertIn(needle, lines[0])
        self.assertEqual(self.stats()["requests"], 0 if "base_url" in (llm or {}) else 1)
        return lines[0]

    def test_configuration_errors_end_the_run(self):
        # a wrong model name (404), a refused request before any answer (400, FastAPI-style detail) and a
        # redirect: one request, then exit 5 instead of a run of fallback rows
        self.control(mode="status", status=404)
        self.assert_config_error("e404", ["HTTP 404: scripted failure", "check base_url"])
        self.control(mode="detail", status=400)
        self.assert_config_error("e400", ["HTTP 400: body.max_tokens: scripted validation failure"])
        self.control(mode="redirect")
        self.assert_config_error("e307", [f"HTTP 307 redirect to {self.url}/elsewhere/v1/chat/completions"])

    def test_bad_api_key_ends_the_run(self):
        # the server echoes the wrong token in its message: it is named only as [redacted]
        self.control(mode="auth", key="sk-right-key-0001")
        secret = "sk-wrong-key-9f8e7d"
        line = self.assert_config_error("e401", ["HTTP 401: Incorrect API key provided: [redacted] (scripted)",
                                                 "environment variable CIVITAS_TEST_KEY"],
                                        llm={"api_key_env": "CIVITAS_TEST_KEY"}, env={"CIVITAS_TEST_KEY": secret})
        self.assertNotIn(secret, line)
        with open(os.path.join(self.dir, "cache_e401.jsonl"), "rb") as f:
            self.assertNotIn(secret.encode(), f.read())
        # the right key: the same study runs
        out, err = self.run_llm("e401", "--steps", "1", llm={"api_key_env": "CIVITAS_TEST_KEY"},
                                env={"CIVITAS_TEST_KEY": "sk-right-key-0001"})
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm/fallbacks"][0], 0)

    def test_wrong_path_ends_the_run(self):
        # a base_url with a path the server does not serve: vLLM's {"detail": "Not Found"} is the reason
        self.control(mode="ok")
        self.assert_config_error("epath", ["POST " + self.url + "/api/v1/chat/completions", "HTTP 404: Not Found"],
                                 llm={"base_url": self.url + "/api"})

    def test_base_url_ending_in_v1_accepted(self):
        # the OpenAI SDKs' spelling: requests go to /v1/chat/completions, not /v1/v1/chat/completions
        self.control(mode="ok")
        out, _ = self.run_llm("v1", "--steps", "1", llm={"base_url": self.url + "/v1/"})
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm/fallbacks"][0], 0)
            self.assertEqual(f["llm/requests"][0], ARCHETYPES_WITH_AGENTS * SAMPLES)

    def test_on_error_fallback_degrades_without_retrying(self):
        # opting into degrading: the run goes on with fallback rows, and a configuration error is not asked
        # again (no transport retry, no validation retry): one preflight request per refresh
        self.control(mode="status", status=404)
        out, err = self.run_llm("fb404", "--steps", "8", llm={"on_error": "fallback"})
        self.assertIn('on_error is "fallback"', err)
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["status"], "complete")
            self.assertEqual(list(f["llm/fallbacks"][:]), [ARCHETYPES_WITH_AGENTS] * 2)
            self.assertEqual(list(f["llm/requests"][:]), [1, 1])
            self.assertEqual(list(f["llm/retries"][:]), [0, 0])
            reasons = self.strings(f["llm/fallback_reason"])
            self.assertTrue(all("HTTP 404: scripted failure" in r for r in reasons), reasons[:2])
            self.assertNotIn("gave up after", reasons[0])
        self.assertEqual(self.stats()["requests"], 2)
        self.assert_replays("fb404", out, "--steps", "8")   # the requests never sent are recorded as such

    def test_bad_on_error_value(self):
        p = self.civitas("run", self.study(llm={"on_error": "ignore"}, name="bad_on_error.json"),
                         "-o", os.path.join(self.dir, "bad_on_error.h5"))
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("'behavior.llm.on_error' = \"ignore\"", p.stderr)

    def test_oversized_response_cut_off(self):
        # a generous timeout: on a loaded machine 16 MiB may take seconds to arrive, and a timeout would be
        # retried (the request asked twice) instead of the body being cut off
        self.control(mode="huge")
        path = self.study(llm={"samples": 1, "validation_retries": 0, "timeout_s": 300, "deadline_s": 600},
                          name="huge.json",
                          behavior={"archetypes": {"age_bands": [0], "borough": False}})
        out = os.path.join(self.dir, "huge.h5")
        p = self.civitas("run", path, "--steps", "1", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("response larger than 16 MiB", p.stderr)
        self.assertEqual(self.stats()["requests"], 1)   # not retried

    def test_timeout_falls_back(self):
        self.control(mode="slow", delay=3)
        t0 = time.time()
        self.assert_fallback("slow", "Timeout", llm={"timeout_s": 0.3, "max_retries": 0, "validation_retries": 0})
        self.assertLess(time.time() - t0, 60)

    def test_malformed_json(self):
        self.control(mode="malformed")
        self.assert_fallback("malformed", "answer is not a JSON object")

    def test_schema_violation(self):
        self.control(mode="schema")
        self.assert_fallback("schema", "lacks a number 'comply_isolation'")

    def test_out_of_range(self):
        self.control(mode="range")
        self.assert_fallback("range", "go_to_work = 1.7, outside [0, 1]")

    def test_unreachable_endpoint(self):
        self.assert_fallback("unreach", "Couldn't connect", llm={"base_url": "http://127.0.0.1:9", "max_retries": 1})

    def test_api_key_from_environment_only(self):
        self.control(mode="ok")
        secret = "sk-test-7f3a9c"
        out, err = self.run_llm("key", "--steps", "1", llm={"api_key_env": "CIVITAS_TEST_KEY"},
                                env={"CIVITAS_TEST_KEY": secret})
        self.assertEqual(self.stats()["auth"], [f"Bearer {secret}"])
        for path in (out, os.path.join(self.dir, "cache_key.jsonl")):
            with open(path, "rb") as f:
                self.assertNotIn(secret.encode(), f.read(), path)
        self.assertNotIn(secret, err)

    def test_llm_mode_needs_endpoint(self):
        path = os.path.join(self.dir, "noend.json")
        with open(path, "w") as f:
            json.dump({"base": os.path.join(ARGS.source, "models", "covid", "nyc2020.json"), "behavior": {"mode": "llm"}}, f)
        p = self.civitas("run", path, "-o", os.path.join(self.dir, "noend.h5"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("behavior.llm.base_url", p.stderr)


    def test_echoed_key_is_redacted(self):
        # a server that quotes the request's Authorization header, in an error and in an answer: the key is
        # in none of the output file, the cache and stderr
        secret = "sk-test-echo-5c1d2e"
        env = {"CIVITAS_TEST_KEY": secret}
        llm = {"api_key_env": "CIVITAS_TEST_KEY", "max_retries": 0, "validation_retries": 0}
        for mode in ("echo", "echo_answer"):
            self.control(mode=mode, status=500)
            out, err = self.run_llm("echo_" + mode, "--steps", "1", llm=llm, env=env)
            self.assertNotIn(secret, err)
            for path in (out, os.path.join(self.dir, f"cache_echo_{mode}.jsonl")):
                with open(path, "rb") as f:
                    self.assertNotIn(secret.encode(), f.read(), path)
            with h5py.File(out, "r") as f:
                answers = self.strings(f["llm/answers"])
                self.assertTrue(all("Authorization: Bearer [redacted]" in a for a in answers), answers[0])
                if mode == "echo":
                    self.assertIn("Bearer [redacted]", err)
                    self.assertTrue(all("[redacted]" in r for r in self.strings(f["llm/fallback_reason"])))
                else:
                    self.assertEqual(f["llm/fallbacks"][0], 0)

    def test_answers_as_models_write_them(self):
        # one extraction rule whatever surrounds the JSON: a code fence, a <think> block (its decoy JSON with
        # go_to_work 0.99 is not taken), a sentence before and after
        for mode in ("fenced", "think", "prose"):
            self.control(mode=mode, go_to_work=0.2)
            out, err = self.run_llm("extract_" + mode, "--steps", "1")
            self.assertNotIn("warning: LLM refresh", err)
            with h5py.File(out, "r") as f:
                self.assertEqual(f["llm/fallbacks"][0], 0, mode)
                self.assertEqual(f["llm/rejected"][0], 0, mode)
                self.assertEqual(f["llm/extracted"][0], ARCHETYPES_WITH_AGENTS * SAMPLES, mode)
                self.assertTrue(np.allclose(f["llm/tables"][0, :, 1], 0.2), mode)
        # a bare JSON object needs no extraction
        self.control(mode="ok")
        out, _ = self.run_llm("extract_none", "--steps", "1")
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm/extracted"][0], 0)

    def fallback_reasons(self, name, llm=None):
        out, err = self.run_llm(name, "--steps", "1", llm=llm)
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm/fallbacks"][0], ARCHETYPES_WITH_AGENTS)
            return self.strings(f["llm/fallback_reason"]), err

    def test_server_reasons_kept(self):
        cases = [({"mode": "error200"}, "HTTP 200 carrying an error: scripted error inside a 200 reply"),
                 ({"mode": "refusal"}, "the model refused: I can't help with that (scripted refusal)"),
                 ({"mode": "length"}, "cut off at max_tokens = 300 (finish_reason \"length\"); raise "
                                      "behavior.llm.max_tokens"),
                 ({"mode": "detail", "status": 503}, "HTTP 503: body.max_tokens: scripted validation failure")]
        for state, needle in cases:
            self.control(**state)
            reasons, err = self.fallback_reasons("reason_" + state["mode"], llm={"max_retries": 0})
            self.assertTrue(all(needle in r for r in reasons), (needle, reasons[0]))
            self.assertIn(needle, err)

    def test_invalid_utf8_replaced_and_counted(self):
        self.control(mode="utf8")
        out, err = self.run_llm("utf8", "--steps", "1")
        self.assertIn("bytes that are not UTF-8", err)
        with h5py.File(out, "r") as f:
            answers = f["llm/answers"].asstr()[...].ravel()   # raises on invalid UTF-8
            self.assertTrue(all(a.endswith("(not a model) \ufffd\ufffd\"}") for a in answers), answers[0])
            self.assertEqual(f["llm/invalid_utf8"][0], 2 * ARCHETYPES_WITH_AGENTS * SAMPLES)
            self.assertEqual(f["llm/fallbacks"][0], 0)
        with open(os.path.join(self.dir, "cache_utf8.jsonl"), "rb") as f:
            f.read().decode("utf-8")   # strict: raises on invalid UTF-8

    def assert_deadline_holds(self, name, deadline=3, slack=3):
        llm = {"deadline_s": deadline, "timeout_s": 60, "max_retries": 3, "validation_retries": 3}
        t0 = time.time()
        out, err = self.run_llm(name, "--steps", "1", llm=llm)
        total = time.time() - t0
        with h5py.File(out, "r") as f:
            waited = float(f["llm/latency_s"][0])
            self.assertLess(waited, deadline + slack)   # time spent on requests
            wall = float(f["llm/wall_s"][0])
            reasons = self.strings(f["llm/fallback_reason"])
            self.assertEqual(f["llm/fallbacks"][0], ARCHETYPES_WITH_AGENTS)
        print(f"\n  {name}: refresh {wall:.2f} s (waiting on the server {waited:.2f} s, whole run {total:.1f} s) "
              f"against deadline_s {deadline}", file=sys.stderr)
        self.assertLess(wall, deadline + slack)
        self.assertLess(total, deadline + 60)
        self.assert_replays(name, out, "--steps", "1")   # what the deadline cut off replays as it happened
        return reasons

    def test_deadline_bounds_a_trickling_reply(self):
        # a server that sends one byte every 0.2 s: the whole refresh (retries and validation rounds
        # included) ends at deadline_s, not per round
        self.control(mode="trickle", interval=0.2)
        reasons = self.assert_deadline_holds("trickle")
        self.assertTrue(all("refresh deadline (deadline_s = 3) passed" in r for r in reasons), reasons[0])

    def test_retry_after_beyond_the_deadline(self):
        # Retry-After 30 s with a 3 s deadline: giving up at once, with the reason, instead of waiting
        self.control(mode="429", count=100000, retry_after=30)
        reasons = self.assert_deadline_holds("late429")
        self.assertTrue(all("HTTP 429: rate limited (scripted); the next try (in 30 s, as Retry-After asks) would "
                            "pass the refresh deadline" in r for r in reasons), reasons[0])

    def test_interrupt_aborts_the_refresh(self):
        # SIGINT or SIGTERM while a request waits on a slow server: the run stops within about a second
        # (not when the reply comes), exit 130, the file kept and marked interrupted
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.control(mode="slow", delay=120)
            out = os.path.join(self.dir, f"sig{int(sig)}.h5")
            path = self.study(llm={"timeout_s": 300}, name=f"sig{int(sig)}.json")
            p = subprocess.Popen([ARGS.civitas, "run", path, "-o", out], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            try:
                for _ in range(1200):   # until a request is in flight (at most 120 s)
                    if self.stats()["in_flight"] > 0 or p.poll() is not None:
                        break
                    time.sleep(0.1)
                self.assertGreater(self.stats()["in_flight"], 0)
                t0 = time.time()
                p.send_signal(sig)
                _, err = p.communicate(timeout=60)
                took = time.time() - t0
            finally:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
            print(f"\n  signal {int(sig)} -> exit in {took:.2f} s", file=sys.stderr)
            self.assertEqual(p.returncode, 130, err)
            self.assertLess(took, 1 + 5)   # "within a second", with slack for a loaded machine
            self.assertIn("interrupted after 0 of 21 days", err)
            with h5py.File(out, "r") as f:
                self.assertEqual(f.attrs["status"], "interrupted")

    def test_every_attempt_recorded_and_costed(self):
        # answers cut off at max_tokens: every sample rejected in both rounds, each rejection kept with its
        # round, reason and text; tokens summed from usage; civitas info prints the cost per refresh
        self.control(mode="length")
        out, _ = self.run_llm("record_all", "--steps", "8", llm={"max_retries": 0})
        stats = self.stats()
        n = ARCHETYPES_WITH_AGENTS * SAMPLES
        with h5py.File(out, "r") as f:
            llm = f["llm"]
            self.assertEqual(list(llm["requests"][:]), [2 * n, 2 * n])
            self.assertEqual(list(llm["rejected"][:]), [2 * n, 2 * n])
            self.assertEqual(llm["rejected_step"].shape[0], 4 * n)
            self.assertEqual(sorted(set(llm["rejected_round"][:])), [0, 1])
            self.assertEqual(sorted(set(llm["rejected_step"][:])), [0, 7])
            self.assertTrue(all("finish_reason" in r for r in self.strings(llm["rejected_reason"])))
            self.assertTrue(all(a.startswith('{"isolate_if') for a in self.strings(llm["rejected_answer"])))
            self.assertEqual(int(llm["prompt_tokens"][:].sum()), stats["prompt_tokens"])
            self.assertEqual(int(llm["completion_tokens"][:].sum()), stats["completion_tokens"])
            self.assertGreater(stats["prompt_tokens"], 0)
            self.assertTrue(all(w > 0 for w in llm["wall_s"][:]))
            ptok, ctok, wall = int(llm["prompt_tokens"][0]), int(llm["completion_tokens"][0]), float(llm["wall_s"][0])
        p = self.civitas("info", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        row = re.search(r"^\s+0\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s*$", p.stdout, re.M)
        self.assertIsNotNone(row, p.stdout)
        self.assertEqual([int(v) for v in row.groups()[:7]], [2 * n, 0, 2 * n, ARCHETYPES_WITH_AGENTS, 0, ptok, ctok])
        self.assertAlmostEqual(float(row.group(8)), wall, delta=0.01)
        self.assertIn("LLM cost", p.stdout)

    def test_degenerate_answers_warned(self):
        # the same answer for every archetype: warned at the first refresh
        self.control(mode="constant")
        out, err = self.run_llm("same_rows", "--steps", "1")
        self.assertIn("warning: LLM refresh on day 0: degenerate answers: all 15 archetypes got the same answer", err)
        with h5py.File(out, "r") as f:
            self.assertEqual(f["llm/degenerate"][0], 1)
        # answers that differ by archetype but never move with the situation: warned at the third refresh
        self.control(mode="per_group")
        out, err = self.run_llm("unchanged", "--steps", "15")
        self.assertIn("warning: LLM refresh on day 14: degenerate answers: every archetype's answer is the same as "
                      "in the previous 2 refreshes", err)
        self.assertNotIn("on day 7: degenerate", err)
        with h5py.File(out, "r") as f:
            self.assertEqual(list(f["llm/degenerate"][:]), [0, 0, 2])
        # answers that follow the prompts: no warning
        self.control(mode="ok")
        out, err = self.run_llm("lively", "--steps", "15")
        self.assertNotIn("degenerate", err)

    def test_request_shape_matches_readme(self):
        # the request the README shows is the one civitas sends (what vLLM, llama.cpp and Ollama read), for
        # every response_format; and the README's study example runs
        with open(os.path.join(ARGS.source, "README.md")) as f:
            readme = f.read()
        section = readme[readme.index("## Behaviour from an LLM"):readme.index("## Counterfactual studies")]
        blocks = re.findall(r"```json\n(.*?)```", section, re.S)
        example = json.loads("{" + blocks[0] + "}")["behavior"]
        documented = json.loads(blocks[1])
        self.control(mode="ok")
        example["llm"].update({"base_url": self.url, "model": "civitas-test-server",
                               "cache": os.path.join(self.dir, "cache_readme.jsonl")})
        path = os.path.join(self.dir, "readme.json")
        with open(path, "w") as f:
            json.dump({"base": os.path.join(ARGS.source, "tests", "data", "llm.json"), "behavior": example}, f)
        p = self.civitas("run", path, "--steps", "1", "--scale", "0.002", "-o", os.path.join(self.dir, "readme.h5"))
        self.assertEqual(p.returncode, 0, p.stderr)
        sent = self.stats()["last_request"]
        self.assertEqual(sorted(sent), sorted(documented))
        self.assertEqual([m["role"] for m in sent["messages"]], ["system", "user"])
        rf, doc_rf = sent["response_format"], documented["response_format"]
        self.assertEqual(rf["type"], doc_rf["type"])
        self.assertEqual(sorted(rf["json_schema"]), sorted(doc_rf["json_schema"]))
        schema = rf["json_schema"]["schema"]
        self.assertEqual(schema["required"], doc_rf["json_schema"]["schema"]["required"])
        self.assertEqual(sorted(schema["properties"]), sorted(schema["required"]))
        self.assertNotIn("n", sent)        # llama-server refuses n > 1
        self.assertNotIn("stream", sent)   # one JSON body per request
        for fmt, want in (("json_object", {"type": "json_object"}), ("none", None)):
            self.control(mode="ok")
            self.run_llm("rf_" + fmt, "--steps", "1", llm={"response_format": fmt, "samples": 1})
            self.assertEqual(self.stats()["last_request"].get("response_format"), want)

if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
