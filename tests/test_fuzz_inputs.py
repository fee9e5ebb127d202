#!/usr/bin/env python3
"""Mutation fuzzing of every input civitas reads: study files, population
files, run files (info/plot/report) and recorded LLM answers (replay).

Each case mutates a valid input at random (a value replaced by one of another
type or out of range, a key or dataset deleted, a dataset resized, a file
truncated) and runs civitas on it. Whatever the mutation, civitas must exit 0
or 3 (bad input) with one error line naming the file, never crash, hang or
leave an output file behind when it fails; under a sanitizer build
(-DCIVITAS_SANITIZE=ON) no sanitizer report may appear either. Accepting an
input is checked too: a mutation that certainly breaks the input (a field of
the wrong JSON type where civitas reads it, a required dataset deleted or cut
short, a recorded answer out of range) must be rejected, and an accepted
input must give a complete output (a run file whose stages add up to the
population every day, a plot, a report).

CTest runs a few cases of each kind with a fixed seed. For a deeper search:
  CIVITAS_FUZZ_COUNT=500 CIVITAS_FUZZ_SEED=7 /usr/bin/python3 tests/test_fuzz_inputs.py \\
      --civitas build-asan/civitas --source .
A failing case is kept in $CIVITAS_FUZZ_KEEP (default: not kept) for replaying by hand.
"""
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

import civtest
import h5py
import numpy as np

ARGS = None
COUNT = int(os.environ.get("CIVITAS_FUZZ_COUNT", "12"))
SEED = int(os.environ.get("CIVITAS_FUZZ_SEED", "1"))
KEEP = os.environ.get("CIVITAS_FUZZ_KEEP")

ODD_VALUES = [None, True, False, -1, 0, 1, 0.5, 2, 367, 1e6, 1e308, -1e308, 1e-320, 2**63, -2**63, -0.0,
              "", "x", "2020-13-45", "nan", [], {}, [1, 2], {"a": 1}]


def json_paths(o, prefix=()):
    yield prefix
    if isinstance(o, dict):
        for k, v in o.items():
            yield from json_paths(v, prefix + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from json_paths(v, prefix + (i,))


def json_kind(v):
    return "bool" if isinstance(v, bool) else "number" if isinstance(v, (int, float)) else type(v).__name__


# free text, which civitas keeps without reading
FREE_TEXT = {"note", "source", "sources", "description", "unit"}


def mutate_json(rng, doc, overridden=()):
    """Returns the mutated copy and the paths it certainly broke: a value civitas reads, replaced by one of
    another JSON type (paths under free-text keys and the command line's overrides excepted)."""
    doc = copy.deepcopy(doc)
    paths = [p for p in json_paths(doc) if p]
    broken = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        p = rng.choice(paths)
        parent = doc
        try:
            for k in p[:-1]:
                parent = parent[k]
            if rng.random() < 0.2:
                del parent[p[-1]]
            else:
                old, new = parent[p[-1]], rng.choice(ODD_VALUES)
                parent[p[-1]] = new
                if json_kind(old) != json_kind(new) and not FREE_TEXT & set(map(str, p)) and p not in overridden:
                    broken.append(p)
        except (KeyError, IndexError, TypeError):
            pass   # an earlier mutation removed the path
    return doc, [p for p in broken if still_there(doc, p)]


def still_there(doc, p):
    """Whether path p still leads to a value (a later mutation may have removed or replaced a parent)."""
    for k in p:
        try:
            doc = doc[k]
        except (KeyError, IndexError, TypeError):
            return False
    return True


def check_run_file(test, path, steps):
    """An accepted input's run file: complete, and the stages add up to the population every day."""
    with h5py.File(path, "r") as f:
        test.assertEqual(f.attrs["status"], "complete")
        test.assertEqual(f.attrs["steps_completed"], steps)
        n = int(f.attrs["n_agents"])
        total = sum(f["timeseries"][v][:].sum(axis=(1, 2)) for v in STOCKS)
        test.assertTrue((total == n).all(), total)


STOCKS = ["susceptible", "exposed", "presymptomatic", "asymptomatic", "mild", "severe", "hospitalised",
          "recovered", "dead"]


def mutate_h5(rng, path, prefer=()):
    """One random change to an HDF5 file in place; returns (kind, name)."""
    with h5py.File(path, "r+") as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        names += [n for n in names if n.startswith(prefer)] * 3
        attrs = list(f.attrs)
        kind = rng.choice(["value", "value", "shape", "shape", "dtype", "delete", "attr", "attr_delete"])
        name = rng.choice(names)
        d = f[name]
        if kind == "value" and d.dtype.kind in "iu" and d.size:
            a = d[()]
            info = np.iinfo(a.dtype)
            v = rng.choice([info.max, info.min, 0, 5, 6, 255, 65535, 2**31 - 1])
            a.flat[rng.randrange(a.size) if rng.random() < 0.8 else slice(None)] = max(min(v, info.max), info.min)
            d[...] = a
        elif kind == "shape":
            a = d[()]
            del f[name]
            if a.ndim and a.shape[0]:
                f[name] = rng.choice([a[:0], a[:1], a[:-1], np.concatenate([a, a[:2]])])
            else:
                f[name] = np.zeros(3, np.int32)
        elif kind == "dtype":
            a = d[()]
            del f[name]
            f[name] = a.astype(np.float64) if a.dtype.kind in "iuf" else np.zeros(a.shape, np.int32)
        elif kind == "delete":
            del f[name]
        elif kind == "attr":   # values of another type or shape too: arrays, string arrays, floats for integers
            name = rng.choice(attrs)
            f.attrs[name] = rng.choice([-1, 0, 10**12, "x", 1e300, "", "2020-99-99", 5, 3.7, np.array([1, 2, 3]),
                                        np.array(["civitas-population/3", "x"], dtype=h5py.string_dtype()),
                                        np.array([[1.5]]), np.bytes_(b"civitas-trajectory/1")])
        else:
            name = rng.choice(attrs)
            del f.attrs[name]
        return kind, name


class Fuzz(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.base = os.path.join(ARGS.source, "models", "covid", "nyc2020.json")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def civitas(self, *args):
        try:
            p = subprocess.run([ARGS.civitas, *args], capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return None, "timed out after 120 s"
        return p.returncode, p.stderr

    def check(self, what, rc, err, names, outputs, keep, allowed=(0, 3)):
        """The contract for one mutated input; keeps the input when it is broken."""
        problems = []
        if rc is None:
            problems.append(err)
        elif rc < 0:
            problems.append(f"killed by signal {-rc}")
        elif rc not in allowed:
            problems.append(f"exit code {rc} (expected one of {allowed})")
        if "Sanitizer" in err or "runtime error:" in err:
            problems.append("sanitizer report")
        if rc in (2, 3):
            lines = [l for l in err.splitlines() if l.startswith("civitas: error:")]
            if len(lines) != 1:
                problems.append(f"{len(lines)} error lines")
            elif rc == 3 and not any(n in lines[0] for n in names):
                problems.append(f"error does not name {' or '.join(names)}")
            left = [o for o in outputs if os.path.exists(o)]
            if left:
                problems.append(f"left {left} behind")
        if problems and KEEP:
            os.makedirs(KEEP, exist_ok=True)
            for src in keep:
                shutil.copy(src, os.path.join(KEEP, os.path.basename(src)))
        self.assertFalse(problems, f"{what}: {'; '.join(problems)}\n{err[-1500:]}")
        for o in outputs:
            if os.path.exists(o):
                shutil.rmtree(o) if os.path.isdir(o) else os.remove(o)

    def test_study_files(self):
        rng = random.Random(SEED)
        with open(self.base) as f:
            study = json.load(f)
        with open(os.path.join(ARGS.source, "models", "covid", "params.json")) as f:
            params = json.load(f)
        # absolute paths, so the mutated copies may live elsewhere
        data = os.path.join(ARGS.source, "data")
        study["population"]["synthesize"]["data_dir"] = data
        study["contacts"]["matrices"]["file"] = os.path.join(data, "contact_matrix_prem2021_usa.csv")
        study["observed"]["file"] = os.path.join(data, "nyc_covid_daily_by_borough.csv")
        study["model"] = "params.json"
        s_path, p_path = os.path.join(self.dir, "s.json"), os.path.join(self.dir, "params.json")
        out = os.path.join(self.dir, "s.h5")
        for case in range(COUNT):
            target = rng.choice(["study", "params"])
            broken = []
            # --steps, --scale and -o replace these fields before they are read
            if target == "study":
                s_doc, broken = mutate_json(rng, study, overridden={("steps",), ("population", "synthesize", "scale"),
                                                                    ("output", "file")})
            else:
                s_doc = study
            if target == "params":
                p_doc, broken = mutate_json(rng, params, overridden={("model",)})   # the model's name: a label
            else:
                p_doc = params
            s_text, p_text = json.dumps(s_doc), json.dumps(p_doc)
            if rng.random() < 0.1:   # a file cut short
                if target == "study":
                    s_text = s_text[:rng.randrange(len(s_text))]
                else:
                    p_text = p_text[:rng.randrange(len(p_text))]
            with open(s_path, "w") as f:
                f.write(s_text)
            with open(p_path, "w") as f:
                f.write(p_text)
            rc, err = self.civitas("run", s_path, "--scale", "0.001", "--steps", "3", "-o", out, "-q")
            # an error may name a file the study points to (data, matrices): any path under the test dirs
            # exit 2: the mutated study loads a population file, which takes no --scale
            what = f"study case {case} ({target}{', broke ' + str(broken) if broken else ''})"
            if rc == 0:
                self.assertFalse(broken, f"{what}: accepted")
                check_run_file(self, out, 3)
            self.check(what, rc, err, [s_path, p_path, data, self.dir], [out], [s_path, p_path], allowed=(0, 2, 3))

    def test_study_text(self):
        """Text that JSON parsers accept but a study must not hold: a key twice in one object, a \\u0000
        escape, a number beyond a double. Always an error (exit 3) with the line and column."""
        rng = random.Random(SEED + 4)
        with open(self.base) as f:
            study = json.load(f)
        data = os.path.join(ARGS.source, "data")
        study["population"]["synthesize"]["data_dir"] = data
        study["model"] = os.path.join(ARGS.source, "models", "covid", "params.json")
        s_path, out = os.path.join(self.dir, "text.json"), os.path.join(self.dir, "text.h5")
        strings = [p for p in json_paths(study) if p and isinstance(self.at(study, p), str)]
        numbers = [p for p in json_paths(study) if p and isinstance(self.at(study, p), (int, float))
                   and not isinstance(self.at(study, p), bool)]
        objects = [p for p in json_paths(study) if isinstance(self.at(study, p), dict) and self.at(study, p)]
        for case in range(COUNT):
            kind = rng.choice(["duplicate", "nul", "overflow"])
            marker = "@@MARK@@"
            doc = copy.deepcopy(study)
            if kind == "duplicate":   # the key repeated right after itself, with another value
                p = rng.choice(objects)
                obj = self.at(doc, p)
                key = rng.choice(list(obj))
                obj[key + marker] = rng.choice(ODD_VALUES)
                text = json.dumps(doc).replace(json.dumps(key + marker), json.dumps(key))
            elif kind == "nul":
                p = rng.choice(strings)
                parent = self.at(doc, p[:-1])
                parent[p[-1]] = parent[p[-1]] + marker
                text = json.dumps(doc).replace(marker, "\\u0000" + rng.choice(["", "junk"]))
            else:
                p = rng.choice(numbers)
                parent = self.at(doc, p[:-1])
                parent[p[-1]] = marker
                text = json.dumps(doc).replace(json.dumps(marker), rng.choice(["1e309", "-1e400", "9" * 400]))
            with open(s_path, "w") as f:
                f.write(text)
            rc, err = self.civitas("run", s_path, "--scale", "0.001", "--steps", "2", "-o", out, "-q")
            self.check(f"study text case {case} ({kind} at {p})", rc, err, [s_path + ":1:"], [out], [s_path],
                       allowed=(3,))

    @staticmethod
    def at(doc, path):
        for k in path:
            doc = doc[k]
        return doc

    def population(self):
        pop = os.path.join(self.dir, "pop.h5")
        if not os.path.exists(pop):
            rc, err = self.civitas("synth", "--scale", "0.002", "-o", pop, "-q")
            self.assertEqual(rc, 0, err)
        return pop

    def test_population_files(self):
        rng = random.Random(SEED + 1)
        good, bad, out = self.population(), os.path.join(self.dir, "bad_pop.h5"), os.path.join(self.dir, "p.h5")
        for case in range(COUNT):
            shutil.copy(good, bad)
            kind, name = mutate_h5(rng, bad, prefer=("agents",))
            with h5py.File(bad, "r") as f:
                shorter = kind == "shape" and name in f and len(f[name]) < len(h5py.File(good, "r")[name])
            rc, err = self.civitas("run", self.base, "--population", bad, "--steps", "2", "-o", out, "-q")
            what = f"population case {case} ({kind} {name})"
            if rc == 0:
                # every dataset of a population file is needed, in full
                self.assertFalse(kind == "delete" or shorter, f"{what}: accepted")
                check_run_file(self, out, 2)
            self.check(what, rc, err, [bad], [out], [bad])

    def test_run_files(self):
        rng = random.Random(SEED + 2)
        good = os.path.join(self.dir, "run.h5")
        rc, err = self.civitas("run", self.base, "--population", self.population(), "--steps", "20", "-o", good, "-q")
        self.assertEqual(rc, 0, err)
        bad = os.path.join(self.dir, "bad_run.h5")
        svg, rep = os.path.join(self.dir, "bad.svg"), os.path.join(self.dir, "bad_report")
        # the series each command reads: deleting one or cutting it below steps_completed must be refused
        reads = {"info": {"new_infections", "new_reported_cases", "new_hospitalisations", "new_deaths"},
                 "plot": {"new_infections", "new_reported_cases", "new_hospitalisations"},
                 "report": {"new_reported_cases", "new_hospitalisations", "new_deaths", "employed", "unemployed"}}
        for case in range(COUNT):
            shutil.copy(good, bad)
            kind, name = mutate_h5(rng, bad, prefer=("timeseries", "observed"))
            with h5py.File(bad, "r") as f:
                shorter = kind == "shape" and name in f and len(f[name]) < 20
            for cmd, outputs in ((["info", bad], []), (["plot", bad, "-o", svg], [svg]),
                                 (["report", bad, "-o", rep], [rep])):
                rc, err = self.civitas(*cmd)
                what = f"run-file case {case} ({kind} {name}), {cmd[0]}"
                needed = name.startswith("timeseries/") and name.split("/")[1] in reads[cmd[0]]
                if rc == 0:
                    self.assertFalse(needed and (kind == "delete" or shorter), f"{what}: accepted")
                    if cmd[0] == "plot":
                        with open(svg) as fh:
                            self.assertTrue(fh.read().rstrip().endswith("</svg>"), what)
                    if cmd[0] == "report":
                        self.assertTrue(os.path.exists(os.path.join(rep, "report.md")), what)
                self.check(what, rc, err, [bad], outputs, [bad])

    def test_replay_files(self):
        # answers recorded from the scripted test server (tests/llm_test_server.py: no model), then mutated
        server = subprocess.Popen([sys.executable, os.path.join(ARGS.source, "tests", "llm_test_server.py"), "300"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline().split()[1])
            cache = os.path.join(self.dir, "answers.jsonl")
            study = os.path.join(self.dir, "llm.json")
            with open(study, "w") as f:
                json.dump({"base": os.path.join(ARGS.source, "tests", "data", "llm.json"), "name": "llm_fuzz",
                           "behavior": {"llm": {"base_url": f"http://127.0.0.1:{port}", "cache": cache}}}, f)
            rc, err = self.civitas("run", study, "--steps", "8", "-o", os.path.join(self.dir, "rec.h5"), "-q")
            self.assertEqual(rc, 0, err)
        finally:
            server.kill()
            server.wait()
            server.stdout.close()
        with open(cache) as f:
            records = [json.loads(line) for line in f]
        rng = random.Random(SEED + 3)
        bad, out = os.path.join(self.dir, "bad_answers.jsonl"), os.path.join(self.dir, "replay.h5")
        for case in range(COUNT):
            kind = rng.choice(["content", "raw", "record", "line"])
            lines = []
            broken = []
            for r in records:
                r = copy.deepcopy(r)
                if rng.random() < 0.1:
                    if kind == "content":
                        answer, wrong = mutate_json(rng, json.loads(r["content"]))
                        r["content"] = json.dumps(answer)
                        # a decision that is no longer a number in [0, 1]: the recorded answer cannot be used
                        broken += [p for p in wrong if p[0] != "reasoning"]
                    elif kind == "raw":
                        c, i = r["content"], rng.randrange(len(r["content"]) + 1)
                        r["content"] = c[:i] + rng.choice(["", "\\", '"', "}", "\u00ff", " " * 5000]) + c[i:]
                    elif kind == "record":
                        r[rng.choice(["key", "content", "request"])] = rng.choice(ODD_VALUES)
                line = json.dumps(r)
                if kind == "line" and rng.random() < 0.05:
                    i = rng.randrange(len(line))
                    line = line[:i] + rng.choice(["", "\n", "}", "garbage"]) + line[i:]
                lines.append(line)
            with open(bad, "w") as f:
                f.write("\n".join(lines) + "\n")
            rc, err = self.civitas("run", study, "--llm", "replay", bad, "--steps", "8", "-o", out, "-q")
            # a replay that fails part-way keeps the completed days (a valid, failed-status file), so the
            # output may remain; only the contract on the exit and the message applies
            what = f"replay case {case} ({kind}{', broke ' + str(broken) if broken else ''})"
            if rc == 0:
                self.assertFalse(broken, f"{what}: accepted")
                check_run_file(self, out, 8)
            self.check(what, rc, err, [bad], [], [bad])
            if os.path.exists(out):
                os.remove(out)


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
