#!/usr/bin/env python3
"""Calibration recovers known parameters from synthetic "observed" series that
the simulator itself generated, and writes a calibrated study that runs; bad
inputs fail clearly.

- Beta and initial infections (truth 0.8 and 40 per 100k), fitted from 2.5x
  and 10x away, so an optimiser that did not move would fail. Tolerances:
  beta within 15% (well identified by the growth and decline of cases), initial
  infections within a factor 2 (weakly identified from reported cases alone:
  it trades off against beta early on; the two restarts differ in seeds). The
  reported loss and spread are recomputed here from runs of the fitted values.
- With --fit-after-stay-at-home --fit-testing, four parameters (truth beta 0.8,
  0.3 after the stay-at-home order, 40 per 100k, seek scale 2; testing rises
  mid-window, which separates the seek scale from the initial infections),
  fitted from 1.25x to 2x away with one seed equal to the truth's: the
  objective is exactly 0 at the truth, so the fit must come close (10%, 20% for
  the initial infections, which only count in whole agents; the objective is a
  step function of the parameters, so the simplex may stop on a small plateau
  next to the truth)."""
import csv
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import civtest
import h5py
import numpy as np

ARGS = None
BOROUGHS = ["BX", "BK", "MN", "QN", "SI"]


def civitas(*args):
    return subprocess.run([ARGS.civitas, *args], capture_output=True, text=True, timeout=600)


def write(d, name, body):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        json.dump(body, f)
    return path


def synthetic_observed(d, truth, base):
    """Runs the truth study at scale 0.01 and writes its reported cases (real-city units) as an observed CSV."""
    write(d, "truth.json", dict({"base": base, "name": "truth"}, **truth))
    p = civitas("run", os.path.join(d, "truth.json"), "--scale", "0.01", "-o", os.path.join(d, "truth.h5"), "-q")
    assert p.returncode == 0, p.stderr
    with h5py.File(os.path.join(d, "truth.h5"), "r") as f:
        scale = f.attrs["population_scale"]
        rep = f["timeseries/new_reported_cases"][:].sum(axis=2)
    start = datetime.date(2020, 3, 1)
    path = os.path.join(d, "synthetic_observed.csv")
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "borough", "county_fips", "confirmed_cases", "probable_cases", "hospitalized", "deaths"])
        for t in range(rep.shape[0]):
            for b, code in enumerate(BOROUGHS):
                w.writerow([(start + datetime.timedelta(days=t)).isoformat(), code, "", int(round(rep[t, b] / scale)), 0, 0, 0])
    return path


BASE = {"name": "calbase", "steps": 50, "output": {"snapshots": []}, "observed": None,
        "testing": {"seek_probability": 0.3, "capacity_per_100k": 0, "result_delay_days": 2},
        "interventions": [{"date": "2020-03-22", "type": "workplace_closure", "closed": True, "essential_share": 0.4},
                          {"date": "2020-03-22", "type": "community_contacts", "factor": 0.3}]}


class Calibrate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        base = write(d, "base.json", dict(BASE, base=os.path.join(ARGS.source, "models", "covid", "nyc2020.json")))
        cls.observed = synthetic_observed(d, {"parameters": {"beta": 0.8}, "initial_infections": {"per_100k": 40}}, base)
        cls.start = {"beta": 2.0, "initial_per_100k": 400}
        cls.fit_study = write(d, "fit.json", {"base": base, "name": "fitme", "observed": {"file": cls.observed},
                                              "parameters": {"beta": cls.start["beta"]},
                                              "initial_infections": {"per_100k": cls.start["initial_per_100k"]}})
        cls.out = os.path.join(d, "calibrated.json")
        cls.p = civitas("calibrate", cls.fit_study, "--fit-until", "2020-04-10", "--scale", "0.01", "--seeds", "2",
                        "--restarts", "2", "--max-evaluations", "35", "-o", cls.out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def write(d, name, body):
        return write(d, name, body)

    def test_recovers_known_parameters(self):
        self.assertEqual(self.p.returncode, 0, self.p.stderr)
        with open(self.out + ".fit.json") as f:
            fit = json.load(f)
        beta = fit["parameters"]["beta"]["mean"]
        initial = fit["parameters"]["initial_per_100k"]["mean"]
        # the start lies outside the tolerances: the optimiser had to move there
        self.assertGreater(abs(self.start["beta"] - 0.8) / 0.8, 0.15)
        self.assertGreater(self.start["initial_per_100k"] / 40, 2.0)
        self.assertLess(abs(beta - 0.8) / 0.8, 0.15, fit)
        self.assertLess(max(initial / 40, 40 / initial), 2.0, fit)
        # mean and sample sd over the two restarts (different seeds, so they differ)
        for k in ("beta", "initial_per_100k"):
            e = fit["parameters"][k]
            self.assertEqual(len(e["restarts"]), 2)
            a, b = e["restarts"]
            self.assertAlmostEqual(e["mean"], (a + b) / 2, delta=1e-9 * abs(a + b))
            self.assertAlmostEqual(e["sd"], abs(a - b) / math.sqrt(2), delta=1e-9 * abs(a - b) + 1e-12)
            self.assertGreater(e["sd"], 0, k)

    def test_reported_loss_is_the_objective(self):
        # restart 0's loss is the mean over boroughs and days 7..40 of the squared difference of
        # log(1 + 7-day mean reported cases), simulated (mean of seeds S and S + 1 at its fitted values, in
        # real-city units) vs observed; recomputed from two runs of those values
        self.assertEqual(self.p.returncode, 0, self.p.stderr)
        with open(self.out + ".fit.json") as f:
            fit = json.load(f)
        check = self.write(self.dir, "check.json", {
            "base": self.fit_study, "name": "check", "observed": None,
            "parameters": {"beta": fit["parameters"]["beta"]["restarts"][0]},
            "initial_infections": {"per_100k": fit["parameters"]["initial_per_100k"]["restarts"][0]}})
        sim = 0
        for k in range(2):
            out = os.path.join(self.dir, f"check{k}.h5")
            p = civitas("run", check, "--scale", "0.01", "--steps", "41", "--seed", str(20200301 + k), "-o", out, "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
            with h5py.File(out, "r") as f:
                scale = f.attrs["population_scale"]
                sim = sim + f["timeseries/new_reported_cases"][:].sum(axis=2).astype(float)
        obs = np.zeros((41, 5))
        with open(self.observed, newline="") as f:
            for r in csv.DictReader(f):
                t = (datetime.date.fromisoformat(r["date"]) - datetime.date(2020, 3, 1)).days
                if t < 41:
                    obs[t, BOROUGHS.index(r["borough"])] = float(r["confirmed_cases"]) + float(r["probable_cases"])
        terms = [(math.log1p(sim[t - 6:t + 1, b].sum() / 7.0 / 2 / scale) - math.log1p(obs[t - 6:t + 1, b].sum() / 7.0)) ** 2
                 for b in range(5) for t in range(7, 41)]
        want = sum(terms) / len(terms)
        self.assertGreater(want, 0)
        self.assertAlmostEqual(fit["loss"][0], want, delta=1e-9 * want)

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


class PhaseAndTesting(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        # few tests early, many from 2020-03-16: how the reported cases jump then depends on the seek scale
        base = write(d, "base.json", dict(BASE, base=os.path.join(ARGS.source, "models", "covid", "nyc2020.json"),
                                          testing={"seek_probability": 0.03, "capacity_per_100k": 0,
                                                   "result_delay_days": 2},
                                          interventions=BASE["interventions"] + [
                                              {"date": "2020-03-16", "type": "testing", "seek_probability": 0.25}]))
        cls.truth = {"beta": 0.8, "beta_after_stay_at_home": 0.3, "initial_per_100k": 40, "testing_seek_scale": 2.0}
        observed = synthetic_observed(d, {"parameters": {"beta": 0.8}, "initial_infections": {"per_100k": 40},
                                          "transmission": {"after_stay_at_home": 0.3},
                                          "testing": {"seek_scale": 2.0}}, base)
        # the start: nyc2020's beta 1.2, half of it after the order, 50 per 100k, seek scale 1
        cls.fit_study = write(d, "fit.json", {"base": base, "name": "fitphase", "observed": {"file": observed}})
        cls.out = os.path.join(d, "calibrated.json")
        cls.p = civitas("calibrate", cls.fit_study, "--fit-until", "2020-04-10", "--scale", "0.01", "--seeds", "1",
                        "--restarts", "1", "--max-evaluations", "150", "--fit-after-stay-at-home", "--fit-testing",
                        "-o", cls.out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_recovers_phase_transmission_and_testing(self):
        self.assertEqual(self.p.returncode, 0, self.p.stderr)
        with open(self.out + ".fit.json") as f:
            fit = json.load(f)
        start = {"beta": 1.2, "beta_after_stay_at_home": 0.6, "initial_per_100k": 50, "testing_seek_scale": 1.0}
        for k, want in self.truth.items():
            got = fit["parameters"][k]["mean"]
            tol = 0.20 if k == "initial_per_100k" else 0.10
            self.assertGreater(abs(start[k] - want) / want, tol, k)   # the optimiser had to move
            self.assertLess(abs(got - want) / want, tol, (k, fit["parameters"]))
        self.assertLess(fit["loss"][0], 0.01)
        # the calibrated study carries the two extra fields, with the fitted values
        with open(self.out) as f:
            cal = json.load(f)
        self.assertAlmostEqual(cal["transmission"]["after_stay_at_home"],
                               fit["parameters"]["beta_after_stay_at_home"]["mean"])
        self.assertAlmostEqual(cal["testing"]["seek_scale"], fit["parameters"]["testing_seek_scale"]["mean"])


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
