#!/usr/bin/env python3
"""Calibration (ABC-SMC from the study's calibration section) recovers known parameters from
synthetic "observed" data made by the simulator itself, and returns a posterior narrower than the
prior with the truth inside its 90% interval; writes a calibrated study, its posterior sample and
a record of the fit with relative paths only; ensembles of the calibrated study draw parameter sets
from the posterior, paired with a counterfactual's, which keeps the values it overrides itself; the
result does not depend on the number of MPI ranks; bad calibration sections fail with one clear
error.

The synthetic data: the mean of 4 runs (seeds 1-4) at beta 0.8 and 150 initial infections per
100k, scale 0.003 (25k agents), citywide weekly reported cases and hospital admissions up to
2020-04-11. Priors: beta lognormal(1, 0.5) (90%: 0.44-2.3), initial infections log-uniform(20,
1000). At this scale single runs are noisy, so the posterior is wide; the checks are the truth
inside the 90% interval and a narrowing (beta's interval under 0.6 of the prior's, the initial
infections' log-width under the prior's); checked on 5 calibration seeds before choosing one."""
import csv
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import civtest
import h5py
import numpy as np

ARGS = None
BOROUGHS = ["BX", "BK", "MN", "QN", "SI"]
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_btl_vader_single_copy_mechanism": "none", "OMPI_MCA_rmaps_base_oversubscribe": "1"}
SCALE = "0.003"
TRUTH = {"parameters.beta": 0.8, "initial_infections.per_100k": 150}


def civitas(*args, launcher=()):
    return subprocess.run([*launcher, ARGS.civitas, *args], capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, **MPI_ENV))


def write(d, name, body):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        json.dump(body, f, indent=1)
    return path


def calibration(**method):
    return {"fit_until": "2020-04-11", "held_out_from": "2020-04-12",
            "parameters": [
                {"path": "parameters.beta", "prior": {"distribution": "lognormal", "median": 1.0, "sd_log": 0.5},
                 "source": "test prior"},
                {"path": "initial_infections.per_100k", "prior": {"distribution": "log_uniform", "min": 20, "max": 1000},
                 "source": "test prior"}],
            "targets": [{"series": "cases", "by_borough": False, "dispersion": 10},
                        {"series": "hospital_admissions", "by_borough": False, "dispersion": 10}],
            "method": {"particles": 24, "max_generations": 3, "seed": 5, **method}}


class Calibrate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        base = {"base": os.path.join(ARGS.source, "models", "covid", "nyc2020.json"), "name": "calbase", "steps": 45,
                "output": {"snapshots": []}, "observed": None, "initial_infections": {"per_100k": 150},
                "testing": {"seek_probability": 0.3, "capacity_per_100k": 0, "result_delay_days": 2, "capacity_file": None},
                "behavior": {"mobility": None},
                "interventions": [{"date": "2020-03-22", "type": "workplace_closure", "closed": True, "essential_share": 0.4},
                                  {"date": "2020-03-22", "type": "community_contacts", "factor": 0.5}]}
        write(d, "base.json", base)
        cases, admissions = [], []
        for seed in (1, 2, 3, 4):
            write(d, "truth.json", {"base": "base.json", "name": "truth", "seed": seed, "parameters": {"beta": 0.8}})
            p = civitas("run", os.path.join(d, "truth.json"), "--scale", SCALE, "--threads", "1", "-q",
                        "-o", os.path.join(d, "truth.h5"))
            assert p.returncode == 0, p.stderr
            with h5py.File(os.path.join(d, "truth.h5"), "r") as f:
                scale = f.attrs["population_scale"]
                cases.append(f["timeseries/new_reported_cases"][:].sum(axis=2) / scale)
                admissions.append(f["timeseries/new_hospitalisations"][:].sum(axis=2) / scale)
        cases, admissions = np.mean(cases, axis=0), np.mean(admissions, axis=0)
        start = datetime.date(2020, 3, 1)
        with open(os.path.join(d, "observed.csv"), "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["date", "borough", "county_fips", "confirmed_cases", "probable_cases", "hospitalized", "deaths"])
            for t in range(cases.shape[0]):
                for b, code in enumerate(BOROUGHS):
                    w.writerow([(start + datetime.timedelta(days=t)).isoformat(), code, "", int(round(cases[t, b])), 0,
                                int(round(admissions[t, b])), 0])
        cls.fit_study = write(d, "fit.json", {"base": "base.json", "name": "fitme", "observed": {"file": "observed.csv"},
                                              "calibration": calibration()})
        cls.out = os.path.join(d, "calibrated.json")
        cls.p = civitas("calibrate", cls.fit_study, "--scale", SCALE, "--threads", "1", "-o", cls.out)
        assert cls.p.returncode == 0, cls.p.stderr
        with open(cls.out + ".fit.json") as f:
            cls.fit = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_recovers_known_parameters(self):
        for path, truth in TRUTH.items():
            post, prior = self.fit["parameters"][path]["posterior"], self.fit["parameters"][path]["prior_interval"]
            self.assertLess(post["p05"], truth, (path, post))
            self.assertGreater(post["p95"], truth, (path, post))
            if path == "parameters.beta":
                self.assertLess(post["p95"] - post["p05"], 0.6 * (prior["p95"] - prior["p05"]), (post, prior))
            else:
                self.assertLess(np.log(post["p95"] / post["p05"]), np.log(prior["p95"] / prior["p05"]), (post, prior))
        # prior intervals as stated: lognormal(1, 0.5) and log-uniform(20, 1000)
        beta = self.fit["parameters"]["parameters.beta"]["prior_interval"]
        self.assertAlmostEqual(beta["p95"], np.exp(1.6448536269514722 * 0.5), places=9)
        self.assertAlmostEqual(self.fit["parameters"]["initial_infections.per_100k"]["prior_interval"]["median"],
                               np.sqrt(20 * 1000), places=9)

    def test_generations_report_convergence(self):
        gens = self.fit["generations"]
        self.assertEqual(len(gens), 3)
        self.assertIsNone(gens[0]["tolerance"])                  # generation 0 is the prior
        self.assertEqual(gens[0]["acceptance_rate"], 1)
        self.assertGreater(gens[1]["tolerance"], gens[2]["tolerance"])
        for g in gens:
            self.assertGreater(g["ess"], 1)
            self.assertLessEqual(g["ess"], 24 + 1e-9)
            self.assertLessEqual(g["acceptance_rate"], 1)
            self.assertEqual(set(g["posterior"]), set(TRUTH))
            self.assertGreaterEqual(g["best_loss"], self.fit["best"]["loss"])
        self.assertEqual(self.fit["stopped"]["reason"], "max_generations")
        self.assertFalse(self.fit["stopped"]["converged"])
        self.assertIn("did NOT converge", self.p.stderr)
        self.assertIn("generation 2: tolerance", self.p.stderr)
        self.assertEqual(self.fit["settings"]["particles"], 24)
        self.assertEqual(self.fit["settings"]["kernel"], "global")          # the default
        self.assertIn("twice the weighted covariance", self.fit["method"])
        self.assertEqual(set(self.fit["best"]["terms"]), {"cases", "hospital_admissions"})
        self.assertAlmostEqual(sum(self.fit["best"]["terms"].values()), self.fit["best"]["loss"], places=6)

    def test_outputs_and_relative_paths(self):
        with open(self.out) as f:
            cal = json.load(f)
        self.assertEqual(cal["base"], "fit.json")            # relative to the calibrated file
        self.assertEqual(cal["name"], "fitme_calibrated")
        self.assertEqual(cal["posterior"], "calibrated.posterior.csv")
        self.assertNotIn("interventions", cal)               # counterfactuals based on it keep their own
        for path in TRUTH:
            head, key = path.split(".")
            self.assertAlmostEqual(cal[head][key], self.fit["parameters"][path]["posterior"]["median"])
        with open(os.path.join(self.dir, "calibrated.posterior.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(list(rows[0]), ["particle", *TRUTH, "weight", "distance"])
        self.assertEqual(len(rows), 24)
        self.assertAlmostEqual(sum(float(r["weight"]) for r in rows), 1.0, places=9)
        # the medians are the weighted medians of the sample
        for path in TRUTH:
            v = np.array([float(r[path]) for r in rows])
            self.assertGreaterEqual(cal[path.split(".")[0]][path.split(".")[1]], v.min())
            self.assertLessEqual(cal[path.split(".")[0]][path.split(".")[1]], v.max())
        for name in ("calibrated.json", "calibrated.json.fit.json", "calibrated.posterior.csv"):
            with open(os.path.join(self.dir, name)) as f:
                text = f.read()
            self.assertNotIn(self.dir, text, name)
            self.assertNotIn(ARGS.source, text, name)
        self.assertEqual(self.fit["study"], "fit.json")
        self.assertEqual(self.fit["posterior"], "calibrated.posterior.csv")
        p = civitas("run", self.out, "--scale", "0.002", "--steps", "10", "-o", os.path.join(self.dir, "cal.h5"), "-q")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_ensemble_draws_from_the_posterior(self):
        d = self.dir
        # a counterfactual that stops transmission itself: its own beta must win over the draws
        nobeta = write(d, "nobeta.json", {"base": "calibrated.json", "name": "nobeta", "parameters": {"beta": 0}})
        early = write(d, "early.json", {"base": "calibrated.json", "name": "early", "interventions": [
            {"date": "2020-03-08", "type": "workplace_closure", "closed": True, "essential_share": 0.4}]})
        out = os.path.join(d, "ens.h5")
        p = civitas("ensemble", self.out, early, nobeta, "--seeds", "6", "--scale", "0.002", "--steps", "20",
                    "--threads", "1", "-q", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(d, "calibrated.posterior.csv")) as f:
            rows = list(csv.DictReader(f))
        with h5py.File(out, "r") as f:
            sets = f["runs/posterior_set"][:]
            beta = f["runs/posterior/parameters.beta"][:]
            initial = f["runs/posterior/initial_infections.per_100k"][:]
            infections = f["runs/new_infections"][:].sum(axis=(2, 3))
        self.assertEqual(sets.shape, (18,))
        self.assertTrue(np.array_equal(sets[:6], sets[6:12]))      # paired with the counterfactuals
        self.assertTrue(np.array_equal(sets[:6], sets[12:]))
        self.assertGreater(len(set(sets[:6])), 1)                    # parameter sets differ between runs
        for r in range(18):
            self.assertAlmostEqual(beta[r], float(rows[sets[r]]["parameters.beta"]), places=12)
            self.assertAlmostEqual(initial[r], float(rows[sets[r]]["initial_infections.per_100k"]), places=12)
        # beta 0 in the counterfactual: no transmission after the seeded infections, whatever the draw
        self.assertEqual(infections[12:, 7:].sum(), 0)
        self.assertGreater(infections[:6, 7:].sum(), 0)
        # the same draws in a second ensemble (keyed by the study's seed and the run index)
        out2 = os.path.join(d, "ens2.h5")
        p = civitas("ensemble", self.out, "--seeds", "6", "--scale", "0.002", "--steps", "2", "--threads", "1", "-q",
                    "-o", out2)
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out2, "r") as f:
            self.assertTrue(np.array_equal(f["runs/posterior_set"][:], sets[:6]))

    @unittest.skipUnless(shutil.which("mpirun"), "mpirun not installed (apt-get install openmpi-bin)")
    def test_mpi_ranks_give_the_same_posterior(self):
        small = write(self.dir, "small.json", {"base": "fit.json", "name": "small", "calibration": {
            "fit_until": "2020-03-28", "method": {"particles": 10, "max_generations": 2, "seed": 9}}})
        fits = []
        for ranks in (1, 2):
            os.makedirs(os.path.join(self.dir, f"ranks{ranks}"), exist_ok=True)
            out = os.path.join(self.dir, f"ranks{ranks}", "small_calibrated.json")
            p = civitas("calibrate", small, "--scale", "0.002", "--threads", "1", "-q", "-o", out,
                        launcher=("mpirun", "-np", str(ranks)) if ranks > 1 else ())
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out.replace(".json", ".posterior.csv")) as f:
                post = f.read()
            with open(out + ".fit.json") as f:
                fit = json.load(f)
            self.assertEqual(fit["timings"]["mpi_ranks"], ranks)
            del fit["timings"]
            for g in fit["generations"]:
                del g["seconds"]
            fits.append((post, fit))
        self.assertEqual(fits[0][0], fits[1][0])
        self.assertEqual(fits[0][1], fits[1][1])

    def test_phase_transmission_moves_with_the_closure(self):
        # transmission.after_stay_at_home = 0: no infection from the first workplace closure on,
        # which is 2020-03-22 (day 21) in nyc2020 and 2020-03-08 (day 7) in the early-lockdown counterfactual
        covid = os.path.join(ARGS.source, "models", "covid")
        for study, closure_day in (("nyc2020.json", 21), ("nyc2020_early_lockdown.json", 7)):
            s = write(self.dir, "zero_" + study, {"base": os.path.join(covid, study), "name": "zero",
                                                  "transmission": {"after_stay_at_home": 0}, "steps": 40,
                                                  "output": {"snapshots": []}})
            out = os.path.join(self.dir, "zero_" + study + ".h5")
            p = civitas("run", s, "--scale", "0.005", "-o", out, "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
            with h5py.File(out, "r") as f:
                inf = f["timeseries/new_infections"][:].sum(axis=(1, 2))
            self.assertGreater(inf[:closure_day].sum(), 0, study)
            self.assertEqual(inf[closure_day:].sum(), 0, study)

    def test_deaths_by_age_target(self):
        # DOHMH's weekly death rates by age as a target: the weeks wholly inside the fitted window (Sundays to
        # Saturdays, the last ending 2020-04-11 = fit_until) and the bands named, recorded in the fit's record
        rates = os.path.join(ARGS.source, "data", "nyc_covid_weekly_rates_by_age.csv")
        cal = calibration(particles=10, max_generations=1, max_simulations=10)
        cal["deaths_by_age"] = {"file": rates, "bands": ["65-74", "75+"], "dispersion": 20, "source": "test"}
        s = write(self.dir, "age.json", {"base": "fit.json", "name": "age", "calibration": cal})
        out = os.path.join(self.dir, "age_out.json")
        p = civitas("calibrate", s, "--scale", "0.002", "--threads", "1", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("deaths in 2 age band(s)", p.stderr)
        with open(out + ".fit.json") as f:
            fit = json.load(f)
        t = fit["likelihood"]["deaths_by_age_target"]
        self.assertEqual(t["bands"], ["65-74", "75+"])
        self.assertEqual((t["first_week_ends"], t["last_week_ends"]), ("2020-03-07", "2020-04-11"))
        self.assertEqual(t["observations"], 6 * 2)
        self.assertGreater(fit["best"]["terms"]["deaths_by_age"], 0)

    def bad(self, calibration_patch, expect, study_patch=None, args=(), rc=3):
        body = {"base": "fit.json", "name": "bad"}
        if calibration_patch is not None:
            body["calibration"] = calibration_patch
        body.update(study_patch or {})
        s = write(self.dir, "bad.json", body)
        out = os.path.join(self.dir, "bad_out.json")
        p = civitas("calibrate", s, "--scale", "0.002", "-o", out, *args)
        self.assertEqual(p.returncode, rc, (expect, p.stderr))
        lines = [l for l in p.stderr.splitlines() if "error" in l]
        self.assertEqual(len(lines), 1, p.stderr)
        for e in expect:
            self.assertIn(e, lines[0])
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(out + ".fit.json"))

    def test_bad_calibration_sections(self):
        par = calibration()["parameters"]
        beta = par[0]
        self.bad(None, ["bad.json: no 'calibration' section"], {"calibration": None})
        self.bad({"parameters": [{**beta, "prior": {"distribution": "gamma", "shape": 2}}]},
                 ["bad.json", "'calibration.parameters[0].prior.distribution' = \"gamma\"", "lognormal {median, sd_log}"])
        self.bad({"parameters": [{**beta, "prior": {"distribution": "lognormal", "median": 1, "sd_log": -1}}]},
                 ["'calibration.parameters[0].prior.sd_log' = -1 is out of range"])
        self.bad({"parameters": [{**beta, "prior": {"distribution": "uniform", "min": 2, "max": 1}}]},
                 ["'calibration.parameters[0].prior': min (2) must be below max (1)"])
        self.bad({"parameters": [{"path": "parameters.beta", "prior": beta["prior"]}]},
                 ["missing required field 'calibration.parameters[0].source'"])
        self.bad({"parameters": [{**beta, "path": "population.synthesize.scale"}]},
                 ["'calibration.parameters[0].path' = \"population.synthesize.scale\"", "built once"])
        self.bad({"parameters": [{**beta, "path": "testing"}]},
                 ["'calibration.parameters[0].path' = \"testing\" names {", "not a number"])
        self.bad({"parameters": [{**beta, "path": "parameters..beta"}]},
                 ["'calibration.parameters[0].path' = \"parameters..beta\" is not a path"])
        self.bad({"parameters": [beta, beta]}, ["'calibration.parameters[1].path' = \"parameters.beta\" is already calibrated"])
        self.bad({"parameters": [{**beta, "path": "testing.seek_scale",
                                  "prior": {"distribution": "uniform", "min": 0.5, "max": 150}}]},
                 ["'calibration.parameters[0].prior' (testing.seek_scale) reaches 149.", "field 'testing.seek_scale'",
                  "out of range"])
        self.bad({"parameters": [{**beta, "path": "parameters.no_such_parameter"}]},
                 ["the study refuses the priors' medians", "no_such_parameter"])
        self.bad({"targets": [{"series": "icu", "dispersion": 10}]},
                 ["'calibration.targets[0].series' = \"icu\" must be cases"])
        self.bad({"targets": [{"series": "deaths"}]}, ["missing required field 'calibration.targets[0].dispersion'"])
        self.bad({"targets": [{"series": "deaths", "dispersion": 5, "aggregation": "monthly"}]},
                 ["'calibration.targets[0].aggregation' = \"monthly\""])
        self.bad({"fit_until": "2020-04-20"}, ["'calibration.fit_until' = \"2020-04-20\" must lie between 2020-03-14 and "
                                               "2020-04-11"])
        self.bad({}, ["--fit-until 2020-04-12 is inside the held-out window", "held_out_from = 2020-04-12"],
                 args=("--fit-until", "2020-04-12"), rc=2)
        self.bad({"serosurvey": {"date": "2020-04-01", "share": 0.2, "ci95": [0.25, 0.3]}},
                 ["'calibration.serosurvey.ci95' = [0.25, 0.3] must surround the share 0.2"])
        self.bad({"serosurvey": [{"date": "2020-04-01", "share": 0.2, "ci95": [0.1, 0.3], "min_age": 20}]},
                 ["'calibration.serosurvey[0].min_age' = 20 must be a lower edge", "0, 18, 25"])
        self.bad({"serosurvey": [{"date": "2020-04-20", "share": 0.2, "ci95": [0.1, 0.3]}]},
                 ["'calibration.serosurvey[0].date' = \"2020-04-20\" must lie between"])
        self.bad({"method": {"particles": 3}}, ["'calibration.method.particles' = 3 is out of range"])
        self.bad({"method": {"kernel": "wide"}}, ["'calibration.method.kernel' = \"wide\" must be \"local\"", "\"global\""])
        rates = os.path.join(ARGS.source, "data", "nyc_covid_weekly_rates_by_age.csv")
        age = {"file": rates, "bands": ["75+"], "dispersion": 20}
        self.bad({"deaths_by_age": {**age, "bands": ["45-64"]}},
                 ["'calibration.deaths_by_age.bands' has \"45-64\", which is not one of the study's output age bands",
                  "0-17, 18-24, 25-34"])
        self.bad({"deaths_by_age": {**age, "bands": ["75+", "75+"]}}, ["'calibration.deaths_by_age.bands' names \"75+\" twice"])
        self.bad({"deaths_by_age": {**age, "file": "no_such_rates.csv"}}, ["calibration.deaths_by_age.file", "no_such_rates.csv"])
        self.bad({"deaths_by_age": {"file": rates, "bands": ["75+"]}},
                 ["missing required field 'calibration.deaths_by_age.dispersion'"])
        with open(os.path.join(self.dir, "gap.csv"), "w") as f:   # the week ending 2020-03-14 is missing
            f.write("week_ending,age_group,death_rate_per_100k\n2020-03-07,75+,0\n2020-03-21,75+,1.5\n")
        self.bad({"deaths_by_age": {**age, "file": "gap.csv"}}, ["gap.csv: no row for age group 75+ in the week ending"])
        with open(os.path.join(self.dir, "neg.csv"), "w") as f:
            f.write("week_ending,age_group,death_rate_per_100k\n2020-03-07,75+,-2\n")
        self.bad({"deaths_by_age": {**age, "file": "neg.csv"}}, ["neg.csv: line 2: death_rate_per_100k = -2 must be >= 0"])
        with open(os.path.join(self.dir, "weekday.csv"), "w") as f:   # a week ending on a Friday among Saturdays
            f.write("week_ending,age_group,death_rate_per_100k\n2020-03-07,75+,0\n2020-03-13,75+,1.5\n")
        self.bad({"deaths_by_age": {**age, "file": "weekday.csv"}},
                 ["weekday.csv: week_ending 2020-03-13 is not a whole number of weeks after 2020-03-07"])
        self.bad({}, ["calibration needs observed data"], {"observed": None})
        p = civitas("calibrate", self.fit_study)
        self.assertEqual(p.returncode, 2)
        self.assertIn("-o CALIBRATED.json is required", p.stderr)


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
