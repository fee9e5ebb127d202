#!/usr/bin/python3
"""How long an LLM refresh lasts against its deadline.

Starts the local scripted server (tests/llm_test_server.py: no model, answers after a fixed delay),
runs the small LLM study (tests/data/llm.json, one day: one refresh of 15 archetypes x 2 samples, 4 at a
time) with a given deadline_s and answer delay, and prints the refresh's wall time as /llm/wall_s
records it, with the requests and fallbacks.

    /usr/bin/python3 profiling/llm_deadline.py [--civitas build/civitas] [DEADLINE_S:DELAY_S ...]

Default cases: 2:5 and 5:5 (answers slower than the deadline: the refresh must end at the deadline with
every archetype on its fallback row) and 15:1 (fast enough: the refresh completes before it).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--civitas", default=os.path.join(ROOT, "build", "civitas"))
    ap.add_argument("cases", nargs="*", default=["2:5", "5:5", "15:1"])
    a = ap.parse_args()
    try:
        cases = [tuple(float(x) for x in c.split(":")) for c in a.cases]
    except ValueError:
        sys.exit("llm_deadline.py: a case is DEADLINE_S:DELAY_S, e.g. 2:5")
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "llm_test_server.py")],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{int(server.stdout.readline().split()[1])}"
        with tempfile.TemporaryDirectory() as tmp:
            for deadline, delay in cases:
                req = urllib.request.Request(url + "/control", data=json.dumps({"mode": "ok", "delay": delay}).encode(),
                                             method="POST")
                urllib.request.urlopen(req, timeout=30).read()
                study = os.path.join(tmp, "study.json")
                with open(study, "w") as f:
                    json.dump({"base": os.path.join(ROOT, "tests", "data", "llm.json"), "name": "deadline", "steps": 1,
                               "behavior": {"llm": {"base_url": url, "deadline_s": deadline, "timeout_s": 20,
                                                    "cache": os.path.join(tmp, "cache.jsonl")}}}, f)
                out = os.path.join(tmp, "run.h5")
                t0 = time.time()
                p = subprocess.run([a.civitas, "run", study, "-q", "-o", out], capture_output=True, text=True)
                wall = time.time() - t0
                if p.returncode:
                    sys.exit(f"llm_deadline.py: civitas exited {p.returncode}: {p.stderr.strip()}")
                with h5py.File(out, "r") as f:
                    g = f["llm"]
                    print(f"deadline_s {deadline:g}, answers after {delay:g} s: refresh {g['wall_s'][0]:.3f} s "
                          f"(/llm/wall_s), {int(g['requests'][0])} requests sent, "
                          f"{int(g['fallbacks'][0])} archetypes on fallback; whole run {wall:.1f} s", flush=True)
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
