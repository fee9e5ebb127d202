#!/usr/bin/env python3
"""HDF5 outputs: h5py, xarray and pandas read them with no glue; a killed run
leaves a readable file with the completed steps; an interrupted run is marked
as such; population files reproduce in-run synthesis; the observed DOHMH
series match the CSV day by day and borough by borough, in the file and on the
plot; agent snapshots agree with the series of their day; info and plot work."""
import csv
import datetime
import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import civtest
import h5py
import numpy as np

ARGS = None
STOCKS = ["susceptible", "exposed", "presymptomatic", "asymptomatic", "mild", "severe", "hospitalised",
          "recovered", "dead"]
BOROUGHS = ["BX", "BK", "MN", "QN", "SI"]


def wait_for_progress(p, timeout=300):
    """Reads the run's stderr until its first progress line and returns what it read; fails if the run
    exits first or after `timeout` seconds. Raw reads behind select(), so the timeout fires even while
    the run prints nothing (a blocking readline would wait for ever)."""
    deadline = time.monotonic() + timeout
    fd, seen = p.stderr.fileno(), b""
    while b"simulating:" not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no progress line within {timeout} s: {seen[-300:]!r}")
        if not select.select([fd], [], [], min(left, 1.0))[0]:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AssertionError(f"civitas exited before its first progress line (exit {p.wait(timeout=60)}): "
                                 f"{seen[-300:]!r}")
        seen += chunk
    return seen.decode(errors="replace")


def start_long_run(out):
    """A 3000-day run of the free epidemic, stopped by the caller after its first progress line."""
    free = os.path.join(ARGS.source, "tests", "data", "free.json")
    p = subprocess.Popen([ARGS.civitas, "run", free, "--scale", "0.05", "--steps", "3000", "-o", out],
                         stderr=subprocess.PIPE)
    try:
        wait_for_progress(p)
    except BaseException:
        p.kill()
        p.wait()
        p.stderr.close()
        raise
    return p


def observed_csv():
    """The DOHMH CSV as {(date, borough code): row}, read here independently of civitas."""
    with open(os.path.join(ARGS.source, "data", "nyc_covid_daily_by_borough.csv"), newline="") as f:
        return {(r["date"], r["borough"]): r for r in csv.DictReader(f)}


def smooth7(x):
    """7-day trailing mean (fewer days at the start), as the plots draw it."""
    return np.array([x[max(0, t - 6):t + 1].mean() for t in range(len(x))])


def tick_value(label):
    """A y-tick label as a number: '0', '12.5', '20k', '1.25M'."""
    label = label.replace(",", "")
    mult = {"k": 1e3, "M": 1e6}.get(label[-1], 1)
    return float(label[:-1] if mult != 1 else label) * mult


def svg_panels(path):
    """{panel title ('Bronx: reported cases'): {stroke colour: values}}: each polyline of a linear panel
    read back in data units through the panel's own y ticks (the lowest and highest labelled lines)."""
    with open(path) as f:
        text = f.read()
    panels = {}
    for g in re.findall(r"<g>(.*?)</g>", text, re.S):
        title = re.search(r'font-weight="bold">([^<]+)</text>', g).group(1)
        ticks = [(float(y), tick_value(v)) for y, v in
                 re.findall(r'<text class="ytick" x="[\d.]+" y="([\d.]+)"[^>]*>([^<]+)</text>', g)]
        (y0, v0), (y1, v1) = ticks[0], ticks[-1]
        # a tick label sits 3.5 px below its line; the ratio needs only the difference
        per_px = (v1 - v0) / (y0 - y1)
        lines = {}
        for colour, pts in re.findall(r'<polyline fill="none" stroke="(#[0-9a-f]+)"[^>]*points="([^"]*)"', g):
            lines[colour] = np.array([v0 + (y0 - 3.5 - float(xy.split(",")[1])) * per_px for xy in pts.split()])
        panels[title] = (lines, per_px)
    return panels


def civitas(*args, **kw):
    return subprocess.run([ARGS.civitas, *args], capture_output=True, text=True, timeout=600, **kw)


class Outputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.study = os.path.join(ARGS.source, "models", "covid", "nyc2020.json")
        cls.run_file = os.path.join(cls.dir, "run.h5")
        p = civitas("run", cls.study, "--scale", "0.005", "--steps", "40", "-o", cls.run_file)
        assert p.returncode == 0, p.stderr
        cls.stderr = p.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_h5py_layout(self):
        with h5py.File(self.run_file, "r") as f:
            self.assertEqual(f.attrs["schema"], "civitas-trajectory/1")
            self.assertEqual(f.attrs["status"], "complete")
            self.assertEqual(f.attrs["steps_completed"], 40)
            self.assertEqual(f.attrs["backend"], "cpu")
            cfg = json.loads(f.attrs["config_json"])
            self.assertEqual(cfg["study"]["name"], "nyc2020")
            self.assertEqual(cfg["study"]["steps"], 40)            # the override is recorded
            self.assertIn("beta", cfg["model"]["parameters"])
            n = int(f.attrs["n_agents"])
            ts = f["timeseries"]
            for v in STOCKS + ["new_infections", "new_reported_cases", "new_hospitalisations", "new_deaths",
                               "isolating", "working", "employed"]:
                self.assertEqual(ts[v].shape, (40, 5, 8), v)
            total = sum(ts[v][:].sum(axis=(1, 2)) for v in STOCKS)
            self.assertTrue((total == n).all())                   # conservation in the file
            # the initial infections are spread over the week before day 0: by its end some are infectious
            day0 = {v: ts[v][0].sum() for v in STOCKS}
            self.assertEqual(n - day0["susceptible"], f.attrs["initial_infections"] + ts["new_infections"][0].sum())
            self.assertGreater(day0["presymptomatic"] + day0["asymptomatic"] + day0["mild"], 0)
            self.assertEqual(list(ts["date"][:5]), [0, 1, 2, 3, 4])
            self.assertEqual(ts["date"].attrs["units"], "days since 2020-03-01")
            self.assertEqual(f["llm/tables"].shape[1:], (60, 3))
            self.assertEqual(f["llm/tables"].shape[0], 6)    # weekly refresh over 40 days
            self.assertEqual(f["observed/cases"].shape, (40, 5))
            self.assertEqual(f["agents/stage"].shape, (1, n))     # snapshot on 2020-04-01
            self.assertEqual(f["agents/step"][0], 31)

    def test_xarray_and_pandas(self):
        import xarray as xr
        ds = xr.open_dataset(self.run_file, group="timeseries", engine="h5netcdf")
        self.assertEqual(dict(ds.sizes), {"date": 40, "borough": 5, "age_band": 8})
        self.assertEqual(str(ds.date.values[0])[:10], "2020-03-01")
        self.assertEqual(list(ds.borough.values), ["BX", "BK", "MN", "QN", "SI"])
        self.assertEqual(str(ds.age_band.values[-1]), "75+")
        cases = ds.new_reported_cases.sum(["age_band"]).to_pandas()
        self.assertEqual(cases.shape, (40, 5))
        for g in ("llm", "observed", "agents"):
            xr.open_dataset(self.run_file, group=g, engine="h5netcdf")
        import pandas as pd
        with h5py.File(self.run_file, "r") as f:
            df = pd.DataFrame(f["timeseries/new_infections"][:].sum(axis=2), columns=["BX", "BK", "MN", "QN", "SI"])
        self.assertEqual(len(df), 40)

    def test_observed_matches_the_csv(self):
        # /observed holds the DOHMH series of the simulated dates (2020-03-01 on): cases are confirmed plus
        # probable, each borough in its column
        rows = observed_csv()
        start = datetime.date(2020, 3, 1)
        with h5py.File(self.run_file, "r") as f:
            obs = {k: f["observed"][k][:] for k in ("cases", "hospitalized", "deaths")}
            self.assertEqual([b.decode() for b in f["observed/borough"][:]], BOROUGHS)
            self.assertEqual(f["observed/date"].attrs["units"], "days since 2020-03-01")
            self.assertEqual(f["observed"].attrs["scale_to_population"], f.attrs["population_scale"])
        probable = 0
        for t in range(40):
            day = (start + datetime.timedelta(days=t)).isoformat()
            for b, code in enumerate(BOROUGHS):
                r = rows[(day, code)]
                want = (int(r["confirmed_cases"]) + int(r["probable_cases"]), int(r["hospitalized"]), int(r["deaths"]))
                got = (obs["cases"][t, b], obs["hospitalized"][t, b], obs["deaths"][t, b])
                self.assertEqual(got, want, f"{day} {code}")
                probable += int(r["probable_cases"])
        # the window has probable cases and a rising curve, so a dropped column or a shifted day shows
        self.assertGreater(probable, 50)
        self.assertGreater(obs["cases"][30:].min(), 10 * obs["cases"][:5].max())

    def test_plot_overlays_the_observed_series(self):
        # each panel draws the run's series in real-city units (counts / population scale) and, for cases,
        # admissions and deaths, DOHMH's series on the same axis, both as 7-day trailing means, day by day
        svg = os.path.join(self.dir, "overlay.svg")
        p = civitas("plot", self.run_file, "-o", svg)
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(self.run_file, "r") as f:
            scale = f.attrs["population_scale"]
            sim = {v: f["timeseries"][v][:].sum(axis=2).astype(float) for v in
                   ("new_reported_cases", "new_hospitalisations", "new_deaths")}
            obs = {k: f["observed"][k][:].astype(float) for k in ("cases", "hospitalized", "deaths")}
        panels = svg_panels(svg)
        areas = ["New York City", "Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"]
        columns = [("reported cases", "new_reported_cases", "cases"), ("hospital admissions", "new_hospitalisations",
                   "hospitalized"), ("deaths", "new_deaths", "deaths")]
        checked = 0
        for a, area in enumerate(areas):
            for name, var, okey in columns:
                lines, per_px = panels[f"{area}: {name}"]
                pick = (lambda x: x.sum(axis=1)) if a == 0 else (lambda x, b=a - 1: x[:, b])
                want_sim = smooth7(pick(sim[var])) / scale
                want_obs = smooth7(pick(obs[okey]))
                tol = 0.06 * per_px + 1e-9   # coordinates are written to 0.1 px
                self.assertEqual(len(lines["#1f5fbf"]), 40, area)
                self.assertLess(np.abs(lines["#1f5fbf"] - want_sim).max(), tol, (area, name))
                self.assertLess(np.abs(lines["#111111"] - want_obs).max(), tol, (area, name))
                checked += want_obs.max() > 20 * tol
        self.assertGreater(checked, 10)   # most panels have an observed curve well above the rounding
        p = civitas("plot", self.run_file, "-o", svg, "--no-observed")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("#111111", svg_panels(svg)["Bronx: reported cases"][0])

    def test_snapshot_matches_the_series_of_its_day(self):
        # /agents on 2020-04-01 (step 31), counted per borough and DOHMH age band (0-17, 18-24, ..., 75+) with
        # the run's own population: stages and labour are the series of that day; every agent flagged confirmed
        # was counted as a case (on the day of its test) on day 0..31
        pop = os.path.join(self.dir, "snapshot_pop.h5")
        p = civitas("synth", "--scale", "0.005", "--seed", "1", "-o", pop, "-q")   # the run's own population
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(pop, "r") as f:
            borough, age = f["agents/borough"][:], f["agents/age"][:]
        band = np.digitize(age, [18, 25, 35, 45, 55, 65, 75])
        with h5py.File(self.run_file, "r") as f:
            self.assertEqual(list(f["agents/step"][:]), [31])
            stage, flags, labour = f["agents/stage"][0], f["agents/flags"][0], f["agents/labour"][0]
            ts = {v: f["timeseries"][v][31] for v in STOCKS + ["employed", "unemployed"]}
            reported = f["timeseries/new_reported_cases"][:32].sum(axis=(0, 2))
        self.assertEqual(len(borough), len(stage))
        alive = stage != 8
        for b in range(5):
            for k in range(8):
                here = (borough == b) & (band == k)
                for s, v in enumerate(STOCKS):
                    self.assertEqual(np.sum(here & (stage == s)), ts[v][b, k], (v, b, k))
                self.assertEqual(np.sum(here & alive & (labour == 1)), ts["employed"][b, k], (b, k))
                self.assertEqual(np.sum(here & alive & (labour == 2)), ts["unemployed"][b, k], (b, k))
            # a case counts on the day of its test (DOHMH's diagnosis date): confirmed, or a positive result
            # still on its way (flags: 2 test pending, 4 will be positive, 8 confirmed)
            case = ((flags & 8) != 0) | ((flags & 6) == 6)
            self.assertEqual(np.sum((borough == b) & case), reported[b], b)
        self.assertGreater(reported.sum(), 0)
        # the day before and after differ, so a snapshot taken a day off would not match
        with h5py.File(self.run_file, "r") as f:
            self.assertFalse(np.array_equal(f["timeseries/susceptible"][30], f["timeseries/susceptible"][31]))
            self.assertFalse(np.array_equal(f["timeseries/susceptible"][32], f["timeseries/susceptible"][31]))

    def test_info_totals(self):
        # civitas info's table: infections, reported cases, admissions and deaths per borough and city, in
        # real-city units (the run's counts / population scale) to three significant figures
        p = civitas("info", self.run_file)
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(self.run_file, "r") as f:
            scale = f.attrs["population_scale"]
            want = np.array([f["timeseries"][v][:].sum(axis=(0, 2)) for v in
                             ("new_infections", "new_reported_cases", "new_hospitalisations", "new_deaths")]).T
        rows = {}
        num = r"\s+([\d,]+)"
        for line in p.stdout.splitlines():
            m = re.match(r"\s+(Bronx|Brooklyn|Manhattan|Queens|Staten Island|NYC)" + 4 * num + "$", line)
            if m:
                rows[m.group(1)] = [int(x.replace(",", "")) for x in m.groups()[1:]]

        def check(got, sample, what):
            real = sample / scale
            self.assertTrue(all(abs(g - r) <= 0.5 * (10 ** (math.floor(math.log10(r)) - 2) if r > 0 else 0) + 1e-6
                                for g, r in zip(got, real)), (what, got, list(real)))
        self.assertGreater(want.sum(), 0)
        for b, name in enumerate(["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"]):
            check(rows[name], want[b], name)
        check(rows["NYC"], want.sum(axis=0), "NYC")

    def test_wait_for_progress_times_out(self):
        # the helper the two tests below rely on gives up on a run that prints nothing
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], stderr=subprocess.PIPE)
        try:
            t0 = time.monotonic()
            with self.assertRaises(AssertionError):
                wait_for_progress(p, timeout=1)
            self.assertLess(time.monotonic() - t0, 60)
        finally:
            p.kill()
            p.wait()
            p.stderr.close()

    def test_killed_run_is_readable(self):
        # a run killed without warning leaves no file under the output's name, only OUT.partial, which
        # holds the finished days
        out = os.path.join(self.dir, "killed.h5")
        p = start_long_run(out)   # first progress line = 10% = 300 days; then kill without warning
        p.kill()
        p.wait()
        p.stderr.close()
        self.assertFalse(os.path.exists(out))
        with h5py.File(out + ".partial", "r") as f:
            done = int(f.attrs["steps_completed"])
            self.assertEqual(f.attrs["status"], "running")
            self.assertGreaterEqual(done, 300)
            self.assertLess(done, 3000)
            n = int(f.attrs["n_agents"])
            ts = f["timeseries"]
            self.assertGreaterEqual(ts["susceptible"].shape[0], done)
            total = sum(ts[v][:done].sum(axis=(1, 2)) for v in STOCKS)
            self.assertTrue((total == n).all())

    def test_interrupted_run(self):
        out = os.path.join(self.dir, "interrupted.h5")
        p = start_long_run(out)
        p.send_signal(signal.SIGINT)
        try:
            _, err = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("interrupted after", err)
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["status"], "interrupted")
            self.assertEqual(f["timeseries/susceptible"].shape[0], f.attrs["steps_completed"])

    def test_population_file_reproduces_synthesis(self):
        pop = os.path.join(self.dir, "pop.h5")
        p = civitas("synth", "--scale", "0.005", "--seed", "1", "-o", pop, "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(pop + ".partial"))
        out = os.path.join(self.dir, "from_file.h5")
        p = civitas("run", self.study, "--population", pop, "--steps", "40", "-o", out, "-q", "--threads", "1")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as a, h5py.File(self.run_file, "r") as b:
            for v in ("new_infections", "new_reported_cases", "employed", "hospitalised"):
                self.assertTrue(np.array_equal(a["timeseries"][v][:], b["timeseries"][v][:]), v)
        p = civitas("info", pop)
        self.assertEqual(p.returncode, 0)
        self.assertIn("civitas population", p.stdout)
        self.assertIn("Staten Island", p.stdout)

    def test_no_machine_paths(self):
        # the file names no folder of this machine: study inputs relative to the study file, the study
        # file and the output by name
        texts = []
        with h5py.File(self.run_file, "r") as f:
            def collect(name, obj):
                for v in obj.attrs.values():
                    if isinstance(v, (str, bytes)):
                        texts.append(v if isinstance(v, str) else v.decode(errors="replace"))
            collect("/", f)
            f.visititems(collect)
            cfg = json.loads(f.attrs["config_json"])["study"]
            self.assertEqual(f.attrs["study_file"], "nyc2020.json")
        for t in texts:
            self.assertNotIn(ARGS.source, t)
            self.assertNotIn(self.dir, t)
        self.assertEqual(cfg["observed"]["file"], "../../data/nyc_covid_daily_by_borough.csv")
        self.assertEqual(cfg["output"]["file"], "run.h5")
        study_dir = os.path.dirname(self.study)
        for path in (cfg["observed"]["file"], cfg["model"], cfg["contacts"]["matrices"]["file"],
                     cfg["population"]["synthesize"]["data_dir"]):
            self.assertFalse(os.path.isabs(path), path)
            self.assertTrue(os.path.exists(os.path.join(study_dir, path)), path)

    def test_info_and_plot(self):
        p = civitas("info", self.run_file)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("status complete: 40 of 40 days from 2020-03-01", p.stdout)
        # real-city units with the scale stated: the run's 7,000-odd infected agents are 1.4 million people
        self.assertIn("population scale 0.005 (one simulated person for 200 New Yorkers)", p.stdout)
        with h5py.File(self.run_file, "r") as f:
            agents = int(f["timeseries/new_infections"][:].sum())
            self.assertEqual(f["timeseries"].attrs["population_scale"], 0.005)
        nyc = [line for line in p.stdout.splitlines() if line.strip().startswith("NYC")][0].split()
        self.assertEqual(nyc[1], f"{round(agents / 0.005, -int(np.floor(np.log10(agents / 0.005))) + 2):,.0f}")
        svg = os.path.join(self.dir, "curves.svg")
        p = civitas("plot", self.run_file, "-o", svg)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(svg) as fh:
            text = fh.read()
        self.assertTrue(text.startswith("<svg"))
        # a panel per area and series (deaths too), each on its own axis with a labelled unit; legends
        # in words; the scale stated
        for needle in ("New York City: infections", "Staten Island: deaths", "Bronx: reported cases",
                       "Queens: hospital admissions", ">cases per day<", ">deaths per day<", ">people unemployed<",
                       "observed (NYC DOHMH)", "simulated (real-city units)", "polyline", "Mar 2020",
                       "population scale 0.005 (one simulated person for 200 New Yorkers)"):
            self.assertIn(needle, text)
        self.assertNotIn("x scale", text)
        self.assertEqual(text.count("<g>"), 30)
        # y ticks: per panel, labels strictly increasing, evenly spaced, none rounded away (12.5 stays 12.5)
        for panel in re.findall(r"<g>(.*?)</g>", text, re.S):
            labels = re.findall(r'class="ytick"[^>]*>([^<]+)</text>', panel)
            values = [float(v.replace(",", "").replace("k", "e3").replace("M", "e6")) for v in labels]
            self.assertGreaterEqual(len(values), 2, labels)
            steps = np.diff(values)
            self.assertTrue(np.all(steps > 0) and np.allclose(steps, steps[0]), labels)
        # the held-out boundary is drawn only where it falls inside the run (40 days: not)
        self.assertNotIn("held out", text)
        p = civitas("plot", self.run_file, "-o", svg, "--log", "--holdout-from", "2020-03-25")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(svg) as fh:
            text = fh.read()
        self.assertIn("logarithmic y axes", text)
        self.assertEqual(text.count(">held out</text>"), 30)
        self.assertEqual(text.count("dotted line: held out from 2020-03-25"), 1)
        for panel in re.findall(r"<g>(.*?)</g>", text, re.S):
            labels = re.findall(r'class="ytick"[^>]*>([^<]+)</text>', panel)
            values = [float(v.replace(",", "").replace("k", "e3").replace("M", "e6")) for v in labels]
            self.assertTrue(np.all(np.diff(np.log10(values)) > 0), labels)
            for v in values:   # 1, 2, 5 times a power of ten
                self.assertIn(round(v / 10 ** np.floor(np.log10(v) + 1e-9), 6), (1, 2, 5), labels)
        p = civitas("plot", self.run_file, "-o", svg, "--holdout-from", "2021-01-01")
        self.assertEqual(p.returncode, 3)
        self.assertIn("--holdout-from 2021-01-01 is outside the simulated dates (2020-03-01 to 2020-04-09)", p.stderr)

    def test_progress_output(self):
        self.assertIn("civitas: simulating: 40/40 (100%)", self.stderr)
        self.assertIn("agent-days/s", self.stderr)
        # counts in real-city units, the scale stated once
        self.assertIn("civitas: population scale 0.005 (one simulated person for 200 New Yorkers)", self.stderr)
        last = [line for line in self.stderr.splitlines() if "simulating: 40/40" in line][0]
        infected = int(re.search(r"infected ([0-9,]+)", last).group(1).replace(",", ""))
        with h5py.File(self.run_file, "r") as f:
            agents = int(f["timeseries/new_infections"][:].sum())
        self.assertAlmostEqual(infected, agents / 0.005, delta=agents / 0.005 * 0.006)


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
