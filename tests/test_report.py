#!/usr/bin/env python3
"""civitas report: every section from a small run, error metrics recomputed
independently with numpy, two runs compared in one table, bad inputs."""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import civtest
import h5py
import numpy as np

ARGS = None


def civitas(*args):
    return subprocess.run([ARGS.civitas, *args], capture_output=True, text=True, timeout=300)


def smooth7(x):
    return np.array([x[max(0, t - 6):t + 1].mean() for t in range(len(x))])


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        base = os.path.join(ARGS.source, "models", "covid")
        cls.a = os.path.join(cls.dir, "a.h5")
        cls.b = os.path.join(cls.dir, "b.h5")
        for study, out in (("nyc2020.json", cls.a), ("nyc2020_early_lockdown.json", cls.b)):
            p = civitas("run", os.path.join(base, study), "--scale", "0.005", "--steps", "70", "-o", out, "-q")
            assert p.returncode == 0, p.stderr
        cls.out = os.path.join(cls.dir, "rep")
        p = civitas("report", cls.a, cls.b, "-o", cls.out, "--holdout-from", "2020-04-20")
        assert p.returncode == 0, p.stderr
        with open(os.path.join(cls.out, "report.md")) as f:
            cls.md = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_sections_and_plots(self):
        for section in ("## Reported cases", "## Hospital admissions", "## Deaths", "## Unemployment rate",
                        "## Comparison of runs", "**held-out** = from 2020-04-20"):
            self.assertIn(section, self.md)
        for k in (1, 2):
            for s in ("cases", "hospitalisations", "deaths", "unemployment"):
                path = os.path.join(self.out, f"run{k}_{s}.svg")
                self.assertTrue(os.path.exists(path), path)
                self.assertIn(f"(run{k}_{s}.svg)", self.md)
        self.assertEqual(len(re.findall(r"^\| [12] \| heuristic \|", self.md, re.M)), 2 * 4 * 2)

    def test_metrics_match_numpy(self):
        with h5py.File(self.a, "r") as f:
            scale = f.attrs["population_scale"]
            sim = smooth7(f["timeseries/new_reported_cases"][:].sum(axis=(1, 2)).astype(float))
            obs = smooth7(f["observed/cases"][:].sum(axis=1).astype(float)) * scale
        cut = 50   # 2020-04-20 is day 50
        for window, (t0, t1) in (("fitted", (0, cut)), ("held-out", (cut, 70))):
            s, o = sim[t0:t1], obs[t0:t1]
            mae, rmse = np.abs(s - o).mean(), np.sqrt(((s - o) ** 2).mean())
            nd, r = np.abs(s - o).sum() / np.abs(o).sum(), np.corrcoef(s, o)[0, 1]
            row = re.search(rf"^\| 1 \| heuristic \| Reported cases \| {window} \| (\d+) \| (\S+) \| (\S+) \| (\S+) \| (\S+) \|",
                            self.md, re.M)
            self.assertIsNotNone(row, window)
            n, got = int(row.group(1)), [float(x) for x in row.groups()[1:]]
            self.assertEqual(n, t1 - t0)
            for want, have in zip((mae, rmse, nd, r), got):
                self.assertAlmostEqual(want, have, delta=abs(want) * 0.005 + 1e-3)

    def test_unemployment_against_laus(self):
        # monthly means of the simulated daily rate against LAUS (unemployed / labour force of that month), on
        # the months with at least 15 days in a window: fitted [2020-03-01, 2020-04-20) holds March (31 days) and
        # April 1-19 (19 days); the held-out window (April 20-30, May 1-9) holds no such month
        laus = {}
        with open(os.path.join(ARGS.source, "data", "nyc_laus_monthly_by_borough.csv"), newline="") as f:
            for r in csv.DictReader(f):
                if r["year"] == "2020":
                    laus[(r["borough"], int(r["month"]))] = (float(r["unemployed"]), float(r["labor_force"]))
        with h5py.File(self.a, "r") as f:
            emp = f["timeseries/employed"][:].sum(axis=2).astype(float)
            un = f["timeseries/unemployed"][:].sum(axis=2).astype(float)
        months = ((3, 0, 31), (4, 31, 50))
        section = self.md[self.md.index("## Unemployment rate"):self.md.index("## Comparison of runs")]
        section = section[:section.index("| run 2: area")]   # run 1's table
        areas = [("New York City", slice(None), ["BX", "BK", "MN", "QN", "SI"])] + \
            [(name, b, [code]) for b, (name, code) in enumerate(zip(
                ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"], ["BX", "BK", "MN", "QN", "SI"]))]
        for name, col, codes in areas:
            e = emp[:, col].sum(axis=1) if name == "New York City" else emp[:, col]
            u = un[:, col].sum(axis=1) if name == "New York City" else un[:, col]
            sim = np.array([(100 * u / (e + u))[t0:t1].mean() for _, t0, t1 in months])
            obs = np.array([100 * sum(laus[(c, m)][0] for c in codes) / sum(laus[(c, m)][1] for c in codes)
                            for m, _, _ in months])
            d = sim - obs
            want = (np.abs(d).mean(), np.sqrt((d ** 2).mean()), np.abs(d).sum() / np.abs(obs).sum())
            row = re.search(rf"^\| {name} \| fitted \| (\d+) \| (\S+) \| (\S+) \| (\S+) \|", section, re.M)
            self.assertIsNotNone(row, name)
            self.assertEqual(int(row.group(1)), 2, name)
            for w, have in zip(want, (float(x) for x in row.groups()[1:])):
                self.assertAlmostEqual(w, have, delta=abs(w) * 0.005 + 1e-3, msg=name)
            # no month to compare: no errors to report (not 0, which would read as a perfect fit)
            self.assertRegex(section, rf"(?m)^\| {name} \| held-out \| 0 \| nan \| nan \| nan \| nan \|$")
        # the simulated rate moved (layoffs under PAUSE), so a month or window off by a few days would show
        self.assertGreater(sim[1] - sim[0], 0.5)

    def test_bad_inputs(self):
        noobs = os.path.join(self.dir, "noobs.h5")
        study = os.path.join(self.dir, "noobs.json")
        with open(study, "w") as f:
            json.dump({"base": os.path.join(ARGS.source, "models", "covid", "nyc2020.json"), "observed": None,
                       "output": {"snapshots": []}}, f)
        self.assertEqual(civitas("run", study, "--scale", "0.002", "--steps", "20", "-o", noobs, "-q").returncode, 0)
        p = civitas("report", noobs, "-o", os.path.join(self.dir, "r2"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("has no observed data", p.stderr)
        p = civitas("report", self.a, "-o", os.path.join(self.dir, "r3"), "--holdout-from", "2021-01-01")
        self.assertEqual(p.returncode, 3)
        self.assertIn("outside", p.stderr)
        pop = os.path.join(self.dir, "pop.h5")
        civitas("synth", "--scale", "0.001", "-o", pop, "-q")
        p = civitas("report", pop, "-o", os.path.join(self.dir, "r4"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("not a civitas run file", p.stderr)


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
