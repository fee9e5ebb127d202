#!/usr/bin/env python3
"""Model rules end to end, with expectations computed here from the study and
the run's own series: the heuristic decision tables (per-age base, reaction to
the borough's weekly reported cases, clipping, the isolation_compliance
override), the archetypes by employment status and household with children,
layoffs and rehires against their daily rates, and testing capacity.
Counts are checked with binomial bounds of 5 standard deviations (a correct
model fails with odds below 1e-6 per check; the draws are deterministic)."""
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
STOCKS = ["susceptible", "exposed", "presymptomatic", "asymptomatic", "mild", "severe", "hospitalised",
          "recovered", "dead"]


def civitas(*args):
    return subprocess.run([ARGS.civitas, *args], capture_output=True, text=True, timeout=600)


def within_binomial(k, n, p):
    """|k - n p| <= 5 sd (+1 for rounding)."""
    return abs(k - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1


class Model(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.free = os.path.join(ARGS.source, "tests", "data", "free.json")
        cls.pop = os.path.join(cls.dir, "pop.h5")
        p = civitas("synth", "--scale", "0.005", "--seed", "3", "-o", cls.pop, "-q")
        assert p.returncode == 0, p.stderr
        with h5py.File(cls.pop, "r") as f:
            cls.agents = {k: f["agents"][k][:] for k in f["agents"]}
            cls.place_type = f["places/type"][:]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_study(self, name, body, *args):
        path = os.path.join(self.dir, name + ".json")
        with open(path, "w") as f:
            json.dump(dict({"base": self.free, "name": name}, **body), f)
        out = os.path.join(self.dir, name + ".h5")
        p = civitas("run", path, "-o", out, "-q", *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return out

    # ---- initial infections ----------------------------------------------------------------------------
    def test_initial_infections(self):
        # round(per_100k x agents / 100k), at least one when per_100k > 0 (a small city still gets its epidemic)
        for per_100k in (0, 30, 250, 3000):
            out = self.run_study(f"initial{per_100k}", {"initial_infections": {"per_100k": per_100k}},
                                 "--scale", "0.0001", "--steps", "1")
            with h5py.File(out, "r") as f:
                n = int(f.attrs["n_agents"])
                want = max(1, math.floor(per_100k * n / 1e5 + 0.5)) if per_100k else 0
                self.assertEqual(f.attrs["initial_infections"], want, (per_100k, n))
                self.assertEqual(n - f["timeseries/susceptible"][0].sum(),
                                 want + f["timeseries/new_infections"][0].sum(), per_100k)
        self.assertLess(30 * n / 1e5, 0.5)   # the case where the minimum of one applies

    # ---- heuristic decision tables -----------------------------------------------------------------
    def test_heuristic_tables(self):
        # p = clamp(base[age band] + case_sensitivity x weekly reported cases per 100k in the borough, min, max);
        # from 2020-03-15 an isolation_compliance intervention replaces the comply_isolation base
        rules = {
            "isolate_if_symptomatic": {"base": [0.1, 0.2, 0.3], "case_sensitivity": 0.002, "min": 0.15, "max": 0.6},
            "go_to_work": {"base": [0.95, 0.9, 0.8], "case_sensitivity": -0.001, "min": 0.5, "max": 0.92},
            "comply_isolation": {"base": [0.5, 0.6, 0.7], "case_sensitivity": 0.0005, "min": 0.4, "max": 0.95},
        }
        out = self.run_study("heuristic", {
            "steps": 36,
            "behavior": {"refresh_days": 7, "archetypes": {"age_bands": [0, 20, 50], "sex": False, "borough": True},
                         "heuristic": rules},
            "interventions": [{"date": "2020-03-15", "type": "isolation_compliance", "probability": 0.9}]},
            "--scale", "0.01")
        names = ["isolate_if_symptomatic", "go_to_work", "comply_isolation"]
        with h5py.File(out, "r") as f:
            self.assertEqual([d.decode() for d in f["llm/decision"][:]], names)
            labels = [a.decode() for a in f["llm/archetype"][:]]
            steps = list(f["llm/refresh_step"][:])
            tables = f["llm/tables"][:]
            rep = f["timeseries/new_reported_cases"][:].sum(axis=2).astype(float)
            pop = sum(f["timeseries"][v][0].sum(axis=1) for v in STOCKS).astype(float)
        self.assertEqual(steps, [0, 7, 14, 21, 28, 35])
        bands = ["0-19", "20-49", "50+"]
        self.assertEqual(labels, [f"{b}/any/{code}" for b in bands for code in BOROUGHS])
        regimes = set()
        for r, day in enumerate(steps):
            per100k = rep[max(0, day - 7):day].sum(axis=0) * 1e5 / pop   # the 7 days before the refresh
            for a, label in enumerate(labels):
                band, b = bands.index(label.split("/")[0]), BOROUGHS.index(label.split("/")[2])
                for d, name in enumerate(names):
                    rule = rules[name]
                    base = 0.9 if name == "comply_isolation" and day >= 14 else rule["base"][band]
                    raw = base + rule["case_sensitivity"] * per100k[b]
                    want = min(max(raw, rule["min"]), rule["max"])
                    self.assertAlmostEqual(tables[r, a, d], want, delta=1e-6, msg=(day, label, name))
                    regimes.add("clipped at min" if raw < rule["min"] else "clipped at max" if raw > rule["max"]
                                else "reacting" if raw != base else "base")
        # every part of the rule was exercised: per-age bases, reaction to cases, both clips
        self.assertEqual(regimes, {"base", "reacting", "clipped at min", "clipped at max"})
        self.assertNotAlmostEqual(tables[0, 0, 0], tables[0, 5, 0])   # 0-19 vs 20-49 on day 0

    # ---- archetypes: employment and household with children ---------------------------------------------
    def test_employment_and_children_archetypes(self):
        out = self.run_study("archetypes", {
            "behavior": {"archetypes": {"age_bands": [0, 18, 65], "sex": True, "borough": False, "employment": True,
                                        "household_children": True}}},
            "--population", self.pop, "--steps", "1")
        ag = self.agents
        # household with children = any member under 18; employment = labour status at the start
        hh_children = np.zeros(ag["household"].max() + 1, bool)
        hh_children[ag["household"][ag["age"] < 18]] = True
        band = np.digitize(ag["age"], [18, 65])
        index = ((band * 2 + ag["sex"]) * 3 + ag["labour"]) * 2 + hh_children[ag["household"]]
        want = np.bincount(index, minlength=36)
        labels = [f"{b}/{s}/NYC/{e}/{c}" for b in ("0-17", "18-64", "65+") for s in ("F", "M")
                  for e in ("not-in-labour-force", "employed", "unemployed") for c in ("no-children", "children")]
        with h5py.File(out, "r") as f:
            self.assertEqual([a.decode() for a in f["llm/archetype"][:]], labels)
            self.assertEqual(list(f["llm/agents_per_archetype"][:]), list(want))
            self.assertEqual(f["llm/tables"].shape, (1, 36, 3))
        # both factors split real groups: adults with and without children, employed and unemployed
        self.assertGreater(want[labels.index("18-64/F/NYC/employed/children")], 0)
        self.assertGreater(want[labels.index("18-64/F/NYC/employed/no-children")], 0)
        self.assertGreater(want[labels.index("18-64/M/NYC/unemployed/no-children")], 0)
        self.assertEqual(want[labels.index("0-17/F/NYC/not-in-labour-force/no-children")], 0)

    # ---- employment: layoffs and rehires ----------------------------------------------------------------
    def test_layoffs_and_rehires_follow_their_rates(self):
        # no epidemic (no deaths); workplaces closed from day 0 with half the workers essential, from day 5
        # with none, reopened on day 15
        p_off, p_re = 0.03, 0.12
        out = self.run_study("labour", {
            "steps": 30, "initial_infections": {"per_100k": 0},
            "employment": {"layoff_daily_probability": p_off, "rehire_daily_probability": p_re},
            "interventions": [
                {"date": "2020-03-01", "type": "workplace_closure", "closed": True, "essential_share": 0.5},
                {"date": "2020-03-06", "type": "workplace_closure", "closed": True, "essential_share": 0},
                {"date": "2020-03-16", "type": "workplace_closure", "closed": False}]},
            "--population", self.pop)
        ag = self.agents
        has_work = ag["place"] >= 0
        has_work[has_work] = self.place_type[ag["place"][has_work]] == 1
        workers = int(np.sum((ag["labour"] == 1) & has_work))   # only they can be laid off
        e0, u0 = int(np.sum(ag["labour"] == 1)), int(np.sum(ag["labour"] == 2))
        with h5py.File(out, "r") as f:
            off = f["timeseries/new_layoffs"][:].sum(axis=(1, 2)).astype(int)
            on = f["timeseries/new_rehires"][:].sum(axis=(1, 2)).astype(int)
            emp = f["timeseries/employed"][:].sum(axis=(1, 2)).astype(int)
            unemp = f["timeseries/unemployed"][:].sum(axis=(1, 2)).astype(int)
            self.assertEqual(f["timeseries/new_infections"][:].sum(), 0)
        # the stocks follow the flows exactly
        self.assertTrue(np.array_equal(emp, e0 - np.cumsum(off) + np.cumsum(on)))
        self.assertTrue(np.array_equal(unemp, u0 + np.cumsum(off) - np.cumsum(on)))
        # days 0-4: a worker is laid off when non-essential (1/2) and drawn within the 5 days
        q5 = 0.5 * (1 - (1 - p_off) ** 5)
        self.assertTrue(within_binomial(off[:5].sum(), workers, q5), (off[:5].sum(), workers, q5))
        self.assertTrue(within_binomial(off[0], workers, 0.5 * p_off), (off[0], workers))
        # days 5-14: every remaining worker, each day; nobody is rehired while closed
        for t in range(5, 15):
            still = workers - off[:t].sum()
            self.assertTrue(within_binomial(off[t], still, p_off), (t, off[t], still))
        self.assertEqual(on[:15].sum(), 0)
        # days 15-29: open: no layoffs, the laid off come back at their rate
        self.assertEqual(off[15:].sum(), 0)
        for t in range(15, 30):
            waiting = off.sum() - on[:t].sum()
            self.assertTrue(within_binomial(on[t], waiting, p_re), (t, on[t], waiting))
        self.assertGreater(off.sum(), 0.2 * workers)   # the checks above covered thousands of draws

    # ---- testing capacity -----------------------------------------------------------------------------
    def test_testing_capacity_binds(self):
        # a free epidemic with eager testing: without a limit, tests outgrow 100 per 100k a day many times over;
        # with that capacity, tests other than the hospital's admission tests (which have no limit) stay near it.
        # The day's share of seekers tested is capacity / yesterday's demand (admission tests included), so a
        # growing demand overshoots by about a day's growth (under 1.5 here), plus binomial noise (5 sd of about
        # 170 tests: 65); once demand exceeds the capacity, the tests of a day come to about the capacity
        # (the base's daily test counts and people without COVID-19 seeking tests are switched off; with a
        # capacity, what seekers leave goes to screening, so the day's tests come to the capacity)
        testing = {"seek_probability": 0.3, "seek_scale": 1, "result_delay_days": 1, "capacity_per_100k": 0,
                   "capacity_file": None, "other_seekers_per_100k": 0}
        free = self.run_study("uncapped", {"steps": 45, "testing": testing}, "--scale", "0.02")
        capped = self.run_study("capped", {"steps": 45, "testing": dict(testing, capacity_per_100k=100)},
                                "--scale", "0.02")
        community, total = {}, {}
        for name, path in (("free", free), ("capped", capped)):
            with h5py.File(path, "r") as f:
                n = int(f.attrs["n_agents"])
                total[name] = f["timeseries/new_tests"][:].sum(axis=(1, 2)).astype(float)
                admissions = f["timeseries/new_hospitalisations"][:].sum(axis=(1, 2)).astype(float)
                community[name] = total[name] - admissions   # at most one admission test per admission
        cap = 100 * n / 1e5
        self.assertGreater(community["free"].max(), 5 * cap)
        self.assertLess(community["capped"].max(), 1.5 * cap + 5 * math.sqrt(cap) + 1)
        self.assertGreater(total["capped"][-15:].min(), 0.7 * cap)   # and the capacity is used


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
