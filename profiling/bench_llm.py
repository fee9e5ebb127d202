#!/usr/bin/env python3
"""LLM bridge benchmark against the local scripted test server (tests/llm_test_server.py,
no model: it measures the client and the bridge, not inference). Prints time per refresh and
requests per second at 1, 8 and 64 concurrent requests with a fixed per-request server
delay, and the cost of refreshing the decision table every day vs weekly on the simulation.
Usage: /usr/bin/python3 profiling/bench_llm.py [BUILD_DIR]"""
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

import h5py

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build"))
civitas = os.path.join(build, "civitas")
delay = 0.05

with tempfile.TemporaryDirectory() as tmp:
    server = subprocess.Popen([sys.executable, os.path.join(root, "tests", "llm_test_server.py"), "900"],
                              stdout=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{int(server.stdout.readline().split()[1])}"
    print(f"server: local scripted test server, {delay * 1000:.0f} ms per request; 15 archetypes x 8 samples = 120 requests per refresh")
    print(f"{'concurrency':>11} {'refresh_s':>10} {'requests/s':>11}")
    for conc in (1, 8, 64):
        req = urllib.request.Request(url + "/control", data=json.dumps({"mode": "ok", "delay": delay}).encode(), method="POST")
        urllib.request.urlopen(req).read()
        study = os.path.join(tmp, f"b{conc}.json")
        with open(study, "w") as f:
            json.dump({"base": os.path.join(root, "tests", "data", "llm.json"), "name": "bench",
                       "behavior": {"llm": {"base_url": url, "samples": 8, "concurrency": conc,
                                            "cache": os.path.join(tmp, f"c{conc}.jsonl")}}}, f)
        out = os.path.join(tmp, f"b{conc}.h5")
        subprocess.run([civitas, "run", study, "--steps", "1", "-o", out, "-q"], check=True)
        with h5py.File(out) as f:
            lat, n = float(f["llm/latency_s"][0]), int(f["llm/requests"][0])
        print(f"{conc:>11} {lat:>10.2f} {n / lat:>11.1f}")
    server.kill()
    server.wait()

    print("\ntable refresh cost on the simulation step (heuristic source without case feedback, so both runs have the same"
          "\ndynamics; CPU backend, where kernels read the table in place; nyc2020 at scale 0.1, 28 days):")
    for days in (7, 1):
        study = os.path.join(tmp, f"r{days}.json")
        with open(study, "w") as f:
            json.dump({"base": os.path.join(root, "models", "covid", "nyc2020.json"), "name": "refresh",
                       "behavior": {"refresh_days": days, "heuristic": {
                           "isolate_if_symptomatic": {"case_sensitivity": 0}, "go_to_work": {"case_sensitivity": 0}}},
                       "observed": None, "output": {"snapshots": []}}, f)
        p = subprocess.run([civitas, "run", study, "--scale", "0.1", "--steps", "28", "-o", os.path.join(tmp, "r.h5")],
                           capture_output=True, text=True, check=True)
        per_day = re.search(r"\(([0-9.]+)s/day simulation", p.stderr).group(1)
        print(f"  refresh every {days} day(s): {float(per_day) * 1000:.1f} ms per simulated day")
