#!/usr/bin/env python3
"""LLM bridge against tests/llm_test_server.py, a local server that speaks the
OpenAI chat-completions protocol with scripted answers (no model runs here;
nothing below is a model's answer): the refresh cycle changing behaviour in a
running simulation, concurrency, 429 with Retry-After, 5xx, timeouts, malformed
and schema-violating answers, out-of-range probabilities, an unreachable
endpoint, the API key handling, the answer cache, and bit-for-bit replay."""
import json
import math
import os
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
        self.control(mode="ok", go_to_work_seq=[0.1, 0.9, 0.3], per=ARCHETYPES_WITH_AGENTS * SAMPLES)
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
        self.assertTrue(all("refresh deadline of 1 s passed" in r for r in reasons), reasons[:2])
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

    def test_4xx_not_retried(self):
        # e.g. a wrong model name: the server's message is shown, and asking again cannot help
        self.control(mode="status", status=404)
        out, _ = self.run_llm("e404", "--steps", "1")
        with h5py.File(out, "r") as f:
            reasons = [r.decode() if isinstance(r, bytes) else r for r in f["llm/fallback_reason"][:]]
        self.assertTrue(all("HTTP 404: scripted failure" in r for r in reasons), reasons[:2])
        self.assertNotIn("gave up after", reasons[0])
        # one request per sample and validation round (llm.json: validation_retries 1), no transport retries
        self.assertEqual(self.stats()["requests"], 2 * ARCHETYPES_WITH_AGENTS * SAMPLES)

    def test_oversized_response_cut_off(self):
        self.control(mode="huge")
        path = self.study(llm={"samples": 1, "validation_retries": 0}, name="huge.json",
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


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
