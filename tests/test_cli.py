#!/usr/bin/env python3
"""Bad input of every kind ends with one clear message naming the file, the
field and the value, a non-zero exit code, and no output file."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import civtest

ARGS = None


def civitas(*args, cwd=None):
    p = subprocess.run([ARGS.civitas, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    return p.returncode, p.stdout, p.stderr


class CliErrors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.base = os.path.join(ARGS.source, "models", "covid", "nyc2020.json")
        self.out = os.path.join(self.dir, "out.h5")

    def tearDown(self):
        self.tmp.cleanup()

    def study(self, body, name="s.json", raw=None):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(raw if raw is not None else json.dumps(body))
        return path

    def variant(self, **fields):
        return self.study(dict({"base": self.base}, **fields))

    def expect_error(self, args, code, *needles):
        rc, out, err = civitas(*args, "-o", self.out, "--scale", "0.002", "--steps", "3", "-q") if args[0] == "run" \
            else civitas(*args)
        self.assertEqual(rc, code, f"exit code {rc}, stderr: {err}")
        lines = [l for l in err.splitlines() if l.startswith("civitas: error:")]
        self.assertEqual(len(lines), 1, f"expected one error line, got: {err}")
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertFalse(os.path.exists(self.out), "an output file was left behind")
        return lines[0]

    # --- study files -----------------------------------------------------
    def test_missing_study(self):
        self.expect_error(["run", os.path.join(self.dir, "nope.json")], 3, "nope.json", "cannot open")

    def test_malformed_json(self):
        p = self.study(None, raw='{\n  "name": "x",,\n}\n')
        self.expect_error(["run", p], 3, p, ":2:", "malformed JSON")

    def test_unknown_key(self):
        self.expect_error(["run", self.variant(colour=1)], 3, "unknown key 'colour'")

    def test_unknown_nested_key(self):
        self.expect_error(["run", self.variant(testing={"seek_probability": 0.1, "delay": 2})], 3,
                          "testing.delay", "unknown key")

    def test_out_of_range(self):
        self.expect_error(["run", self.variant(testing={"seek_probability": 1.5})], 3,
                          "testing.seek_probability", "1.5", "out of range")

    def test_older_adult_distancing_out_of_range(self):
        self.expect_error(["run", self.variant(behavior={"mobility": {"older_adult_extra": 1.5}})], 3,
                          "behavior.mobility.older_adult_extra", "1.5", "out of range")
        self.expect_error(["run", self.variant(behavior={"mobility": {"older_adult_age": 200}})], 3,
                          "behavior.mobility.older_adult_age", "200", "out of range")

    def test_access_window_must_be_odd(self):
        self.expect_error(["run", self.variant(testing={"access_window_days": 14})], 3,
                          "testing.access_window_days", "14", "odd")
        self.expect_error(["run", self.variant(testing={"access_window_days": 0})], 3,
                          "testing.access_window_days", "out of range")

    def test_wrong_type(self):
        self.expect_error(["run", self.variant(seed="abc")], 3, "'seed'", '"abc"', "integer")

    def test_bad_date(self):
        self.expect_error(["run", self.variant(start_date="2020-02-30")], 3, "start_date", "2020-02-30")

    def test_unknown_intervention(self):
        iv = [{"date": "2020-03-10", "type": "curfew"}]
        self.expect_error(["run", self.variant(interventions=iv)], 3, "interventions[0].type", "curfew")

    def test_intervention_missing_field(self):
        iv = [{"date": "2020-03-10", "type": "workplace_closure", "closed": True}]
        self.expect_error(["run", self.variant(interventions=iv)], 3, "interventions[0].essential_share", "missing")

    def test_model_parameter_out_of_range(self):
        self.expect_error(["run", self.variant(parameters={"beta": -1})], 3, "parameters.beta", "-1")

    def test_unknown_model_parameter(self):
        self.expect_error(["run", self.variant(parameters={"betta": 1})], 3, "parameters.betta", "unknown key")

    def test_inconsistent_probabilities(self):
        # deaths per infection above the symptomatic share cannot be honoured (severe courses are symptomatic)
        self.expect_error(["run", self.variant(parameters={"p_symptomatic": [0.01] * 9})], 3,
                          "deaths per infection", "exceed p_symptomatic")
        self.expect_error(["run", self.variant(parameters={"ifr": {"age": [0, 50, 40], "value": [0.001, 0.01, 0.1]}})],
                          3, "parameters.ifr.age' must increase")

    def test_interventions_by_id(self):
        """A counterfactual removes, replaces and adds interventions by id; replacing the whole list says what it
        dropped; unknown, duplicate and clashing ids are errors naming the field."""
        import h5py
        cf = self.variant(interventions={"remove": ["testing_may"],
                                         "replace": [{"id": "pause", "date": "2020-03-08", "type": "workplace_closure",
                                                      "closed": True, "essential_share": 0.3}],
                                         "add": [{"id": "masks", "date": "2020-04-17", "type": "transmission", "beta": 1.5}]})
        rc, out, err = civitas("run", cf, "--scale", "0.002", "--steps", "3", "-o", self.out)
        self.assertEqual(rc, 0, err)
        with h5py.File(self.out, "r") as f:
            ivs = json.loads(f.attrs["config_json"])["study"]["interventions"]
        ids = [i.get("id") for i in ivs]
        self.assertNotIn("testing_may", ids)
        self.assertIn("masks", ids)
        pause = [i for i in ivs if i.get("id") == "pause"][0]
        self.assertEqual((pause["date"], pause["essential_share"]), ("2020-03-08", 0.3))
        self.assertEqual(len(ids), 7)   # the base's 7, one removed, one added
        self.assertNotIn("replaces the base's whole list", err)
        os.remove(self.out)
        rc, out, err = civitas("run", self.variant(interventions=[]), "--scale", "0.002", "--steps", "2", "-o", self.out)
        self.assertEqual(rc, 0, err)
        self.assertIn("replaces the base's whole list (7: schools_close,", err)
        os.remove(self.out)
        self.expect_error(["run", self.variant(interventions={"remove": ["nope"]})], 3,
                          "interventions.remove[0]' = \"nope\"", "no intervention with that id")
        self.expect_error(["run", self.variant(interventions={"add": [{"id": "pause", "date": "2020-03-08",
                                                                       "type": "school_closure", "closed": True}]})],
                          3, "interventions.add[0].id' = \"pause\"", "use replace")
        self.expect_error(["run", self.variant(interventions={"replace": [{"date": "2020-03-08", "type": "school_closure",
                                                                           "closed": True}]})],
                          3, "interventions.replace[0]' needs an 'id'")
        self.expect_error(["run", self.variant(interventions={"drop": []})], 3, "unknown key 'interventions.drop'")
        twice = [{"id": "a", "date": "2020-03-08", "type": "school_closure", "closed": True},
                 {"id": "a", "date": "2020-03-09", "type": "school_closure", "closed": False}]
        self.expect_error(["run", self.variant(interventions=twice)], 3, "interventions[1].id' = \"a\"", "earlier")

    def test_population_file_and_synthesis(self):
        self.expect_error(["run", self.variant(population={"file": "x.h5"})], 3, "exactly one of 'file' or 'synthesize'")

    def test_missing_base(self):
        p = self.study({"base": "missing_base.json", "name": "cf"})
        self.expect_error(["run", p], 3, "field 'base'", "missing_base.json")

    def test_dates_outside_observed(self):
        self.expect_error(["run", self.variant(start_date="2019-06-01", output={"snapshots": []})], 3, "nyc_covid_daily_by_borough.csv",
                          "2019-06-01", "observed data cover 2020-02-29")

    def test_labour_month_outside_data(self):
        pop = {"synthesize": {"data_dir": os.path.join(ARGS.source, "data"), "employment_reference": "2018-01"}}
        self.expect_error(["run", self.variant(population=pop)], 3, "nyc_laus_monthly_by_borough.csv", "2018-01")

    def test_bad_ethnicity_table(self):
        # the race/ethnicity table: an unknown group names the file, row and value; a borough with no people
        # is refused rather than given an arbitrary mix
        data = os.path.join(self.dir, "data")
        shutil.copytree(os.path.join(ARGS.source, "data"), data)
        table = os.path.join(data, "nyc_nta_ethnicity.csv")
        with open(table) as f:
            rows = f.read().splitlines()
        pop = {"synthesize": {"data_dir": data}}
        with open(table, "w") as f:
            f.write("\n".join([rows[0], rows[1].replace(",asian,", ",martian,")] + rows[2:]) + "\n")
        self.expect_error(["run", self.variant(population=pop)], 3, "nyc_nta_ethnicity.csv: row 2",
                          "unknown ethnicity 'martian'")
        with open(table, "w") as f:
            f.write("\n".join([rows[0]] + [r for r in rows[1:] if r.split(",")[1] != "SI"]) + "\n")
        self.expect_error(["run", self.variant(population=pop)], 3, "nyc_nta_ethnicity.csv",
                          "no people counted for borough SI")

    def test_bad_outside_home_exposure(self):
        # every group must be given, within range, and nothing else
        self.expect_error(["run", self.variant(parameters={"outside_home_exposure": {"value": {"white": 0}}})], 3,
                          "parameters.outside_home_exposure.value", "white", "0")
        self.expect_error(["run", self.variant(parameters={"outside_home_exposure": {"value": {"martian": 1}}})], 3,
                          "parameters.outside_home_exposure.value", "martian", "unknown key")
        self.expect_error(["run", self.variant(parameters={"outside_home_exposure_contrast": 4})], 3,
                          "parameters.outside_home_exposure_contrast", "4")

    def test_missing_data_dir(self):
        pop = {"synthesize": {"data_dir": os.path.join(self.dir, "no_data")}}
        self.expect_error(["run", self.variant(population=pop)], 3, "field 'population.synthesize.data_dir'", "no_data",
                          "cannot open")
        pop = {"synthesize": {"data_dir": self.base}}
        self.expect_error(["run", self.variant(population=pop)], 3, "field 'population.synthesize.data_dir'",
                          "not a directory")

    def test_missing_input_files_name_their_field(self):
        missing = os.path.join(self.dir, "missing.csv")
        variants = {
            "contacts.matrices.file": {"contacts": {"matrices": {"file": missing}}},
            "observed.file": {"observed": {"file": missing}},
            "testing.access_file": {"testing": {"access_file": missing}},
            "model": {"model": missing},
            "behavior.llm.user_prompt": {"behavior": {"mode": "llm", "llm": {
                "base_url": "http://127.0.0.1:9", "model": "m", "user_prompt": missing}}},
        }
        for field, body in variants.items():
            with self.subTest(field=field):
                self.expect_error(["run", self.variant(**body)], 3, f"field '{field}'", "missing.csv", "cannot open")
        # a study that loads a population file takes no --scale
        rc, _, err = civitas("run", self.variant(population={"file": missing, "synthesize": None}), "-o", self.out, "-q")
        self.assertEqual(rc, 3, err)
        self.assertIn("field 'population.file'", err)
        self.assertIn("missing.csv\": cannot open", err)
        self.assertFalse(os.path.exists(self.out))
        self.expect_error(["run", self.variant(observed={"file": self.dir})], 3, "field 'observed.file'",
                          "is a directory")
        llm = {"mode": "llm", "llm": {"base_url": "http://127.0.0.1:9", "model": "m", "system_prompt": self.dir}}
        self.expect_error(["run", self.variant(behavior=llm)], 3, "field 'behavior.llm.system_prompt'", "is a directory")

    def test_snapshot_outside_run(self):
        self.expect_error(["run", self.variant(output={"snapshots": ["2021-01-01"]}, steps=10)], 3,
                          "output.snapshots[0]", "2021-01-01")

    # --- population files --------------------------------------------------
    def test_population_not_hdf5(self):
        bad = os.path.join(self.dir, "pop.h5")
        with open(bad, "w") as f:
            f.write("agents\n")
        rc, out, err = civitas("run", self.base, "--population", bad, "-o", self.out, "-q", "--steps", "2")
        self.assertEqual(rc, 3, err)
        self.assertIn("pop.h5: not an HDF5 file", err)
        self.assertFalse(os.path.exists(self.out))

    def test_population_wrong_schema(self):
        # a run file is HDF5 but not a population
        run = os.path.join(self.dir, "run.h5")
        rc, _, err = civitas("run", self.base, "--scale", "0.002", "--steps", "2", "-o", run, "-q")
        self.assertEqual(rc, 0, err)
        rc, out, err = civitas("run", self.base, "--population", run, "-o", self.out, "-q", "--steps", "2")
        self.assertEqual(rc, 3, err)
        self.assertIn("run.h5: attribute 'schema'", err)
        self.assertIn("not a civitas population file", err)
        self.assertFalse(os.path.exists(self.out))

    def test_population_from_an_earlier_schema(self):
        # a population file of schema 2 (before race/ethnicity groups) is refused with the way out
        import h5py
        pop = os.path.join(self.dir, "old.h5")
        rc, _, err = civitas("synth", "--scale", "0.002", "-o", pop, "-q")
        self.assertEqual(rc, 0, err)
        with h5py.File(pop, "r+") as f:
            del f["agents/ethnicity"]
            f.attrs["schema"] = "civitas-population/2"
        rc, out, err = civitas("run", self.base, "--population", pop, "-o", self.out, "-q", "--steps", "2")
        self.assertEqual(rc, 3, err)
        self.assertIn("old.h5: a population made by an earlier civitas (schema 'civitas-population/2', "
                      "without race/ethnicity groups); synthesize it again", err)
        self.assertFalse(os.path.exists(self.out))

    def test_population_corrupt_counts_and_indices(self):
        import h5py
        import numpy as np
        good = os.path.join(self.dir, "good.h5")
        rc, _, err = civitas("synth", "--scale", "0.002", "-o", good, "-q")
        self.assertEqual(rc, 0, err)

        def corrupt(edit):
            bad = os.path.join(self.dir, "bad.h5")
            shutil.copyfile(good, bad)
            with h5py.File(bad, "r+") as f:
                edit(f)
            rc, _, err = civitas("run", self.base, "--population", bad, "-o", self.out, "-q", "--steps", "2")
            self.assertEqual(rc, 3, err)
            self.assertFalse(os.path.exists(self.out))
            return err

        def replace(f, name, values):
            del f[name]
            f[name] = values

        def set_value(f, name, index, value):
            a = f[name][()]
            a[index] = value
            f[name][...] = a

        # an empty tract table once made the geoid read overrun its buffer
        err = corrupt(lambda f: replace(f, "tracts/borough", np.zeros(0, np.uint8)))
        self.assertIn("'tracts/borough' has 0 elements", err)
        # a huge household count once aborted in calloc
        err = corrupt(lambda f: f.attrs.modify("n_households", 10**12))
        self.assertIn("attribute n_households = 1000000000000 is out of range", err)
        err = corrupt(lambda f: f.attrs.modify("scale", 5.0))
        self.assertIn("attribute scale = 5 is out of range", err)
        err = corrupt(lambda f: set_value(f, "agents/household", 7, 2**32 - 1))
        self.assertIn("'agents/household'[7] = 4294967295 is out of range", err)
        err = corrupt(lambda f: set_value(f, "agents/borough", 0, (f["agents/borough"][0] + 1) % 5))
        self.assertIn("agent 0 lives in borough", err)
        err = corrupt(lambda f: replace(f, "tracts/geoid", f["tracts/geoid"][:-1]))
        self.assertIn("'tracts/geoid' has", err)

    # --- outputs and command line ---------------------------------------------
    def test_unwritable_output(self):
        rc, out, err = civitas("run", self.base, "--scale", "0.002", "--steps", "2", "-q",
                               "-o", os.path.join(self.dir, "missing_dir", "x.h5"))
        self.assertEqual(rc, 4, err)
        self.assertIn("missing_dir", err)
        self.assertIn("does not exist", err)

    def test_usage_errors(self):
        for args in (["run", self.base, "--scale", "2"], ["run", self.base, "--threads", "0"], ["run"],
                     ["frobnicate"], ["synth"], ["run", self.base, "--backend", "tpu"]):
            rc, out, err = civitas(*args)
            self.assertEqual(rc, 2, f"{args}: {err}")
            self.assertIn("civitas: error:", err)
        # command-line values outside what a study file accepts are usage errors, not the study's
        for args, needle in ((["run", self.base, "--scale", "1e-9"], "--scale '1e-9': expected a number in [1e-05, 1]"),
                             (["run", self.base, "--seed", "9223372036854775807"], "expected 0..140737488355327"),
                             (["synth", "--seed", "4294967296"], "--seed '4294967296': expected 0..2147483647")):
            rc, out, err = civitas(*args)
            self.assertEqual(rc, 2, f"{args}: {err}")
            self.assertIn(needle, err)

    def test_scale_with_population_file(self):
        rc, out, err = civitas("run", self.variant(population={"file": "x.h5", "synthesize": None}), "--scale", "0.1", "-o", self.out)
        self.assertEqual(rc, 2, err)
        self.assertIn("--scale applies to synthesized populations", err)

    def test_version_describes_backends(self):
        rc, out, err = civitas("version")
        self.assertEqual(rc, 0, err)
        self.assertIn("CPU backend:", out)
        cuda = [l for l in out.splitlines() if l.startswith("CUDA backend:")]
        self.assertEqual(len(cuda), 1, out)
        if "not built" not in cuda[0]:
            # the CUDA build opens cuBLAS lazily: it must be found (no GPU needed for that)
            self.assertIn("cuBLAS: loadable", cuda[0])
            self.assertIn("sm_90", cuda[0])
            # CIVITAS_CUBLAS names the library; a wrong one is reported, not a crash
            for lib, needle in (("/nonexistent/libcublas.so", "cannot load cuBLAS from CIVITAS_CUBLAS=/nonexistent"),
                                ("libm.so.6", "libm.so.6 has no symbol cublasCreate_v2")):
                p = subprocess.run([ARGS.civitas, "version"], capture_output=True, text=True, timeout=60,
                                   env=dict(os.environ, CIVITAS_CUBLAS=lib))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn(needle, p.stdout)

    def gpu_present(self):
        return "device 0:" in civitas("version")[1]

    def test_cuda_backend_unavailable(self):
        if self.gpu_present():
            self.skipTest("a CUDA device is present")
        rc, out, err = civitas("run", self.base, "--backend", "cuda", "--scale", "0.002", "--steps", "2",
                               "-o", self.out, "-q")
        self.assertEqual(rc, 5, err)
        self.assertIn("--backend cuda is not usable", err)
        self.assertFalse(os.path.exists(self.out))

    def test_auto_backend_falls_back(self):
        if self.gpu_present():
            self.skipTest("a CUDA device is present")
        rc, out, err = civitas("run", self.base, "--backend", "auto", "--scale", "0.002", "--steps", "2", "-o", self.out)
        self.assertEqual(rc, 0, err)
        self.assertIn("using the CPU backend", err)
        self.assertTrue(os.path.exists(self.out))

    def test_help_everywhere(self):
        for cmd in (["--help"], ["run", "--help"], ["synth", "--help"], ["info", "--help"], ["plot", "--help"],
                    ["ensemble", "--help"], ["calibrate", "--help"], ["report", "--help"], ["version", "--help"]):
            rc, out, err = civitas(*cmd)
            self.assertEqual(rc, 0, cmd)
            self.assertIn("usage: civitas", out)
            self.assertNotIn("civitas 0.", out, f"{cmd}: printed the version instead of the help")

    def test_help_gives_ranges_and_did_you_mean(self):
        # every numeric option's range is in the help, so a refused value can be corrected from it
        rc, out, _ = civitas("calibrate", "--help")
        self.assertIn("--particles N", out)
        self.assertIn("(10 to 100000; default: calibration.method.particles", out)
        rc, out, _ = civitas("run", "--help")
        self.assertIn("(1 to 3650; default: the study's)", out)
        for cmd in ("run", "synth", "ensemble", "calibrate", "report", "plot", "info", "version"):
            rc, out, _ = civitas(cmd, "--help")
            self.assertNotIn(ARGS.source, out, f"{cmd} --help names a path of the build machine")
        # a mistyped option or command names the closest one
        rc, out, err = civitas("run", self.base, "--scael", "0.1")
        self.assertEqual(rc, 2, err)
        self.assertIn("unknown option '--scael' for 'run'; did you mean '--scale'?", err)
        rc, out, err = civitas("ensembel", "x.json")
        self.assertEqual(rc, 2, err)
        self.assertIn("unknown command 'ensembel'; did you mean 'ensemble'?", err)
        rc, out, err = civitas("run", self.base, "--steps=0")
        self.assertEqual(rc, 2, err)
        self.assertIn("--steps '0': expected 1..3650", err)

    def test_help_lists_every_command(self):
        commands = ["run", "synth", "info", "plot", "ensemble", "calibrate", "report", "version"]
        rc, out, err = civitas("--help")
        self.assertEqual(rc, 0, err)
        self.assertIn("usage: civitas <command>", out)
        for cmd in commands:
            self.assertRegex(out, rf"(?m)^  {cmd}\b", f"'{cmd}' missing from the command list")
        for cmd in commands:
            for flag in ("--help", "-h"):
                with self.subTest(cmd=cmd, flag=flag):
                    rc, out, err = civitas(cmd, flag)
                    self.assertEqual(rc, 0, err)
                    self.assertTrue(out.startswith(f"usage: civitas {cmd}"), out[:200])
                    self.assertEqual(err, "")

    def test_out_of_memory_is_a_runtime_failure(self):
        # exit code 1: the full city does not fit in 150 MiB of address space, a small one does
        import resource

        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (150 << 20, 150 << 20))

        def run(*extra):
            return subprocess.run([ARGS.civitas, "run", self.base, "--steps", "2", "--threads", "1", "-q",
                                   "-o", self.out, *extra], capture_output=True, text=True, timeout=300,
                                  preexec_fn=limit)
        p = run()
        self.assertEqual(p.returncode, 1, p.stderr)
        lines = [l for l in p.stderr.splitlines() if l.startswith("civitas: error:")]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("out of memory allocating", lines[0])
        self.assertIn("try a smaller --scale", lines[0])
        self.assertFalse(os.path.exists(self.out))
        p = run("--scale", "0.001")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_info_and_plot_bad_files(self):
        rc, out, err = civitas("info", os.path.join(self.dir, "none.h5"))
        self.assertEqual(rc, 3)
        self.assertIn("none.h5", err)
        rc, out, err = civitas("plot", os.path.join(self.dir, "none.h5"))
        self.assertEqual(rc, 3)

    def test_run_file_readers_check_shapes(self):
        # info, plot and report once read a series shorter than the run past its buffer
        import h5py
        run = os.path.join(self.dir, "run.h5")
        rc, _, err = civitas("run", self.base, "--scale", "0.002", "--steps", "20", "-o", run, "-q")
        self.assertEqual(rc, 0, err)
        with h5py.File(run, "r+") as f:
            short = f["timeseries/new_reported_cases"][:4]
            del f["timeseries/new_reported_cases"]
            f["timeseries/new_reported_cases"] = short
        for cmd in (["info", run], ["plot", run, "-o", os.path.join(self.dir, "p.svg")],
                    ["report", run, "-o", os.path.join(self.dir, "rep")]):
            with self.subTest(cmd=cmd[0]):
                rc, _, err = civitas(*cmd)
                self.assertEqual(rc, 3, err)
                self.assertIn("'timeseries/new_reported_cases' has shape (4, 5, ", err)
                self.assertIn("steps_completed = 20", err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "rep")))
        # a bad series found after some plots were written: the failed report still leaves nothing behind
        with h5py.File(run, "r+") as f:
            del f["timeseries/new_reported_cases"]
            f["timeseries/new_reported_cases"] = f["timeseries/new_infections"][()]
            short = f["timeseries/new_deaths"][:4]
            del f["timeseries/new_deaths"]
            f["timeseries/new_deaths"] = short
        rc, _, err = civitas("report", run, "-o", os.path.join(self.dir, "rep"))
        self.assertEqual(rc, 3, err)
        self.assertIn("'timeseries/new_deaths' has shape (4, 5, ", err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "rep")))
        # no start date: no plot with a made-up time axis (the deaths series whole again: plots draw it)
        with h5py.File(run, "r+") as f:
            del f["timeseries/new_deaths"]
            f["timeseries/new_deaths"] = f["timeseries/new_infections"][()]
            del f.attrs["start_date"]
        rc, _, err = civitas("plot", run, "-o", os.path.join(self.dir, "p.svg"))
        self.assertEqual(rc, 3, err)
        self.assertIn("attribute 'start_date' is missing", err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "p.svg")))


if __name__ == "__main__":
    civtest.main(sys.modules[__name__])
