#!/usr/bin/env python3
"""No command may lose or corrupt data and call it success, whatever the disk, the signals or the
input files do. One test per kind of failure:

- two writers of one output: the second fails at once naming the first, the first's file stays whole;
- a full file system (a small tmpfs, when the tests run as root) for run, synth, ensemble, calibrate,
  report and plot, from the start and part-way; /dev/full and a closed pipe on standard output: exit 4,
  one line with the file and the system's reason, no crash, no HDF5 error stack, nothing left;
- kills (SIGKILL) at random moments, from before the first day on: a file under the output's name is
  always whole (a killed run leaves only OUT.partial);
- special files as inputs (directory, FIFO, device) refused by name, at once; inputs over their size limit;
- duplicate JSON keys, \\u0000 escapes and numbers beyond a double; command-line overrides that must not
  hide the study's own bad values;
- outputs that would replace an input (same file, a hard link, a symbolic link) and outputs checked
  before long work;
- SIGINT/SIGTERM honoured by synth, report, ensemble, calibrate, run, plot and info (exit 130, no
  leftover);
- HDF5 attributes and datasets of an unexpected type or shape, and messages that state the value as
  found (negative counts, float ages, shapes, a 5000-character path's reason).
Waits are generous (tens of seconds) so that a loaded machine passes; none of them measures speed
beyond "within 10 seconds" for a signal."""
import errno
import hashlib
import json
import os
import random
import resource
import shutil
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
SANITIZED = False


def limit_memory():
    """Inputs must never make civitas grow without bound; an old build reading /dev/zero would take the
    machine's memory, so children get an address-space cap (not under AddressSanitizer, which reserves
    far more address space than it uses)."""
    if not SANITIZED:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def civitas(*args, timeout=300, **kw):
    try:
        p = subprocess.run([ARGS.civitas, *args], capture_output=True, text=True, timeout=timeout,
                           preexec_fn=limit_memory, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"civitas {' '.join(args)[:200]} did not finish within {timeout} s") from e
    return p


def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith("civitas: error:")]


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def handler_installed(pid):
    """True once the process catches SIGINT (its handler is installed first thing in main)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGINT - 1) & 1)
    except OSError:
        pass
    return False


class Reliability(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        cls.base = os.path.join(ARGS.source, "models", "covid", "nyc2020.json")
        cls.free = os.path.join(ARGS.source, "tests", "data", "free.json")
        cls.fit = os.path.join(ARGS.source, "models", "covid", "nyc2020_fit.json")
        cls.pop = os.path.join(d, "pop.h5")
        p = civitas("synth", "--scale", "0.002", "-o", cls.pop, "-q")
        assert p.returncode == 0, p.stderr
        cls.run_file = os.path.join(d, "run.h5")
        p = civitas("run", cls.base, "--population", cls.pop, "--steps", "20", "--threads", "1", "-o", cls.run_file, "-q")
        assert p.returncode == 0, p.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.sub = tempfile.mkdtemp(dir=self.dir)

    def path(self, name):
        return os.path.join(self.sub, name)

    def study(self, name, body=None, raw=None):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(raw if raw is not None else json.dumps(body))
        return p

    def one_error(self, p, code, *needles):
        self.assertEqual(p.returncode, code, p.stderr[-3000:])
        lines = error_lines(p.stderr)
        self.assertEqual(len(lines), 1, p.stderr[-3000:])
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertNotIn("HDF5-DIAG", p.stderr)
        self.assertNotIn("Sanitizer", p.stderr)
        return lines[0]

    def start(self, *args):
        """civitas in the background, stderr to a file (read with self.stderr_of)."""
        err = open(self.path(f"stderr{time.monotonic_ns()}.txt"), "w+")
        p = subprocess.Popen([ARGS.civitas, *args], stdout=subprocess.DEVNULL, stderr=err, text=True,
                             preexec_fn=limit_memory)
        p.err_file = err
        return p

    def stderr_of(self, p):
        p.err_file.seek(0)
        return p.err_file.read()

    def finish(self, p, timeout=120):
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail(f"civitas did not exit within {timeout} s: {self.stderr_of(p)[-2000:]}")
        err = self.stderr_of(p)
        p.err_file.close()
        return rc, err

    def wait_for(self, cond, what, timeout=120, p=None, pause=0.005):
        t0 = time.monotonic()
        while not cond():
            if p is not None and p.poll() is not None:
                self.fail(f"civitas exited ({p.returncode}) before {what}: {self.stderr_of(p)[-2000:]}")
            if time.monotonic() - t0 > timeout:
                self.fail(f"no {what} within {timeout} s")
            time.sleep(pause)

    # --- one writer per output -------------------------------------------------------------------
    def test_concurrent_writers(self):
        out = self.path("shared.h5")
        first = self.start("run", self.free, "--scale", "0.01", "--steps", "3000", "--threads", "1", "-o", out)
        self.wait_for(lambda: "civitas: running study" in self.stderr_of(first), "running line", p=first)
        second = civitas("run", self.base, "--population", self.pop, "--steps", "5", "-o", out, "-q", timeout=120)
        self.one_error(second, 4, out, "another process is writing this output")
        first.send_signal(signal.SIGINT)
        rc, err = self.finish(first)
        self.assertEqual(rc, 130, err)
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["status"], "interrupted")
            self.assertEqual(f["timeseries/susceptible"].shape[0], f.attrs["steps_completed"])
        self.assertFalse(os.path.exists(out + ".partial"))
        # the output free again: a later run replaces it whole
        p = civitas("run", self.base, "--population", self.pop, "--steps", "3", "-o", out, "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as f:
            self.assertEqual((f.attrs["status"], f.attrs["steps_completed"]), ("complete", 3))

    # --- write errors ----------------------------------------------------------------------------
    def tmpfs(self, size_kib):
        if os.geteuid() != 0:
            self.skipTest("a full file system is simulated with a small tmpfs, which needs root to mount")
        mnt = tempfile.mkdtemp(dir=self.sub)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", mnt], capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here ({p.stderr.strip()})")
        self.addCleanup(lambda: subprocess.run(["umount", "-l", mnt]))
        return mnt

    @staticmethod
    def fill(mnt):
        """Takes every free byte of the file system."""
        with open(os.path.join(mnt, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e

    def no_space(self, p, mnt, named, keep=("filler",)):
        line = self.one_error(p, 4, named, "No space left on device")
        self.assertEqual(sorted(os.listdir(mnt)), sorted(keep), line)

    def test_full_file_system_from_the_start(self):
        mnt = self.tmpfs(512)
        self.fill(mnt)
        out = os.path.join(mnt, "out.h5")
        self.no_space(civitas("run", self.base, "--population", self.pop, "--steps", "5", "-o", out, "-q"), mnt, out)
        self.no_space(civitas("synth", "--scale", "0.001", "-o", out, "-q"), mnt, out)
        self.no_space(civitas("ensemble", self.free, "--scale", "0.001", "--seeds", "2", "--steps", "5", "-o", out, "-q"),
                      mnt, out)
        self.no_space(civitas("plot", self.run_file, "-o", os.path.join(mnt, "p.svg")), mnt, "p.svg")
        self.no_space(civitas("report", self.run_file, "-o", os.path.join(mnt, "rep")), mnt, "rep")
        cal = os.path.join(mnt, "cal.json")
        self.no_space(civitas("calibrate", self.fit, "--scale", "0.001", "--particles", "10", "--generations", "1",
                              "--max-simulations", "10", "--fit-until", "2020-03-28", "--threads", "1", "-o", cal, "-q"),
                      mnt, "cal")

    def test_full_file_system_part_way(self):
        mnt = self.tmpfs(256)   # a run file of 60 days at scale 0.01 needs about 300 KiB
        out = os.path.join(mnt, "out.h5")
        p = civitas("run", self.base, "--scale", "0.01", "--steps", "60", "--threads", "1", "-o", out, "-q")
        line = self.one_error(p, 4, out, "No space left on device")
        self.assertIn("cannot write day", line)
        self.assertEqual(os.listdir(mnt), [])
        mnt = self.tmpfs(256)
        out = os.path.join(mnt, "pop.h5")
        self.no_space(civitas("synth", "--scale", "0.01", "-o", out, "-q"), mnt, out, keep=())

    def test_dev_full_and_closed_pipe(self):
        with open("/dev/full", "w") as full:
            p = subprocess.run([ARGS.civitas, "info", self.run_file], stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=120)
        self.one_error(p, 4, "standard output", "No space left on device")
        for args in (["run", self.base, "--population", self.pop, "--steps", "2", "-q"], ["plot", self.run_file],
                     ["synth", "--scale", "0.001", "-q"]):
            self.one_error(civitas(*args, "-o", "/dev/full"), 4, "/dev/full", "not a regular file")
        r, w = os.pipe()
        os.close(r)   # nobody reads: every write is EPIPE (civitas must not die of SIGPIPE)
        try:
            p = subprocess.run([ARGS.civitas, "info", self.run_file], stdout=w, stderr=subprocess.PIPE, text=True,
                               timeout=120)
        finally:
            os.close(w)
        self.one_error(p, 4, "standard output", "Broken pipe")

    # --- kills -----------------------------------------------------------------------------------
    def test_kills_at_random_moments(self):
        out = self.path("killed.h5")
        args = ["run", self.base, "--scale", "0.01", "--steps", "40", "--threads", "1", "-o", out, "-q"]
        t0 = time.monotonic()
        p = civitas(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        whole = time.monotonic() - t0
        rng = random.Random(14)
        delays = [0.0, 0.01, 0.05] + [rng.uniform(0, 1.1 * whole) for _ in range(9)]
        for delay in delays:
            if os.path.exists(out):
                os.remove(out)
            proc = subprocess.Popen([ARGS.civitas, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            proc.kill()
            proc.wait()
            if os.path.exists(out):   # only a run that finished may leave a file under the output's name
                with h5py.File(out, "r") as f:
                    self.assertEqual((f.attrs["status"], f.attrs["steps_completed"]), ("complete", 40),
                                     f"killed after {delay:.3f} s")
            partial = out + ".partial"
            if os.path.exists(partial) and os.path.getsize(partial) > 0:
                try:   # usually readable; if so, it says how far it got
                    with h5py.File(partial, "r") as f:
                        done = int(f.attrs["steps_completed"])
                        self.assertIn(f.attrs["status"], ("running", "complete"))
                        self.assertLessEqual(done, f["timeseries/susceptible"].shape[0])
                except OSError:
                    pass
        p = civitas(*args)   # a stale partial file does not stand in the way
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(out + ".partial"))

    def test_killed_synthesis(self):
        out = self.path("pop.h5")
        rng = random.Random(7)
        for delay in [0.0] + [rng.uniform(0, 0.6) for _ in range(4)]:
            proc = subprocess.Popen([ARGS.civitas, "synth", "--scale", "0.05", "-o", out, "-q"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            proc.kill()
            proc.wait()
            if os.path.exists(out):
                p = civitas("info", out)
                self.assertEqual(p.returncode, 0, p.stderr)
                os.remove(out)

    # --- inputs: special files, limits, JSON ------------------------------------------------------
    def test_special_files_are_refused_by_name(self):
        fifo = self.path("fifo")
        os.mkfifo(fifo)
        cases = [
            (["run", self.sub], self.sub, "a directory"),
            (["run", fifo], fifo, "FIFO"),
            (["run", "/dev/null"], "/dev/null", "character device"),
            (["run", self.study("zero_model.json", {"base": self.base, "model": "/dev/zero"})], "/dev/zero",
             "character device"),
            (["run", self.study("fifo_base.json", {"base": fifo, "name": "x"})], fifo, "FIFO"),
            (["run", self.base, "--population", fifo], fifo, "FIFO"),
            (["run", self.study("fifo_obs.json", {"base": self.base, "observed": {"file": fifo}})], fifo, "FIFO"),
            (["run", self.base, "--population", self.pop, "--llm", "replay", "/dev/zero"], "/dev/zero",
             "character device"),
            (["info", fifo], fifo, "FIFO"),
            (["plot", "/dev/zero"], "/dev/zero", "character device"),
            (["report", fifo], fifo, "FIFO"),
        ]
        for args, named, kind in cases:
            extra = ["--steps", "2", "-q", "-o", self.path("o.h5")] if args[0] == "run" else []
            if args[0] == "report":
                extra = ["-o", self.path("rep")]
            p = civitas(*args, *extra, timeout=60)
            self.one_error(p, 3, named, kind)
        # a data file of the synthesis that is a FIFO
        data = self.path("data")
        shutil.copytree(os.path.join(ARGS.source, "data"), data)
        os.remove(os.path.join(data, "nyc_laus_monthly_by_borough.csv"))
        os.mkfifo(os.path.join(data, "nyc_laus_monthly_by_borough.csv"))
        self.one_error(civitas("synth", "--data", data, "--scale", "0.001", "-o", self.path("p.h5"), "-q", timeout=60),
                       3, "nyc_laus_monthly_by_borough.csv", "FIFO")

    def test_input_size_limits(self):
        big = self.study("big.json", {"base": self.base, "note": "x" * (5 << 20)})
        self.one_error(civitas("run", big, "--steps", "2", "-q", "-o", self.path("o.h5")), 3, big, "4 MiB")
        huge = self.path("observed.csv")
        with open(huge, "wb") as f:
            f.truncate(65 << 20)   # sparse: no disk used
        s = self.study("huge_obs.json", {"base": self.base, "observed": {"file": huge}})
        self.one_error(civitas("run", s, "--population", self.pop, "--steps", "2", "-q", "-o", self.path("o.h5")), 3,
                       huge, "64 MiB")

    def test_duplicate_keys_nul_escapes_and_overflow(self):
        s = self.study("dup.json", raw='{"base": "%s",\n  "seed": 1,\n  "seed": "x"}' % self.base)
        line = self.one_error(civitas("run", s, "--steps", "2", "-q", "-o", self.path("o.h5")), 3, s, ":3:", "line 2",
                              "'seed'", "duplicate key")
        s = self.study("dup_nested.json", raw='{"base": "%s", "testing": {"seek_probability": 0.3,\n'
                                              '"seek_probability": 0.2}}' % self.base)
        self.one_error(civitas("run", s, "--steps", "2", "-q", "-o", self.path("o.h5")), 3, s, ":2:",
                       "'testing.seek_probability'", "duplicate key")
        s = self.study("nul.json", raw='{"base": "%s", "start_date": "2020-03-01\\u0000junk"}' % self.base)
        self.one_error(civitas("run", s, "--steps", "2", "-q", "-o", self.path("o.h5")), 3, s, "'start_date'", "\\u0000")
        s = self.study("inf.json", raw='{"base": "%s", "initial_infections": {"per_100k": 1e309}}' % self.base)
        line = self.one_error(civitas("run", s, "--steps", "2", "-q", "-o", self.path("o.h5")), 3, s, "1e309",
                              "'initial_infections.per_100k'")
        self.assertNotIn("null", line)
        s = self.study("raw_nul.json", raw='{"base": "%s"}\0{"seed": 2}' % self.base)
        self.one_error(civitas("run", s, "--steps", "2", "-q", "-o", self.path("o.h5")), 3, s, "NUL")
        self.assertFalse(os.path.exists(self.path("o.h5")))

    def test_overrides_do_not_hide_the_study_values(self):
        o = ["-q", "-o", self.path("o.h5")]
        data = os.path.join(ARGS.source, "data")
        cases = [({"steps": "5"}, ["--steps", "2"], "'steps'"),
                 ({"seed": -1}, ["--seed", "3"], "'seed'"),
                 ({"population": {"synthesize": {"data_dir": data, "scale": True}}}, ["--scale", "0.001"],
                  "'population.synthesize.scale'"),
                 ({"population": {"file": 5}}, ["--population", self.pop], "'population.file'"),
                 ({"output": {"file": 7}}, [], "'output.file'")]
        for body, args, needle in cases:
            s = self.study("ov.json", dict({"base": self.base}, **body))
            self.one_error(civitas("run", s, *args, "--steps", "2", *o), 3, s, needle)
        s = self.study("empty.json", {})
        self.one_error(civitas("run", s, "--scale", "0.01", *o), 3, s, "missing required field 'name'")

    # --- outputs and inputs ----------------------------------------------------------------------
    def test_outputs_never_replace_inputs(self):
        pop = self.path("pop.h5")
        shutil.copy(self.pop, pop)
        run = self.path("run.h5")
        shutil.copy(self.run_file, run)
        os.link(run, self.path("hard.h5"))
        os.symlink(run, self.path("soft.h5"))
        study = self.study("s.json", {"base": self.base, "name": "s"})
        fit = self.study("fit.json", {"base": self.fit, "name": "fit"})
        before = {f: digest(f) for f in (pop, run, study, fit)}
        cases = [(["run", self.base, "--population", pop, "--steps", "2", "-q", "-o", pop], pop),
                 (["run", study, "--population", self.pop, "--steps", "2", "-q", "-o", study], study),
                 (["plot", run, "-o", run], run),
                 (["plot", run, "-o", self.path("hard.h5")], "hard.h5"),
                 (["plot", run, "-o", self.path("soft.h5")], "soft.h5"),
                 (["ensemble", study, "--seeds", "2", "--scale", "0.001", "--steps", "2", "-o", study], study),
                 (["calibrate", fit, "--scale", "0.001", "-q", "-o", fit], fit)]
        for args, named in cases:
            p = civitas(*args)
            line = self.one_error(p, 4, named, "would replace it")
            self.assertNotIn("run 1/", p.stderr, line)
        # a report's plot named like one of its inputs
        rep = self.path("rep")
        os.mkdir(rep)
        inside = os.path.join(rep, "run1_cases.svg")
        shutil.copy(self.run_file, inside)
        self.one_error(civitas("report", inside, "-o", rep), 4, "run1_cases.svg", "would replace it")
        self.assertEqual(digest(inside), digest(self.run_file))
        self.assertEqual({f: digest(f) for f in before}, before)

    def test_outputs_checked_before_long_work(self):
        missing = self.path("missing")
        p = civitas("ensemble", self.free, "--seeds", "3", "--scale", "0.001", "--steps", "5", "-o",
                    os.path.join(missing, "e.h5"))
        self.one_error(p, 4, "missing", "does not exist")
        self.assertNotIn("run 1/", p.stderr)
        p = civitas("calibrate", self.fit, "--scale", "0.001", "--particles", "10", "--generations", "1",
                    "--max-simulations", "10", "--fit-until", "2020-03-28", "-o", os.path.join(missing, "c.json"))
        self.one_error(p, 4, "missing", "does not exist")
        self.assertNotIn("generation 0", p.stderr)
        p = civitas("synth", "--scale", "0.001", "-o", os.path.join(missing, "p.h5"))
        self.one_error(p, 4, "missing", "does not exist")
        self.assertNotIn("synthesizing", p.stderr)
        os.mkdir(missing)
        os.mkdir(os.path.join(missing, "e.h5"))   # a directory where the output file should go
        p = civitas("ensemble", self.free, "--seeds", "3", "--scale", "0.001", "--steps", "5", "-o",
                    os.path.join(missing, "e.h5"))
        self.one_error(p, 4, "e.h5", "is a directory")
        self.assertNotIn("run 1/", p.stderr)

    # --- signals ---------------------------------------------------------------------------------
    def interrupt(self, args, sig, leftovers, settle=0.0):
        p = self.start(*args)
        # polled without pausing: plot and info are done within milliseconds of installing it
        self.wait_for(lambda: handler_installed(p.pid), "signal handler", p=p, pause=0)
        time.sleep(settle)
        t0 = time.monotonic()
        p.send_signal(sig)
        rc, err = self.finish(p)
        took = time.monotonic() - t0
        self.assertEqual(rc, 130, f"{args[0]}: {err[-2000:]}")
        lines = error_lines(err)
        self.assertEqual(len(lines), 1, err[-2000:])
        self.assertIn("interrupted", lines[0])
        self.assertLess(took, 10, f"{args[0]} took {took:.1f} s to stop")
        for f in leftovers:
            self.assertFalse(os.path.exists(f), f"{args[0]} left {f}")
            self.assertFalse(os.path.exists(f + ".partial"), f"{args[0]} left {f}.partial")
        return err

    def test_signals_stop_every_command(self):
        pop = self.path("p.h5")
        self.interrupt(["synth", "--scale", "1", "-o", pop], signal.SIGINT, [pop])
        self.interrupt(["synth", "--scale", "1", "-o", pop], signal.SIGTERM, [pop], settle=0.5)
        rep = self.path("rep")
        self.interrupt(["report", *[self.run_file] * 6, "-o", rep], signal.SIGTERM, [rep, os.path.join(rep, "report.md")])
        ens = self.path("e.h5")
        self.interrupt(["ensemble", self.free, "--seeds", "50", "--scale", "0.01", "--threads", "1", "-o", ens],
                       signal.SIGINT, [ens], settle=0.3)
        cal = self.path("c.json")
        self.interrupt(["calibrate", self.fit, "--scale", "0.001", "--particles", "100", "--generations", "5",
                        "--threads", "1", "-o", cal], signal.SIGTERM, [cal, cal + ".fit.json", self.path("c.posterior.csv")],
                       settle=0.3)
        out = self.path("r.h5")   # before the first day: no file (nothing to keep)
        self.interrupt(["run", self.base, "--scale", "1", "-o", out], signal.SIGINT, [out])
        svg = self.path("x.svg")
        self.interrupt(["plot", self.run_file, "-o", svg], signal.SIGINT, [])
        self.assertFalse(os.path.exists(svg + ".partial"))
        self.interrupt(["info", self.run_file], signal.SIGTERM, [])

    # --- HDF5 types and shapes, messages ---------------------------------------------------------
    def edited(self, src, name, edit):
        dst = self.path(name)
        shutil.copy(src, dst)
        with h5py.File(dst, "r+") as f:
            edit(f)
        return dst

    def test_wrong_typed_hdf5(self):
        vlen_array = np.array(["civitas-population/3", "x"], dtype=h5py.string_dtype())
        o = ["--steps", "2", "-q", "-o", self.path("o.h5")]

        def replace(name, data):
            def edit(f):
                del f[name]
                f[name] = data
            return edit

        pop = self.edited(self.pop, "schema.h5", lambda f: f.attrs.__setitem__("schema", vlen_array))
        self.one_error(civitas("run", self.base, "--population", pop, *o), 3, "schema", "array of shape (2,)")
        self.one_error(civitas("info", pop), 3, "schema", "array of shape (2,)")
        pop = self.edited(self.pop, "negative.h5", lambda f: f.attrs.__setitem__("n_agents", -5))
        self.one_error(civitas("run", self.base, "--population", pop, *o), 3, "n_agents = -5")
        n = int(h5py.File(self.pop, "r").attrs["n_agents"])
        pop = self.edited(self.pop, "float_age.h5", replace("agents/age", np.full(n, 30.7)))
        self.one_error(civitas("run", self.base, "--population", pop, *o), 3, "agents/age", "float64")
        pop = self.edited(self.pop, "count_array.h5", lambda f: f.attrs.__setitem__("n_places", [1, 2, 3]))
        self.one_error(civitas("info", pop), 3, "n_places", "array of shape (3,)")

        run = self.edited(self.run_file, "run_schema.h5", lambda f: f.attrs.__setitem__("schema", vlen_array))
        for cmd in (["info", run], ["plot", run, "-o", self.path("x.svg")], ["report", run, "-o", self.path("r")]):
            self.assertEqual(civitas(*cmd).returncode, 3)
        run = self.edited(self.run_file, "run_steps.h5", lambda f: f.attrs.__setitem__("steps_completed", [20, 20]))
        self.one_error(civitas("info", run), 3, "steps_completed", "array of shape (2,)")
        run = self.edited(self.run_file, "run_steps_text.h5", lambda f: f.attrs.__setitem__("steps_completed", "20"))
        self.one_error(civitas("plot", run, "-o", self.path("x.svg")), 3, "steps_completed", "string")
        run = self.edited(self.run_file, "run_shape.h5",
                          replace("timeseries/new_infections", np.zeros((20, 5), np.int32)))
        self.one_error(civitas("info", run), 3, "new_infections", "shape (20, 5)")
        run = self.edited(self.run_file, "run_float.h5",
                          replace("timeseries/new_reported_cases", np.zeros((20, 5, 8))))
        self.one_error(civitas("info", run), 3, "new_reported_cases", "float64")
        run = self.edited(self.run_file, "run_observed.h5", replace("observed/cases", np.zeros((20, 5, 2), np.int32)))
        self.one_error(civitas("report", run, "-o", self.path("r")), 3, "observed/cases", "shape (20, 5, 2)")
        run = self.edited(self.run_file, "run_llm.h5", replace("llm/refresh_step", np.zeros((3, 2), np.int32)))
        self.assertEqual(civitas("info", run).returncode, 0)

    def test_long_path_keeps_its_reason(self):
        long_study = os.path.join(self.sub, "s" * 5000 + ".json")
        line = self.one_error(civitas("run", long_study, "-q"), 3)
        self.assertTrue(line.endswith("File name too long"), line)
        line = self.one_error(civitas("run", self.base, "--population", self.pop, "--steps", "2", "-q", "-o",
                                      os.path.join(self.sub, "o" * 5000 + ".h5")), 4)
        self.assertTrue(line.endswith("File name too long"), line)


if __name__ == "__main__":
    SANITIZED = False
    args, _ = civtest.parse_args()
    try:
        SANITIZED = b"libasan" in subprocess.run(["ldd", args.civitas], capture_output=True).stdout
    except OSError:
        pass
    civtest.main(sys.modules[__name__])
