#!/usr/bin/env python3
"""HDF5 outputs: h5py, xarray and pandas read them with no glue; a killed run
leaves a readable file with the completed steps; an interrupted run is marked
as such; population files reproduce in-run synthesis; info and plot work."""
import json
import os
import re
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


def wait_for_progress(p, timeout=300):
    """Blocks until the run prints its first progress line; fails if it exits first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = p.stderr.readline()
        if "simulating:" in line:
            return
        if not line and p.poll() is not None:
            raise AssertionError(f"civitas exited early with {p.returncode}")
    raise AssertionError("no progress line in time")


def start_long_run(out):
    """A 3000-day run of the free epidemic, stopped by the caller after its first progress line."""
    free = os.path.join(ARGS.source, "tests", "data", "free.json")
    p = subprocess.Popen([ARGS.civitas, "run", free, "--scale", "0.05", "--steps", "3000", "-o", out],
                         stderr=subprocess.PIPE, text=True)
    wait_for_progress(p)
    return p


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
        err = p.stderr.read()
        p.stderr.close()
        self.assertEqual(p.wait(), 130, err)
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
