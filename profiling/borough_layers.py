#!/usr/bin/python3
"""Which contact layer makes the boroughs differ? A diagnostic for the borough-order gap.

Runs the calibrated New York study (2020-03-01, 160 days) at a small scale with one contact layer
switched off at a time (or the community split or the mobility source changed), two seeds each, and
prints per borough the share of adults ever infected by 2020-08-04 and deaths per 100k to 2020-06-30,
beside DOHMH's antibody test positivity by 2020-08-18 (not a random sample: read the order, not the
level) and observed deaths per 100k. Switching a layer off changes the epidemic's size, so beta is
raised in those variants to keep it comparable; compare the spread between boroughs, not the levels.

    /usr/bin/python3 profiling/borough_layers.py [--civitas build/civitas] [--scale 0.02] [VARIANT ...]

Variants: default, tract, city (all community contacts in the tract / the whole city), by_borough
(each borough's own mobility index), nowork (no work or school contacts), nohh (no household
contacts), nocomm (no community contacts), hh_size_05 (household transmission per contact falling with
household size, (size - 1)^-0.5; the shipped study has it off), same_exposure (every race/ethnicity group
equally exposed outside the home: outside_home_exposure_contrast 0). About 20 s per variant on 2 cores at scale 0.02.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ["susceptible", "exposed", "presymptomatic", "asymptomatic", "mild", "severe", "hospitalised",
          "recovered", "dead"]
VARIANTS = {
    "default": {},
    "tract": {"contacts": {"community_levels": {"tract": 1.0, "borough": 0.0, "city": 0.0}}},
    "city": {"contacts": {"community_levels": {"tract": 0.0, "borough": 0.0, "city": 1.0}}},
    "by_borough": {"behavior": {"mobility": {"by_borough": True}}},
    "nowork": {"parameters": {"weight_work": 0.0, "weight_school": 0.0, "beta": 2.6}},
    "nohh": {"parameters": {"weight_household": 0.0, "beta": 3.0}},
    "nocomm": {"parameters": {"weight_community": 0.0, "beta": 3.0}},
    "hh_size_05": {"parameters": {"household_size_exponent": 0.5}},
    "same_exposure": {"parameters": {"outside_home_exposure_contrast": 0.0}},
}
OBSERVED = "observed: antibody positivity 33.1 27.9 19.0 28.2 20.1 (DOHMH, 2020-08-18); deaths per 100k 341 280 188 321 221"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--civitas", default=os.path.join(ROOT, "build", "civitas"))
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("variants", nargs="*", default=list(VARIANTS))
    a = ap.parse_args()
    unknown = [v for v in a.variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"borough_layers.py: unknown variant {unknown[0]!r} (known: {', '.join(VARIANTS)})")
    study = os.path.join(ROOT, "models", "covid", "nyc2020_calibrated.json")
    print(f"{'variant':10s} adults ever infected by 2020-08-04, %  BX BK MN QN SI | deaths per 100k to 2020-06-30")
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.variants:
            body = dict({"base": study, "name": f"layers_{name}", "steps": 160, "output": {"snapshots": []}},
                        **VARIANTS[name])
            path = os.path.join(tmp, f"{name}.json")
            with open(path, "w") as f:
                json.dump(body, f)
            ars, deaths = [], []
            for seed in (1, 2):
                out = os.path.join(tmp, f"{name}_{seed}.h5")
                p = subprocess.run([a.civitas, "run", path, "--scale", str(a.scale), "--seed", str(seed), "-q",
                                    "-o", out], capture_output=True, text=True)
                if p.returncode:
                    sys.exit(f"borough_layers.py: {name}: civitas exited {p.returncode}: {p.stderr.strip()}")
                with h5py.File(out, "r") as f:
                    ts = f["timeseries"]
                    n = sum(ts[v][0].astype(float) for v in STAGES)          # [borough][band]
                    s = ts["susceptible"][156].astype(float)                  # 2020-08-04
                    ars.append(100 * (1 - s[:, 1:].sum(axis=1) / n[:, 1:].sum(axis=1)))   # bands from 18
                    deaths.append(ts["new_deaths"][:122].sum(axis=(0, 2)) / n.sum(axis=1) * 1e5)
            ar, d = np.mean(ars, axis=0), np.mean(deaths, axis=0)
            print(f"{name:10s} {' '.join(f'{x:5.1f}' for x in ar)} | {' '.join(f'{x:4.0f}' for x in d)}", flush=True)
    print(OBSERVED)


if __name__ == "__main__":
    main()
