#!/usr/bin/env python3
"""Calibration recovers known parameters from a synthetic "observed" series
that the simulator itself generated (beta 0.8, 40 initial infections per 100k),
and writes a calibrated study that runs; bad inputs fail clearly.
Tolerances: beta within 15% (well identified by the growth and decline of
cases); initial infections within a factor 2 (weakly identified from reported
cases alone: it trades off against beta early on)."""
import csv
import datetime
import json
import os
import subprocess
import sys
import tempfile
import unittest

import civtest
import h5py

ARGS = None
BOROUGHS = ["BX", "BK", "MN", "QN", "SI"]


def civitas(*args):
    return subprocess.run([ARGS.civitas, *args], capture_output=True, text=True, timeout=600)


class Calibrate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        base = {"base": os.path.join(ARGS.source, "models", "covid", "nyc2020.json"), "name": "calbase", "steps": 50,
                "output": {"snapshots": []}, "observed": None,
                "testing": {"seek_probability": 0.3, "capacity_per_100k": 0, "result_delay_days": 2, "capacity_file": None},
                "behavior": {"mobility": None}, "parameters": {"beta": None},
                "interventions": [{"date": "2020-03-22", "type": "workplace_closure", "closed": True, "essential_share": 0.4},
                                  {"date": "2020-03-22", "type": "community_contacts", "factor": 0.3}]}
        cls.write(d, "base.json", base)
        cls.write(d, "truth.json", {"base": os.path.join(d, "base.json"), "name": "truth",
                                    "parameters": {"beta": 0.8}, "initial_infections": {"per_100k": 40}})
        p = civitas("run", os.path.join(d, "truth.json"), "--scale", "0.01", "-o", os.path.join(d, "truth.h5"), "-q")
        assert p.returncode == 0, p.stderr
        with h5py.File(os.path.join(d, "truth.h5"), "r") as f:
            scale = f.attrs["population_scale"]
            rep = f["timeseries/new_reported_cases"][:].sum(axis=2)
        start = datetime.date(2020, 3, 1)
        cls.observed = os.path.join(d, "synthetic_observed.csv")
        with open(cls.observed, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["date", "borough", "county_fips", "confirmed_cases", "probable_cases", "hospitalized", "deaths"])
            for t in range(rep.shape[0]):
                for b, code in enumerate(BOROUGHS):
                    w.writerow([(start + datetime.timedelta(days=t)).isoformat(), code, "", int(round(rep[t, b] / scale)), 0, 0, 0])
        cls.fit_study = cls.write(d, "fit.json", {"base": os.path.join(d, "base.json"), "name": "fitme",
                                                  "observed": {"file": cls.observed}})
        cls.out = os.path.join(d, "calibrated.json")
        cls.p = civitas("calibrate", cls.fit_study, "--fit-until", "2020-04-10", "--scale", "0.01", "--seeds", "2",
                        "--restarts", "2", "--max-evaluations", "35", "-o", cls.out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def write(d, name, body):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            json.dump(body, f)
        return path

    def test_recovers_known_parameters(self):
        self.assertEqual(self.p.returncode, 0, self.p.stderr)
        with open(self.out + ".fit.json") as f:
            fit = json.load(f)
        beta = fit["parameters"]["beta"]["mean"]
        initial = fit["parameters"]["initial_per_100k"]["mean"]
        self.assertLess(abs(beta - 0.8) / 0.8, 0.15, fit)
        self.assertLess(max(initial / 40, 40 / initial), 2.0, fit)
        self.assertEqual(len(fit["parameters"]["beta"]["restarts"]), 2)
        self.assertGreaterEqual(fit["parameters"]["beta"]["sd"], 0)

    def test_calibrated_study_runs(self):
        with open(self.out) as f:
            cal = json.load(f)
        self.assertEqual(cal["name"], "fitme_calibrated")
        self.assertEqual(cal["base"], "fit.json")          # relative to the calibrated file
        self.assertNotIn("interventions", cal)             # counterfactuals based on it keep the fit
        with open(self.out + ".fit.json") as f:
            self.assertAlmostEqual(cal["parameters"]["beta"], json.load(f)["parameters"]["beta"]["mean"])
        p = civitas("run", self.out, "--scale", "0.005", "-o", os.path.join(self.dir, "cal.h5"), "-q")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_phase_transmission_moves_with_the_closure(self):
        # transmission.after_stay_at_home = 0: no infection from the first workplace closure on,
        # which is 2020-03-22 (day 21) in nyc2020 and 2020-03-08 (day 7) in the early-lockdown counterfactual
        covid = os.path.join(ARGS.source, "models", "covid")
        for study, closure_day in (("nyc2020.json", 21), ("nyc2020_early_lockdown.json", 7)):
            s = self.write(self.dir, "zero_" + study, {"base": os.path.join(covid, study), "name": "zero",
                                                       "transmission": {"after_stay_at_home": 0}, "steps": 40,
                                                       "output": {"snapshots": []}})
            out = os.path.join(self.dir, "zero_" + study + ".h5")
            p = civitas("run", s, "--scale", "0.005", "-o", out, "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
            with h5py.File(out, "r") as f:
                inf = f["timeseries/new_infections"][:].sum(axis=(1, 2))
            self.assertGreater(inf[:closure_day].sum(), 0, study)
            self.assertEqual(inf[closure_day:].sum(), 0, study)

    def test_bad_inputs(self):
        p = civitas("calibrate", self.fit_study, "--fit-until", "2021-01-01", "-o", os.path.join(self.dir, "x.json"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("--fit-until 2021-01-01 must lie between", p.stderr)
        noobs = self.write(self.dir, "noobs.json", {"base": os.path.join(self.dir, "base.json"), "name": "noobs"})
        p = civitas("calibrate", noobs, "--fit-until", "2020-04-10", "-o", os.path.join(self.dir, "x.json"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("needs observed data", p.stderr)
        p = civitas("calibrate", self.fit_study, "--fit-until", "2020-03-15", "--fit-after-stay-at-home",
                    "-o", os.path.join(self.dir, "x.json"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("needs a workplace_closure intervention inside the fitted window", p.stderr)
        p = civitas("calibrate", self.fit_study, "-o", os.path.join(self.dir, "x.json"))
        self.assertEqual(p.returncode, 2)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.json")))


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
