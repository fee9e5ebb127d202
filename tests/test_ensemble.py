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
            self.assertEqual(f.attrs["schema"], "civitas-ensemble/1")
            names = [s.decode() for s in f["runs/study"][:]]
            self.assertEqual(names, ["nyc2020"] * 4 + ["nyc2020_early_lockdown"] * 4)
            self.assertEqual(list(f["runs/seed"][:4]), [20200301 + k for k in range(4)])
            for var in ("new_infections", "hospitalised", "employed"):
                runs = f["runs"][var][:].astype(float)          # [run][step][borough][band]
                self.assertEqual(runs.shape, (8, 30, 5, 8))
                for i, study in enumerate(("nyc2020", "nyc2020_early_lockdown")):
                    x = runs[4 * i:4 * i + 4]
                    g = f["summary"][study]
                    got = {q: g[f"{var}_{q}"][:].reshape(30, 5, 8) for q in ("mean", "median", "p05", "p95")}
                    self.assertTrue(np.allclose(got["mean"], x.mean(axis=0)))
                    self.assertTrue(np.allclose(got["median"], np.median(x, axis=0)))
                    self.assertTrue(np.allclose(got["p05"], np.quantile(x, 0.05, axis=0)))
                    self.assertTrue(np.allclose(got["p95"], np.quantile(x, 0.95, axis=0)))
            # the seeds differ, so the runs do too, and the early lockdown has fewer infections
            inf = f["runs/new_infections"][:].sum(axis=(1, 2, 3))
            self.assertGreater(len(set(inf[:4])), 1)
            self.assertLess(inf[4:].mean(), inf[:4].mean())

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
                for k in b["runs"]:
                    self.assertTrue(np.array_equal(a["runs"][k][:], b["runs"][k][:]), (ranks, k))
                for study in b["summary"]:
                    for k in b["summary"][study]:
                        self.assertTrue(np.array_equal(a["summary"][study][k][:], b["summary"][study][k][:]))

    def test_population_reused(self):
        p = self.civitas("ensemble", *self.studies, "--seeds", "2", "--scale", "0.002", "--steps", "3",
                         "-o", os.path.join(self.dir, "reuse.h5"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("built 1 population(s) for its 4 runs", p.stderr)

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
