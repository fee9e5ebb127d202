#!/usr/bin/env python3
"""Ensembles: per-study statistics against values computed independently with
numpy and by hand from the stored runs; identical files under MPI with 1, 2
and 3 ranks; population reuse; bad inputs."""
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
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_btl_vader_single_copy_mechanism": "none", "OMPI_MCA_rmaps_base_oversubscribe": "1"}
STUDIES = ["nyc2020.json", "nyc2020_early_lockdown.json"]
COMMON = ["--seeds", "4", "--scale", "0.003", "--steps", "30", "-q"]


class Ensemble(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.studies = [os.path.join(ARGS.source, "models", "covid", s) for s in STUDIES]
        cls.one = os.path.join(cls.dir, "one.h5")
        p = cls.civitas("ensemble", *cls.studies, *COMMON, "-o", cls.one)
        assert p.returncode == 0, p.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def civitas(cls, *args, launcher=()):
        return subprocess.run([*launcher, ARGS.civitas, *args], capture_output=True, text=True, timeout=600,
                              env=dict(os.environ, **MPI_ENV))

    def test_statistics_match_numpy(self):
        with h5py.File(self.one, "r") as f:
            self.assertEqual(f.attrs["schema"], "civitas-ensemble/2")
            names = [s.decode() for s in f["runs/study"][:]]
            self.assertEqual(names, ["nyc2020"] * 4 + ["nyc2020_early_lockdown"] * 4)
            self.assertEqual(list(f["runs/seed"][:4]), [20200301 + k for k in range(4)])
            for var in ("new_infections", "hospitalised", "employed"):
                runs = f["runs"][var][:].astype(float)          # [run][step][borough][band]
                self.assertEqual(runs.shape, (8, 30, 5, 8))
                for i, study in enumerate(("nyc2020", "nyc2020_early_lockdown")):
                    x = runs[4 * i:4 * i + 4]
                    g = f["summary"][study]
                    got = {q: g[f"{var}_{q}"][:] for q in ("mean", "median", "p05", "p95")}
                    self.assertEqual(got["mean"].shape, (30, 5, 8))
                    self.assertTrue(np.allclose(got["mean"], x.mean(axis=0)))
                    self.assertTrue(np.allclose(got["median"], np.median(x, axis=0)))
                    self.assertTrue(np.allclose(got["p05"], np.quantile(x, 0.05, axis=0)))
                    self.assertTrue(np.allclose(got["p95"], np.quantile(x, 0.95, axis=0)))
            # the seeds differ, so the runs do too, and the early lockdown has fewer infections
            inf = f["runs/new_infections"][:].sum(axis=(1, 2, 3))
            self.assertGreater(len(set(inf[:4])), 1)
            self.assertLess(inf[4:].mean(), inf[:4].mean())

    def test_xarray_dimensions_and_coordinates(self):
        # the README's snippet: runs as (run, date, borough, age_band) with study and seed on run, summaries
        # shaped like the series, the population scale where xarray shows it
        import xarray as xr
        runs = xr.open_dataset(self.one, group="runs", engine="h5netcdf")
        inf = runs.new_infections
        self.assertEqual(inf.dims, ("run", "date", "borough", "age_band"))
        self.assertEqual(inf.shape, (8, 30, 5, 8))
        for c in ("study", "seed", "population_scale"):
            self.assertIn(c, inf.coords)
        self.assertEqual(str(runs.date.values[0])[:10], "2020-03-01")
        self.assertEqual(list(runs.borough.values), ["BX", "BK", "MN", "QN", "SI"])
        self.assertEqual(runs.attrs["population_scale"], 0.003)
        early = inf.where(inf.study == "nyc2020_early_lockdown", drop=True)
        self.assertEqual(early.sizes["run"], 4)
        self.assertEqual(list(early.seed.values), [20200301 + k for k in range(4)])
        # real-city counts: the raw sample counts divided by the scale
        total = (inf.sum(("date", "borough", "age_band")) / inf.population_scale).values
        with h5py.File(self.one, "r") as f:
            raw = f["runs/new_infections"][:].sum(axis=(1, 2, 3))
        self.assertTrue(np.allclose(total, raw / 0.003))
        summ = xr.open_dataset(self.one, group="summary/nyc2020", engine="h5netcdf")
        self.assertEqual(summ.new_infections_median.dims, ("date", "borough", "age_band"))
        self.assertEqual(summ.attrs["population_scale"], 0.003)
        self.assertEqual(summ.attrs["role"], "base")
        med = inf.isel(run=slice(0, 4)).median("run")
        self.assertTrue(np.allclose(summ.new_infections_median.values, med.values))
        with h5py.File(self.one, "r") as f:   # no folder of this machine recorded anywhere
            for study in f["summary"]:
                cfg = f["summary"][study].attrs["config_json"]
                self.assertNotIn(ARGS.source, cfg)
                self.assertNotIn(self.dir, cfg)
        obs = xr.open_dataset(self.one, group="observed", engine="h5netcdf")
        self.assertEqual(obs.cases.dims, ("date", "borough"))
        self.assertEqual(obs.cases.shape, (30, 5))
        self.assertGreater(int(obs.cases.sum()), 1000)    # real counts of March 2020, not scaled

    def test_readme_snippet(self):
        # the README's xarray example, run on this file (its base here is nyc2020, not the calibrated study)
        import contextlib, io, re
        with open(os.path.join(ARGS.source, "README.md")) as f:
            blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
        code = [b for b in blocks if 'group="runs"' in b]
        self.assertEqual(len(code), 1)
        code = code[0].replace('"early_lockdown_ensemble.h5"', repr(self.one)).replace("nyc2020_calibrated", "nyc2020")
        scope = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, scope)
        with h5py.File(self.one, "r") as f:
            d = f["runs/new_deaths"][:].sum(axis=(1, 3)) / 0.003        # [run][borough]
            med = np.median(f["runs/new_deaths"][:4], axis=0)
        self.assertEqual(scope["averted"].shape, (4, 5))
        self.assertTrue(np.allclose(scope["averted"], d[:4] - d[4:]))
        self.assertTrue(np.allclose(scope["median"].values, med))
        self.assertEqual(scope["median"].dims, ("date", "borough", "age_band"))

    def test_hand_computed_quantiles(self):
        # civitas's own summary, by hand for 4 seeds: sorted values v0 <= v1 <= v2 <= v3 give
        # median (v1 + v2) / 2, p05 = v0 + 0.15 (v1 - v0) (position 0.05 x 3), p95 = v2 + 0.85 (v3 - v2)
        with h5py.File(self.one, "r") as f:
            v = np.sort(f["runs/new_infections"][:4].astype(float), axis=0)   # nyc2020's 4 runs
            g = f["summary/nyc2020"]
            got = {q: g[f"new_infections_{q}"][:].reshape(v.shape[1:]) for q in ("mean", "median", "p05", "p95")}
        spread = v[3] > v[0]
        self.assertGreater(spread.sum(), 100)   # cells where the seeds differ: where a wrong rule shows
        self.assertTrue(np.array_equal(got["median"], (v[1] + v[2]) / 2))
        self.assertTrue(np.allclose(got["p05"], v[0] + 0.15 * (v[1] - v[0]), rtol=0, atol=1e-9))
        self.assertTrue(np.allclose(got["p95"], v[2] + 0.85 * (v[3] - v[2]), rtol=0, atol=1e-9))
        self.assertTrue(np.allclose(got["mean"], v.sum(axis=0) / 4, rtol=0, atol=1e-9))
        self.assertTrue((got["p05"][spread] > v[0][spread]).any() and (got["p95"][spread] < v[3][spread]).any())

    @unittest.skipUnless(shutil.which("mpirun"), "mpirun not installed (apt-get install openmpi-bin)")
    def test_mpi_ranks_give_identical_files(self):
        for ranks in (1, 2, 3):
            out = os.path.join(self.dir, f"mpi{ranks}.h5")
            p = self.civitas("ensemble", *self.studies, *COMMON, "-o", out, launcher=("mpirun", "-np", str(ranks)))
            self.assertEqual(p.returncode, 0, p.stderr)
            with h5py.File(out, "r") as a, h5py.File(self.one, "r") as b:
                self.assertEqual(a.attrs["mpi_ranks"], ranks)
                def same(ga, gb, where):
                    for k in gb:
                        if isinstance(gb[k], h5py.Group):
                            same(ga[k], gb[k], f"{where}/{k}")
                        else:
                            x, y = ga[k][:], gb[k][:]   # a run without a posterior draw has NaN values
                            nan = x.dtype.kind == "f"
                            self.assertTrue(np.array_equal(x, y, equal_nan=nan), (ranks, where, k))
                same(a["runs"], b["runs"], "runs")
                for study in b["summary"]:
                    for k in b["summary"][study]:
                        self.assertTrue(np.array_equal(a["summary"][study][k][:], b["summary"][study][k][:]))

    def test_population_reused(self):
        p = self.civitas("ensemble", *self.studies, "--seeds", "2", "--scale", "0.002", "--steps", "3",
                         "-o", os.path.join(self.dir, "reuse.h5"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("built 1 population(s) for its 4 runs", p.stderr)

    def test_posterior_draws(self):
        # a study naming a posterior sample: each run draws a row by weight (row 0 has none), keyed by the
        # study's seed and the run index, so a counterfactual based on it gets the same rows; the
        # counterfactual's own beta (0: no transmission) wins over the drawn one
        d = self.dir
        with open(os.path.join(d, "post.csv"), "w") as f:
            f.write("particle,parameters.beta,initial_infections.per_100k,weight,distance\n"
                    "0,0.5,20,0,1\n1,1.5,80,1,2\n2,0.9,40,3,3\n")
        withpost = os.path.join(d, "withpost.json")
        with open(withpost, "w") as f:
            json.dump({"base": self.studies[0], "name": "withpost", "posterior": "post.csv"}, f)
        nobeta = os.path.join(d, "nobeta.json")
        with open(nobeta, "w") as f:
            json.dump({"base": "withpost.json", "name": "nobeta", "parameters": {"beta": 0}}, f)
        out = os.path.join(d, "post.h5")
        p = self.civitas("ensemble", withpost, nobeta, self.studies[0], "--seeds", "8", "--scale", "0.002",
                         "--steps", "15", "-q", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as f:
            sets = f["runs/posterior_set"][:]
            beta = f["runs/posterior/parameters.beta"][:]
            initial = f["runs/posterior/initial_infections.per_100k"][:]
            inf = f["runs/new_infections"][:].sum(axis=(2, 3))
        self.assertTrue(np.array_equal(sets[:8], sets[8:16]))
        self.assertTrue(set(sets[:8]) <= {1, 2} and len(set(sets[:8])) == 2, sets)
        self.assertEqual(list(sets[16:]), [-1] * 8)             # the plain study has no posterior
        self.assertTrue(np.all(np.isnan(beta[16:])))
        for r in range(16):
            self.assertEqual(beta[r], {1: 1.5, 2: 0.9}[sets[r]])
            self.assertEqual(initial[r], {1: 80, 2: 40}[sets[r]])
        self.assertEqual(inf[8:16, 7:].sum(), 0)
        self.assertGreater(inf[:8, 7:].sum(), 0)
        # a bad posterior file is named with the reason
        with open(os.path.join(d, "post.csv"), "w") as f:
            f.write("particle,parameters.beta\n0,1\n")
        p = self.civitas("ensemble", withpost, "--seeds", "2", "--scale", "0.002", "--steps", "2", "-o",
                         os.path.join(d, "bad.h5"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("post.csv: no 'weight' column", p.stderr)

    def test_damaged_files_are_refused(self):
        # info, plot and report answer a damaged ensemble file with one error naming it, and write nothing
        def study_names(f):
            f["runs/study"][0] = b"other"
        def short_deaths(f):
            short = f["runs/new_deaths"][:, :5]
            del f["runs/new_deaths"]
            f["runs/new_deaths"] = short
        def negative(f):
            f["runs/new_infections"][0, 0, 0, 0] = -5
        def scale(f):
            f["summary/nyc2020"].attrs["population_scale"] = 0.0
        def posterior(f):
            if "runs/posterior_set" in f:   # the counterfactual's calibrated base draws from its posterior
                del f["runs/posterior_set"]
            f["runs/posterior_set"] = np.zeros(3, dtype=np.int32)
        def observed(f):
            del f["observed/deaths"]
            f["observed/deaths"] = np.zeros((2, 5), dtype=np.int32)
        def no_runs(f):
            del f["runs"]
        cases = {"study names": (study_names, "breaks the layout"), "short series": (short_deaths, "/runs/new_deaths"),
                 "negative count": (negative, "not a count"), "scale": (scale, "population_scale"),
                 "posterior draws": (posterior, "posterior_set"), "observed": (observed, "/observed/deaths"),
                 "no runs": (no_runs, "/runs is missing")}
        for name, (damage, msg) in cases.items():
            bad = os.path.join(self.dir, "damaged.h5")
            shutil.copy(self.one, bad)
            with h5py.File(bad, "r+") as f:
                damage(f)
            for cmd, out in ((["info", bad], None), (["plot", bad, "-o", os.path.join(self.dir, "d.svg")], "d.svg"),
                             (["report", bad, "-o", os.path.join(self.dir, "drep")], "drep")):
                with self.subTest(case=name, cmd=cmd[0]):
                    p = self.civitas(*cmd)
                    self.assertEqual(p.returncode, 3, p.stderr)
                    self.assertIn("damaged.h5", p.stderr)
                    self.assertIn(msg, p.stderr)
                    self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
                    if out:
                        self.assertFalse(os.path.exists(os.path.join(self.dir, out)))

    def test_bad_inputs(self):
        other = os.path.join(self.dir, "other.json")
        with open(other, "w") as f:
            json.dump({"base": self.studies[0], "name": "shorter", "steps": 10, "output": {"snapshots": []}}, f)
        p = self.civitas("ensemble", self.studies[0], other, "--seeds", "2", "-o", os.path.join(self.dir, "bad.h5"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("start_date, steps and output age bands must match", p.stderr)
        p = self.civitas("ensemble", self.studies[0], self.studies[0], "--seeds", "2", "-o", os.path.join(self.dir, "bad.h5"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("used twice", p.stderr)
        missing = os.path.join(self.dir, "cf.json")
        with open(missing, "w") as f:
            json.dump({"base": "no_such_base.json", "name": "cf"}, f)
        p = self.civitas("ensemble", missing, "--seeds", "2", "-o", os.path.join(self.dir, "bad.h5"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("no_such_base.json", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "bad.h5")))
        p = self.civitas("ensemble", self.studies[0], "--seeds", "2")
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
