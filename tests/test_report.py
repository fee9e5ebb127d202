#!/usr/bin/env python3
"""civitas report: every section from a small run, error metrics recomputed
independently with numpy, two runs compared in one table, bad inputs."""
import csv
import datetime
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


def check_self_contained(test, html, n_figures):
    """One page a browser opens with nothing fetched: inline SVG and style, no script, no external reference."""
    test.assertTrue(html.startswith("<!DOCTYPE html>"))
    test.assertEqual(html.count("<svg"), n_figures)
    for bad in ("<script", "<link", "src=", "url(", "@import", "<iframe", "<img"):
        test.assertNotIn(bad, html)
    test.assertEqual(set(re.findall(r"https?://[^\s\"'<>]+", html)), {"http://www.w3.org/2000/svg"})


def no_machine_paths(test, folder, *paths):
    """No file written names a directory of this machine."""
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as f:
            text = f.read()
        for p in paths:
            test.assertNotIn(p, text, name)


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
        # run 2 is the early lockdown, a scenario: drawn, never scored against what was observed
        self.assertEqual(len(re.findall(r"^\| 1 \| heuristic \|", self.md, re.M)), 4 * 2)
        self.assertEqual(len(re.findall(r"^\| 2 \| heuristic \|", self.md, re.M)), 0)
        self.assertNotIn("| run 2: area |", self.md)
        self.assertEqual(self.md.count("Run 2 is a **scenario** (nyc2020_early_lockdown)"), 4)
        self.assertIn("| 2 | b.h5 | nyc2020_early_lockdown (scenario) |", self.md)
        # the same report as one self-contained page
        with open(os.path.join(self.out, "report.html")) as f:
            html = f.read()
        check_self_contained(self, html, 8)
        for sec in ("overview", "cases", "hospitalisations", "deaths", "unemployment", "comparison"):
            self.assertIn(f'<section id="{sec}">', html)

    def test_metrics_match_numpy(self):
        with h5py.File(self.a, "r") as f:
            scale = f.attrs["population_scale"]
            # real-city units: the simulated counts divided by the population scale
            sim = smooth7(f["timeseries/new_reported_cases"][:].sum(axis=(1, 2)).astype(float)) / scale
            obs = smooth7(f["observed/cases"][:].sum(axis=1).astype(float))
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

    def test_default_holdout_is_the_last_four_weeks(self):
        # without --holdout-from (and no calibration window in the study), the last 28 days are held out:
        # a 70-day run from 2020-03-01 holds out from day 42, 2020-04-12
        out = os.path.join(self.dir, "rdefault")
        p = civitas("report", self.a, "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(out, "report.md")) as f:
            md = f.read()
        self.assertIn("**held-out** = from 2020-04-12", md)
        for window, n in (("fitted", 42), ("held-out", 28)):
            row = re.search(rf"^\| 1 \| heuristic \| Reported cases \| {window} \| (\d+) \|", md, re.M)
            self.assertIsNotNone(row, window)
            self.assertEqual(int(row.group(1)), n, window)

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
        section = section[section.index("| run 1: area"):]
        section = section[:section.index("\n\n")]   # run 1's table (run 2 is a scenario: drawn, not scored)
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
        # a report named like an existing file: refused by name, the file left as it was
        taken = os.path.join(self.dir, "taken.txt")
        with open(taken, "w") as f:
            f.write("keep me\n")
        p = civitas("report", self.a, "-o", taken)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn(f"{taken}: is not a directory (the report is a directory of files)", p.stderr)
        with open(taken) as f:
            self.assertEqual(f.read(), "keep me\n")


def numbers(cell):
    """'1,230 [1,000, 1,500]' -> [1230.0, 1000.0, 1500.0]"""
    return [float(x.replace(",", "")) for x in re.findall(r"-?[0-9][0-9,]*(?:\.[0-9]+)?", cell)]


class EnsembleReport(unittest.TestCase):
    """civitas report, plot and info on an ensemble: a calibrated-like base with posterior draws and the
    early lockdown drawing the same sets; outcomes averted recomputed with numpy from the stored runs."""
    SCALE = 0.004

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        models = os.path.join(ARGS.source, "models", "covid")
        with open(os.path.join(d, "post.csv"), "w") as f:
            f.write("particle,parameters.beta,initial_infections.per_100k,weight,distance\n"
                    "0,0.9,120,1,1\n1,1.1,150,1,2\n2,1.0,200,2,3\n")
        base, early = os.path.join(d, "base.json"), os.path.join(d, "early.json")
        with open(base, "w") as f:
            json.dump({"base": os.path.join(models, "nyc2020_calibrated.json"), "name": "base", "posterior": "post.csv"}, f)
        with open(early, "w") as f:
            json.dump({"base": os.path.join(models, "nyc2020_early_lockdown.json"), "name": "early",
                       "posterior": "post.csv"}, f)
        cls.ens = os.path.join(d, "ens.h5")
        p = civitas("ensemble", base, early, "--seeds", "5", "--scale", str(cls.SCALE), "--steps", "100", "-q",
                    "-o", cls.ens)
        assert p.returncode == 0, p.stderr
        cls.out = os.path.join(d, "rep")
        p = civitas("report", cls.ens, "-o", cls.out, "--from", "2020-03-10", "--to", "2020-05-31")
        assert p.returncode == 0, p.stderr
        with open(os.path.join(cls.out, "report.md")) as f:
            cls.md = f.read()
        with open(os.path.join(cls.out, "report.html")) as f:
            cls.html = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def row(self, first_cell, after=None):
        text = self.md if after is None else self.md[self.md.index(after):]
        m = re.search(rf"^\| {re.escape(first_cell)} \|(.*)\|$", text, re.M)
        self.assertIsNotNone(m, first_cell)
        return [c.strip() for c in m.group(1).split("|")]

    def test_sections(self):
        for section in ("## Overview", "## Outcomes averted", "### early (scenario) vs base (base)",
                        "## Daily series per borough", "## Totals per study", "## The base against observed data",
                        "## Method", "(ensemble.svg)", "(ensemble_log.svg)",
                        "### Share ever infected against the serosurveys", "### Rates by age",
                        "population scale 0.004 (one simulated person for 250 New Yorkers)",
                        "Outcome tables cover 2020-03-10 to 2020-05-31",
                        "Days from 2020-06-01 on are **held out**"):
            self.assertIn(section, self.md)
        self.assertEqual(self.row("early")[-1], "5 of 5 runs by seed, 5 of 5 by posterior draw")
        check_self_contained(self, self.html, 2)
        for sec in ("overview", "averted", "figures", "totals", "base-vs-observed", "method"):
            self.assertIn(f'<section id="{sec}">', self.html)
        self.assertIn("held out from 2020-06-01", self.html)
        no_machine_paths(self, self.out, self.dir, ARGS.source)

    def test_averted_match_numpy(self):
        # window 2020-03-10 .. 2020-05-31 = days 9 .. 91; run k of the scenario against run k of the base
        t0, t1 = 9, 91
        with h5py.File(self.ens, "r") as f:
            self.assertEqual(list(f["runs/posterior_set"][:5]), list(f["runs/posterior_set"][5:]))
            series = {v: f["runs"][v][:].astype(float) / self.SCALE for v in
                      ("new_infections", "new_reported_cases", "new_hospitalisations", "new_deaths", "unemployed")}
        rows = {"infections": "new_infections", "reported cases": "new_reported_cases",
                "hospital admissions": "new_hospitalisations", "deaths": "new_deaths",
                "unemployment-months": "unemployed"}
        for label, var in rows.items():
            tot = series[var][:, t0:t1 + 1].sum(axis=(1, 2, 3))
            if var == "unemployed":
                tot /= 365.25 / 12
            base, cf = tot[:5], tot[5:]
            cells = self.row(label, "### early (scenario)")
            for cell, values in zip(cells[:3], (base, cf, base - cf)):
                want = np.quantile(values, [0.5, 0.05, 0.95])
                have = numbers(cell)
                self.assertEqual(len(have), 3, cell)
                for w, h in zip(want, have):
                    self.assertAlmostEqual(w, h, delta=abs(w) * 0.006 + 1, msg=(label, cell))
            share = np.quantile(100 * (base - cf) / base, [0.5, 0.05, 0.95])
            self.assertTrue(np.allclose(numbers(cells[3]), np.round(share), atol=1), (label, cells[3]))
        # by borough: Queens (borough index 3), deaths
        tot = series["new_deaths"][:, t0:t1 + 1, 3].sum(axis=(1, 2))
        have = numbers(self.row("Queens", "| averted, by area |")[3])
        for w, h in zip(np.quantile(tot[:5] - tot[5:], [0.5, 0.05, 0.95]), have):
            self.assertAlmostEqual(w, h, delta=abs(w) * 0.006 + 1)
        # the early lockdown averts infections in every run
        inf = series["new_infections"][:, t0:t1 + 1].sum(axis=(1, 2, 3))
        self.assertTrue(np.all(inf[:5] > inf[5:]))

    def test_scenario_not_scored(self):
        section = self.md[self.md.index("## The base against observed data"):self.md.index("## Method")]
        self.assertNotIn("| early", section)
        self.assertIn("The scenarios are not scored against observed data", section)
        # observed totals of the fitted window recomputed from /observed
        with h5py.File(self.ens, "r") as f:
            obs = f["observed/deaths"][:92].sum()
        row = re.search(r"^\| New York City \| deaths \| fitted 2020-03-01 to 2020-05-31 \| ([0-9,]+) \|", section, re.M)
        self.assertAlmostEqual(float(row.group(1).replace(",", "")), obs, delta=obs * 0.006)

    def test_validation_recomputed(self):
        # the serosurvey of the base's calibration section (NYC adults 18+ on 2020-04-14: 22.7% [21.5, 24.0]) and
        # rates per 100k by age over the report's window (2020-03-10 .. 05-31) against DOHMH's weekly rates,
        # recomputed here from the stored runs and the CSV; the base-vs-observed table's ratio = median / observed
        stages = ["susceptible", "exposed", "presymptomatic", "asymptomatic", "mild", "severe", "hospitalised",
                  "recovered", "dead"]
        with h5py.File(self.ens, "r") as f:
            people = sum(f["runs"][v][:5, 0].astype(float) for v in stages)          # base runs [run][borough][band]
            sus = f["runs/susceptible"][:5].astype(float)
            deaths = f["runs/new_deaths"][:5].astype(float)
        t = 44   # 2020-04-14
        share = 100 * (1 - sus[:, t, :, 1:].sum(axis=(1, 2)) / people[:, :, 1:].sum(axis=(1, 2)))
        row = self.row("serosurvey 1, 2020-04-14")
        self.assertEqual(row[0], "New York City, aged 18+")
        med, lo, hi = np.quantile(share, [0.5, 0.05, 0.95])
        self.assertEqual(row[1], f"{med:.1f}% [{lo:.1f}%, {hi:.1f}%]")
        self.assertEqual(row[2], "22.7% [21.5%, 24.0%]")
        self.assertEqual(row[3], f"{med / 22.7:.2f}")
        # deaths per 100k aged 75+ (the last band) over days 9 .. 91, and DOHMH's: each week ending d covers
        # d-6 .. d, counted for its days inside the window
        t0, t1 = 9, 91
        rate = deaths[:, t0:t1 + 1, :, 7].sum(axis=(1, 2)) / people[:, :, 7].sum(axis=1) * 1e5
        start, w0, w1 = datetime.date(2020, 3, 1), datetime.date(2020, 3, 10), datetime.date(2020, 5, 31)
        obs = 0.0
        with open(os.path.join(ARGS.source, "data", "nyc_covid_weekly_rates_by_age.csv"), newline="") as f:
            for r in csv.DictReader(f):
                if r["age_group"] != "75+":
                    continue
                end = datetime.date.fromisoformat(r["week_ending"])
                days = sum(1 for k in range(7) if w0 <= end - datetime.timedelta(days=k) <= w1)
                obs += float(r["death_rate_per_100k"] or 0) * days / 7
        section = self.md[self.md.index("### Rates by age"):]
        m = re.search(r"^\| deaths \| 75\+ \| (\S+) \[(\S+), (\S+)\] \| (\S+) \| (\S+) \|$", section, re.M)
        self.assertIsNotNone(m)
        med, lo, hi = np.quantile(rate, [0.5, 0.05, 0.95])
        self.assertEqual(m.groups(), (f"{med:.1f}", f"{lo:.1f}", f"{hi:.1f}", f"{obs:.1f}", f"{med / obs:.2f}"))
        self.assertGreater(obs, 1000)   # the spring wave's 75+ deaths: a shifted or dropped week would show
        self.assertEqual(start + datetime.timedelta(days=t), datetime.date(2020, 4, 14))
        # children's cases are not in DOHMH's file as 0-17: no observed value, no ratio (not 0)
        self.assertRegex(section, r"(?m)^\| reported cases \| 0-17 \| \S+ \[\S+, \S+\] \| - \| - \|$")
        row = self.row("New York City", after="## The base against observed data")
        self.assertEqual(row[0], "reported cases")
        observed, median = numbers(row[2])[0], numbers(row[3])[0]
        self.assertAlmostEqual(float(row[4]), median / observed, delta=0.01 + 0.005 * median / observed)

    def test_plot_and_info(self):
        svg = os.path.join(self.dir, "ens.svg")
        p = civitas("plot", self.ens, "-o", svg, "--log")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(svg) as f:
            text = f.read()
        for needle in ("base (base): median of 5 runs", "base: 5-95% of runs", "early (scenario): median of 5 runs",
                       "observed (NYC DOHMH)", "held out from 2020-06-01", "Staten Island: deaths",
                       "logarithmic y axes", "population scale 0.004"):
            self.assertIn(needle, text)
        self.assertGreaterEqual(text.count("<polygon"), 2 * 30)   # a band per study and panel
        p = civitas("info", self.ens)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("civitas ensemble of 2 studies x 5 runs, 100 days from 2020-03-01 to 2020-06-08", p.stdout)
        self.assertIn("population scale 0.004 (one simulated person for 250 New Yorkers)", p.stdout)
        self.assertIn("paired with the base: 5 by seed, 5 by posterior draw", p.stdout)
        self.assertIn("averted by early (base - scenario, run by run), New York City:", p.stdout)

    def test_bad_inputs(self):
        out = os.path.join(self.dir, "bad")
        for args, rc, msg in (
                (["--from", "2020-05-01", "--to", "2020-04-01"], 2, "--from 2020-05-01 is after --to 2020-04-01"),
                (["--from", "2021-01-01"], 3, "--from 2021-01-01 is outside the simulated dates (2020-03-01 to 2020-06-08)"),
                (["--to", "May 1"], 2, "--to 'May 1': expected YYYY-MM-DD"),
                ([self.ens], 2, "a report takes one ensemble file")):
            p = civitas("report", self.ens, "-o", out, *args)
            self.assertEqual(p.returncode, rc, p.stderr)
            self.assertIn(msg, p.stderr)
            self.assertFalse(os.path.exists(out))
        with h5py.File(os.path.join(self.dir, "old.h5"), "w") as g:
            g.attrs["schema"] = "civitas-ensemble/1"
        p = civitas("report", os.path.join(self.dir, "old.h5"), "-o", out)
        self.assertEqual(p.returncode, 3)
        self.assertIn("this civitas reads 'civitas-ensemble/2': run the ensemble again", p.stderr)


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
