#!/usr/bin/env python3
"""Acceptance check: does a simulated New York City spring 2020 match what DOHMH observed?

Usage (run with /usr/bin/python3: h5py, numpy, pandas):
  nyc_acceptance.py RESULT.h5 [--study NAME] [--scale X] [--data-dir DIR] [--fit-json FIT.json [--restart FIT2.json]]
                    [--allow-partial]

RESULT.h5 is an ensemble file of `civitas ensemble` (schema civitas-ensemble/2 or /1; /runs/<variable>
[run][day][borough][age band]) or one run file of `civitas run` (schema civitas-trajectory/1;
/timeseries/<variable>[day][borough][age band]), read as an ensemble of one. An ensemble holding
several studies is read for its base study (the first given to `civitas ensemble`) unless --study
names another. Every criterion is computed for each run; the line shows the median
over runs with the 5-95% range (numpy.quantile, linear, as `civitas ensemble` writes its summaries)
and PASS/FAIL is judged on the median. Exit status: 0 every criterion passes, 1 some criterion fails
or is not covered by the run, 2 usage, 3 bad input, 4 unreadable file.

Units. Simulated counts are in sample units; they are divided by the population scale (the study's
population_scale attribute of its /summary group, population.synthesize.scale from config_json, the population file's 'scale' attribute, the
run file's population_scale attribute, or --scale) to give real-city counts, as `civitas report`
does. Rates per 100k and shares are scale-free: the simulated denominator is the number of agents per
borough and age band (the sum of the nine stage variables susceptible..dead on the first day), the
observed one is DOHMH's 2019 population (nyc_borough_population_age_sex_dohmh.csv). The synthesized
city (ACS, 8.44 million) is about 1.3% larger than DOHMH's denominators (8.34 million).

Observed figures (DIR defaults to the repository's data/ folder):
- Cases, hospital admissions and deaths: nyc_covid_daily_by_borough.csv, summed over the window's
  days. Cases = confirmed_cases + probable_cases by diagnosis date; admissions = hospitalized (by
  admission date, a person counted once); deaths = deaths (confirmed and probable, by date of death).
  Borough = borough of residence; citywide = the NYC rows. Simulated: new_reported_cases (the day the
  positive result is reported, not the diagnosis date), new_hospitalisations, new_deaths.
- Deaths per 100k by borough: borough deaths over the borough's population (dimension 'total').
  Rank agreement: Spearman correlation (ties take their mean rank) of simulated and observed rates
  over the five boroughs; with five boroughs >= 0.9 allows one swap of neighbours.
- Deaths by age: nyc_covid_weekly_rates_by_age.csv, death_rate_per_100k per DOHMH age group (weeks
  Sunday-Saturday labelled by the Saturday). Each week's rate is spread evenly over its seven days,
  so a window that cuts a week takes its share (2020-06-28..30 = 3/7 of the week ending 2020-07-04).
  Deaths per 100k in a group = sum of its daily rates over the window. Deaths in a group = that rate
  x the group's citywide population / 1e5 (population = sum over boroughs of dimension 'age'; 0_17 =
  0-4 + 5-12 + 13-17). An empty (suppressed, 1-4 deaths) week is taken as 2.5 deaths. Share of deaths
  aged 75+ = deaths 75+ / deaths summed over all eight groups. The simulated output bands must be able
  to form the DOHMH groups (edges 45, 55, 65, 75 for the rates; 75 for the share).
- Share ever infected by 2020-04-14: simulated 1 - susceptible / agents at the end of 2020-04-14
  (initial infections included); target 19-26.5% (NY State serosurvey, Apr 19-28: 22.7%, 95% CI
  21.5-24.0, read about two weeks of antibody delay earlier).
- Information only, city-wide: test positivity in April 2020 (tests were rationed), simulated reported
  cases / new_tests against DOHMH's people positive / people tested (molecular, nyc_tests_daily.csv).
- Information only, per borough: the share of adults ever infected by 2020-08-04 against the share positive
  among people who had an antibody test by 2020-08-18 (DOHMH, nyc_antibody_tests_by_borough_2020_snapshots.csv;
  the tested chose or were sent to be tested, so the levels are biased and the borough order is what counts).
- Held out: reported cases in each of June, July and August 2020 within a factor of 2 of observed
  (each month, not only the three-month total, so that a false wave in one month cannot hide).
- --fit-json: every fitted parameter's restarts within 10% of each other ((max - min) / min), or the
  parameter reports a posterior width (a 'posterior' object with 'p05' and 'p95'). The restarts are a
  'restarts' list in the record, or the posterior medians of the record and of each --restart record
  (another calibration of the same study with another seed); their spread is printed either way.

Windows: cumulative 2020-03-01..2020-06-30 unless stated. A run that does not cover a criterion's
window fails it as INCOMPLETE; with --allow-partial it is judged on the days it covers (observed
figures restricted to the same days) and marked 'partial'.
"""
import argparse
import datetime as dt
import json
import os
import sys

import numpy as np
import pandas as pd

try:
    import h5py
except ImportError:  # pragma: no cover
    sys.exit("nyc_acceptance.py: needs h5py (run with /usr/bin/python3)")

BOROUGHS = ["BX", "BK", "MN", "QN", "SI"]
STAGES = ["susceptible", "exposed", "presymptomatic", "asymptomatic", "mild", "severe", "hospitalised",
          "recovered", "dead"]
WINDOW = (dt.date(2020, 3, 1), dt.date(2020, 6, 30))
SERO_DAY = dt.date(2020, 4, 14)
HELD_OUT = [("June", dt.date(2020, 6, 1), dt.date(2020, 6, 30)), ("July", dt.date(2020, 7, 1), dt.date(2020, 7, 31)),
            ("August", dt.date(2020, 8, 1), dt.date(2020, 8, 31))]
# DOHMH age groups of the death series: (label in the rates file, lower edge, upper edge exclusive or None)
DOHMH_GROUPS = [("0_17", 0, 18), ("18_24", 18, 25), ("25_34", 25, 35), ("35_44", 35, 45), ("45_54", 45, 55),
                ("55_64", 55, 65), ("65_74", 65, 75), ("75+", 75, None)]
POP_GROUPS = {"0_17": ["0-4", "5-12", "13-17"], "18_24": ["18-24"], "25_34": ["25-34"], "35_44": ["35-44"],
              "45_54": ["45-54"], "55_64": ["55-64"], "65_74": ["65-74"], "75+": ["75+"]}
SUPPRESSED_DEATHS = 2.5
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "data")


class InputError(Exception):
    """Bad input: exit 3 (or 4 when the file cannot be read at all)."""
    def __init__(self, msg, code=3):
        super().__init__(msg)
        self.code = code


# ---------------------------------------------------------------------------------------------
# observed

# series shown for information when the file has them
OPTIONAL = ["new_deaths_outside_hospital", "new_deaths_in_care_home", "new_tests"]
PLACE_OF_DEATH_SNAPSHOT = "2020-06-30"
CARE_HOME_DEATHS_REPORT = "2020-07-02"   # the first NYS DOH nursing-home report after the window
ANTIBODY_SNAPSHOT = "2020-08-18"   # the first DOHMH antibody-by-borough file
ANTIBODY_DAY = dt.date(2020, 8, 4)   # infected two weeks before (antibody delay)
POSITIVITY_MONTH = (dt.date(2020, 4, 1), dt.date(2020, 4, 30))   # tests rationed: positivity shows who got them


class Observed:
    """DOHMH series: daily counts per borough, daily death rates per age group, populations."""

    def __init__(self, data_dir):
        self.data_dir = data_dir

        def read(name, **kw):
            path = os.path.join(data_dir, name)
            try:
                return pd.read_csv(path, **kw)
            except FileNotFoundError:
                raise InputError(f"{path}: cannot open observed data file", 4)
            except (ValueError, pd.errors.ParserError) as e:
                raise InputError(f"{path}: cannot parse: {e}")

        def need(df, name, cols):
            missing = [c for c in cols if c not in df.columns]
            if missing:
                raise InputError(f"{os.path.join(data_dir, name)}: missing column(s) {', '.join(missing)}")

        f = "nyc_covid_daily_by_borough.csv"
        d = read(f)
        need(d, f, ["date", "borough", "confirmed_cases", "probable_cases", "hospitalized", "deaths"])
        d["date"] = pd.to_datetime(d["date"]).dt.date
        d["cases"] = d["confirmed_cases"] + d["probable_cases"]
        self.daily = {g: x.set_index("date")[["cases", "hospitalized", "deaths"]].astype(float)
                      for g, x in d.groupby("borough")}
        for g in BOROUGHS + ["NYC"]:
            if g not in self.daily:
                raise InputError(f"{os.path.join(data_dir, f)}: no rows for borough {g}")

        f = "nyc_borough_population_age_sex_dohmh.csv"
        p = read(f)
        need(p, f, ["borough", "dimension", "group", "population"])
        tot = p[p["dimension"] == "total"].set_index("borough")["population"]
        self.pop_borough = {b: float(tot[b]) for b in BOROUGHS}
        age = p[p["dimension"] == "age"].groupby("group")["population"].sum()
        self.pop_group = {}
        for g, parts in POP_GROUPS.items():
            missing = [x for x in parts if x not in age.index]
            if missing:
                raise InputError(f"{os.path.join(data_dir, f)}: no age group {missing[0]}")
            self.pop_group[g] = float(sum(age[x] for x in parts))

        f = "nyc_covid_weekly_rates_by_age.csv"
        a = read(f)
        need(a, f, ["week_ending", "age_group", "death_rate_per_100k"])
        a["week_ending"] = pd.to_datetime(a["week_ending"]).dt.date
        self.daily_death_rate = {}   # group -> {date: deaths per 100k that day}
        for g, _, _ in DOHMH_GROUPS:
            rows = a[a["age_group"] == g]
            if rows.empty:
                raise InputError(f"{os.path.join(data_dir, f)}: no rows for age_group {g}")
            fill = SUPPRESSED_DEATHS / self.pop_group[g] * 1e5
            per_day = {}
            for we, r in zip(rows["week_ending"], rows["death_rate_per_100k"]):
                r = fill if pd.isna(r) else float(r)
                for k in range(7):
                    per_day[we - dt.timedelta(days=k)] = r / 7
            self.daily_death_rate[g] = per_day

    def _read_table(self, name):
        """A data file read on demand (for information lines): its path and its rows."""
        path = os.path.join(self.data_dir, name)
        try:
            return path, pd.read_csv(path)
        except (OSError, ValueError) as e:
            raise InputError(f"{path}: cannot read ({e})", 4)

    def outside_hospital_share(self):
        """Percent of NYC deaths (confirmed + probable, place known) not in a hospital or emergency room."""
        path, d = self._read_table("nyc_deaths_by_location_2020_snapshots.csv")
        d = d[(d.snapshot_date == PLACE_OF_DEATH_SNAPSHOT) & (d.borough == "NYC") &
              (d.location_of_death != "Data pending")]
        n = d.confirmed_deaths_cum + d.probable_deaths_cum
        hosp = n[d.location_of_death == "Hospital/Emergency room"].sum()
        return 100 * (1 - hosp / n.sum()) if n.sum() > 0 else float("nan")

    def care_home_deaths(self, borough):
        """COVID-19 deaths in the borough's nursing homes, in the facility (confirmed + presumed), as New York
        State reported them on CARE_HOME_DEATHS_REPORT."""
        path, d = self._read_table("ny_ltc_deaths_in_facility_by_borough_ctp.csv")
        d = d[(d.date == CARE_HOME_DEATHS_REPORT) & (d.geo == borough) & (d.facility_category == "nursing_home")]
        if len(d) != 1:
            raise InputError(f"{path}: no nursing_home row for {borough} on {CARE_HOME_DEATHS_REPORT}")
        return float(d.deaths_confirmed_in_facility_cum.iloc[0] + d.deaths_presumed_in_facility_cum.iloc[0])

    def antibody_positive(self, borough):
        """Percent positive among people who had an antibody test, by borough, at ANTIBODY_SNAPSHOT."""
        path, d = self._read_table("nyc_antibody_tests_by_borough_2020_snapshots.csv")
        d = d[(d.snapshot_date == ANTIBODY_SNAPSHOT) & (d.borough == borough)]
        if len(d) != 1:
            raise InputError(f"{path}: no row for {borough} on {ANTIBODY_SNAPSHOT}")
        return 100 * float(d.fraction_positive.iloc[0])

    def positivity(self, days):
        """Percent of the people tested (molecular) on these days who were positive, city-wide."""
        path, d = self._read_table("nyc_tests_daily.csv")
        if not {"date", "borough", "people_tested_molecular", "people_positive_molecular"} <= set(d.columns):
            raise InputError(f"{path}: missing column(s): needs date, borough, people_tested_molecular, "
                             "people_positive_molecular")
        d = d[(d.borough == "NYC") & pd.to_datetime(d.date).dt.date.isin(set(days))]
        tested = d.people_tested_molecular.sum()
        if len(d) != len(days) or tested <= 0:
            raise InputError(f"{path}: no NYC tests on every day of {days[0]}..{days[-1]}")
        return 100 * float(d.people_positive_molecular.sum() / tested)

    def count(self, geo, var, days):
        s = self.daily[geo][var]
        return float(s.reindex(days).fillna(0).sum())

    def age_rate(self, group, days):
        r = self.daily_death_rate[group]
        return float(sum(r.get(d, 0.0) for d in days))

    def age_deaths(self, group, days):
        return self.age_rate(group, days) * self.pop_group[group] / 1e5

    def covers(self, days, ages=True):
        """Whether every day has a daily-series row (and, with ages, an age-rate week)."""
        idx = set(self.daily["NYC"].index)
        return all(d in idx and (not ages or d in self.daily_death_rate["75+"]) for d in days)


# ---------------------------------------------------------------------------------------------
# simulated

def _strings(ds):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in ds[()]]


def _attr(obj, name):
    v = obj.attrs.get(name)
    return v.decode() if isinstance(v, bytes) else v


class Simulated:
    """Series of one study as [run][day][borough][band] arrays, with dates, band edges and scale."""

    def __init__(self, path, study=None, scale=None):
        if not os.path.isfile(path):
            raise InputError(f"{path}: cannot open: no such file", 4)
        try:
            f = h5py.File(path, "r")
        except OSError:
            raise InputError(f"{path}: cannot open: not an HDF5 file or not readable", 4)
        with f:
            schema = _attr(f, "schema")
            if schema in ("civitas-ensemble/1", "civitas-ensemble/2"):
                self._read_ensemble(path, f, study)
            elif schema == "civitas-trajectory/1":
                self._read_run(path, f, study)
            else:
                raise InputError(f"{path}: attribute schema = {schema!r}: expected civitas-ensemble/1 or /2, or "
                                 "civitas-trajectory/1")
        if scale is not None:
            self.scale, self.scale_source = scale, "--scale"
        if self.scale is None:
            raise InputError(f"{path}: {self.scale_why}; give it with --scale")
        if not 0 < self.scale <= 1:
            raise InputError(f"{path}: population scale = {self.scale} is out of range (0, 1]")
        # agents per run, borough and band: every agent is in exactly one stage (dead included)
        self.agents = sum(self.series[v][:, 0].astype(float) for v in STAGES)
        if np.any(self.agents.sum(axis=2) <= 0):
            raise InputError(f"{path}: a run has no agents in some borough (stage variables sum to 0)")

    def _check_layout(self, path, group, names, bands):
        missing = [v for v in STAGES + ["new_deaths", "new_hospitalisations", "new_reported_cases"] if v not in group]
        if missing:
            raise InputError(f"{path}: no dataset {group.name}/{missing[0]}")
        if names != BOROUGHS:
            raise InputError(f"{path}: borough scale = {names}: expected {BOROUGHS}")
        self.edges = []
        for lab in bands:
            try:
                self.edges.append(int(lab.rstrip("+").split("-")[0]))
            except ValueError:
                raise InputError(f"{path}: age band label {lab!r} is not 'A-B' or 'A+'")
        self.band_labels = bands

    def _read_ensemble(self, path, f, study):
        g = f["runs"]
        self._check_layout(path, g, _strings(g["borough"]), _strings(g["age_band"]))
        studies = _strings(g["study"])
        names = list(dict.fromkeys(studies))
        base = _attr(f, "base_study")   # civitas-ensemble/2 names the base study (the first given)
        if study is None and base in names:
            study = base
        if study is None:
            if len(names) > 1:
                raise InputError(f"{path}: holds studies {', '.join(names)}; choose one with --study", 2)
            study = names[0]
        if study not in names:
            raise InputError(f"{path}: no study {study!r} (it holds {', '.join(names)})")
        sel = np.array([s == study for s in studies])
        self.study, self.kind = study, "ensemble"
        self.start = dt.date.fromisoformat(_attr(f, "start_date"))
        self.offsets = g["date"][()].astype(int)
        self.series = {v: g[v][()][sel] for v in STAGES + ["new_deaths", "new_hospitalisations", "new_reported_cases"]}
        self.series.update({v: g[v][()][sel] for v in OPTIONAL if v in g})
        self.seeds = [int(x) for x in g["seed"][()][sel]]
        cfg_text = _attr(f[f"summary/{study}"], "config_json") if f"summary/{study}" in f else None
        self.scale, self.scale_source, self.scale_why = None, "", "no population scale found"
        if f"summary/{study}" in f and "population_scale" in f[f"summary/{study}"].attrs:   # civitas-ensemble/2
            self.scale = float(f[f"summary/{study}"].attrs["population_scale"])
            self.scale_source = f"/summary/{study} attribute population_scale"
            return
        if not cfg_text:
            self.scale_why = f"no config_json attribute on /summary/{study}"
            return
        pop = json.loads(cfg_text).get("study", {}).get("population", {})
        syn, pfile = pop.get("synthesize"), pop.get("file")
        if isinstance(syn, dict):
            self.scale = float(syn.get("scale", 1.0))
            self.scale_source = "config_json population.synthesize.scale"
        elif pfile:
            try:
                with h5py.File(pfile, "r") as pf:
                    self.scale = float(pf.attrs["scale"])
                    self.scale_source = f"population file {os.path.basename(pfile)}"
            except (OSError, KeyError) as e:
                self.scale_why = f"the population file {pfile} named in config_json cannot be read ({e})"

    def _read_run(self, path, f, study):
        g = f["timeseries"]
        self._check_layout(path, g, _strings(g["borough"]), _strings(g["age_band"]))
        self.study, self.kind = _attr(f, "study"), "run"
        if study is not None and study != self.study:
            raise InputError(f"{path}: holds study {self.study!r}, not {study!r}")
        status = _attr(f, "status")
        if status != "complete":
            print(f"nyc_acceptance.py: warning: {path}: run status is {status!r}, not 'complete'", file=sys.stderr)
        self.start = dt.date.fromisoformat(_attr(f, "start_date"))
        self.offsets = g["date"][()].astype(int)
        self.series = {v: g[v][()][None] for v in STAGES + ["new_deaths", "new_hospitalisations", "new_reported_cases"]}
        self.series.update({v: g[v][()][None] for v in OPTIONAL if v in g})
        self.seeds = [int(f.attrs["seed"])]
        self.scale = float(f.attrs["population_scale"]) if "population_scale" in f.attrs else None
        self.scale_source, self.scale_why = "run attribute population_scale", "no population_scale attribute"

    @property
    def n_runs(self):
        return self.series["new_deaths"].shape[0]

    @property
    def dates(self):
        return [self.start + dt.timedelta(days=int(k)) for k in self.offsets]

    def rows(self, lo, hi):
        """Rows inside [lo, hi], their dates, and whether the run covers every day of it."""
        ds = self.dates
        idx = [i for i, d in enumerate(ds) if lo <= d <= hi]
        days = [ds[i] for i in idx]
        return idx, days, len(days) == (hi - lo).days + 1

    def total(self, var, idx, borough=None, bands=None):
        """Per-run sum over the rows, a borough (None: all) and bands (None: all); sample units."""
        x = self.series[var][:, idx].astype(float)
        if borough is not None:
            x = x[:, :, [BOROUGHS.index(borough)]]
        if bands is not None:
            x = x[:, :, :, bands]
        return x.sum(axis=(1, 2, 3))

    def bands_for(self, lo, hi):
        """Output bands that together form [lo, hi) (hi None: lo and above), or None if they cannot."""
        e = self.edges
        if lo not in e or (hi is not None and hi not in e):
            return None
        if hi is None:
            return [k for k in range(len(e)) if e[k] >= lo]
        return [k for k in range(len(e)) if lo <= e[k] < hi]


# ---------------------------------------------------------------------------------------------
# criteria

def spearman(x, y):
    def ranks(v):
        v = np.asarray(v, float)
        order = np.argsort(v, kind="mergesort")
        r = np.empty(len(v))
        r[order] = np.arange(1, len(v) + 1)
        for u in np.unique(v):          # ties take their mean rank
            r[v == u] = r[v == u].mean()
        return r
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


class Line:
    def __init__(self, name, sim, obs, target, ok, fmt, note=""):
        self.name, self.obs, self.target, self.fmt, self.note = name, obs, target, fmt, note
        self.sim = None if sim is None else np.asarray(sim, float)
        self.median = None if sim is None else float(np.quantile(self.sim, 0.5))
        self.lo = None if sim is None else float(np.quantile(self.sim, 0.05))
        self.hi = None if sim is None else float(np.quantile(self.sim, 0.95))
        self.ok = ok

    def result(self, incomplete=False):
        if incomplete:
            return "INCOMPLETE"
        if self.median is None or not np.isfinite(self.median):
            return "FAIL"
        return "PASS" if self.ok(self.median, self.obs) else "FAIL"


def within(frac):
    return lambda s, o: o > 0 and abs(s / o - 1) <= frac + 1e-12


def count(v):
    return f"{v:,.0f}"


def rate(v):
    return f"{v:,.1f}"


def pct(v):
    return f"{v:.1f}%"


def corr(v):
    return f"{v:.2f}"


def evaluate(sim, obs, allow_partial, fit_json=None, restarts=()):
    """Returns the lines as (Line, result) pairs, and notes for the header."""
    out, notes = [], []

    def window(lo, hi, ages=True):
        idx, days, full = sim.rows(lo, hi)
        if not obs.covers(days, ages):
            raise InputError(f"{obs.data_dir}: the observed files do not cover every day of {days[0]}..{days[-1]}")
        note = ""
        if not full:
            ds = sim.dates
            note = (f"run covers only {days[0]}..{days[-1]} of {lo}..{hi}" if days else
                    f"NOT COVERED: the run ({ds[0]}..{ds[-1]}) has no day in {lo}..{hi}")
            if allow_partial and days:
                note = "partial, judged on the covered days: " + note
        incomplete = not full and not (allow_partial and days)
        return idx, days, note, incomplete

    def add(line, incomplete):
        out.append((line, line.result(incomplete)))

    s = 1.0 / sim.scale
    idx, days, wnote, inc = window(*WINDOW)
    if wnote:
        notes.append(f"main window: {wnote}" + ("" if allow_partial else " -> its criteria are INCOMPLETE "
                                                "(--allow-partial judges them on the covered days)"))
    # deaths
    add(Line("deaths, NYC", sim.total("new_deaths", idx) * s, obs.count("NYC", "deaths", days),
             "within +-10%", within(0.10), count), inc)
    for b in BOROUGHS:
        add(Line(f"deaths, {b}", sim.total("new_deaths", idx, b) * s, obs.count(b, "deaths", days),
                 "within +-20%", within(0.20), count), inc)
    # borough death rates and their order
    sim_rates = np.stack([sim.total("new_deaths", idx, b) / sim.agents[:, BOROUGHS.index(b)].sum(axis=1) * 1e5
                          for b in BOROUGHS], axis=1)
    obs_rates = [obs.count(b, "deaths", days) / obs.pop_borough[b] * 1e5 for b in BOROUGHS]
    for k, b in enumerate(BOROUGHS):
        out.append((Line(f"deaths per 100k, {b}", sim_rates[:, k], obs_rates[k], "(order below)",
                         lambda *_: True, rate), "info"))
    order = " > ".join(b for _, b in sorted(zip(obs_rates, BOROUGHS), reverse=True))
    add(Line("borough death-rate rank correlation", [spearman(r, obs_rates) for r in sim_rates], 1.0,
             "Spearman >= 0.9", lambda m, o: m >= 0.9 - 1e-12, corr, f"observed order {order}"), inc)
    # admissions and cases
    add(Line("hospital admissions, NYC", sim.total("new_hospitalisations", idx) * s,
             obs.count("NYC", "hospitalized", days), "within +-15%", within(0.15), count), inc)
    add(Line("reported cases, NYC", sim.total("new_reported_cases", idx) * s, obs.count("NYC", "cases", days),
             "within +-15%", within(0.15), count), inc)
    # per borough (information: the criteria are citywide); reported cases also carry each borough's access
    # to testing, admissions do not
    for var, obs_var, what in (("new_hospitalisations", "hospitalized", "hospital admissions"),
                               ("new_reported_cases", "cases", "reported cases")):
        for b in BOROUGHS:
            out.append((Line(f"{what}, {b}", sim.total(var, idx, b) * s, obs.count(b, obs_var, days), "(information)",
                             lambda *_: True, count), "info"))
    # test positivity in the month tests were rationed (information: with too few people without COVID-19
    # seeking tests, positivity and reported cases run high at a given epidemic)
    pidx, pdays, pfull = sim.rows(*POSITIVITY_MONTH)
    if "new_tests" in sim.series and pfull:
        with np.errstate(invalid="ignore", divide="ignore"):
            share = 100 * sim.total("new_reported_cases", pidx) / sim.total("new_tests", pidx)
        out.append((Line("test positivity, April 2020 (reported cases / tests)", share, obs.positivity(pdays),
                         "(information)", lambda *_: True, pct, "observed: DOHMH molecular tests, people positive / tested"),
                    "info"))
    # share ever infected
    sidx, _, _ = sim.rows(SERO_DAY, SERO_DAY)
    if sidx:
        sus = sim.series["susceptible"][:, sidx[0]].astype(float).sum(axis=(1, 2))
        share = 100 * (1 - sus / sim.agents.sum(axis=(1, 2)))
        add(Line(f"share ever infected by {SERO_DAY}", share, 22.7, "19% to 26.5%",
                 lambda m, o: 19 - 1e-9 <= m <= 26.5 + 1e-9, pct, "observed: serosurvey Apr 19-28"), False)
    else:
        add(Line(f"share ever infected by {SERO_DAY}", None, 22.7, "19% to 26.5%", None, pct,
                 f"run has no day {SERO_DAY}"), True)
    # deaths by age
    for g, lo, hi in DOHMH_GROUPS[4:]:
        bands = sim.bands_for(lo, hi)
        o = obs.age_rate(g, days)
        name = f"deaths per 100k, age {g.replace('_', '-')}"
        if bands is None:
            add(Line(name, None, o, "within +-25%", None, rate,
                     f"output age bands {sim.edges} cannot form {g}"), False)
            continue
        d = sim.total("new_deaths", idx, bands=bands)
        n = sim.agents[:, :, bands].sum(axis=(1, 2))
        add(Line(name, d / n * 1e5, o, "within +-25%", within(0.25), rate), inc)
    bands = sim.bands_for(75, None)
    all_deaths = sum(obs.age_deaths(g, days) for g, _, _ in DOHMH_GROUPS)
    o = 100 * obs.age_deaths("75+", days) / all_deaths
    if bands is None:
        add(Line("share of deaths aged 75+", None, o, "within 7 points", None, pct,
                 f"output age bands {sim.edges} cannot form 75+"), False)
    else:
        tot = sim.total("new_deaths", idx)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = 100 * sim.total("new_deaths", idx, bands=bands) / tot
        add(Line("share of deaths aged 75+", share, o, "within 7 points", lambda m, v: abs(m - v) <= 7 + 1e-9, pct), inc)
    # where deaths happened (information: not a criterion)
    if "new_deaths_outside_hospital" in sim.series:
        with np.errstate(invalid="ignore", divide="ignore"):
            share = 100 * sim.total("new_deaths_outside_hospital", idx) / sim.total("new_deaths", idx)
        out.append((Line("share of deaths outside hospital", share, obs.outside_hospital_share(), "(information)",
                         lambda *_: True, pct, f"observed: DOHMH place of death by {PLACE_OF_DEATH_SNAPSHOT}"), "info"))
    if "new_deaths_in_care_home" in sim.series:
        for b in ["NYC"] + BOROUGHS:
            total = sim.total("new_deaths_in_care_home", idx, None if b == "NYC" else b) * s
            out.append((Line(f"care-home residents' deaths in the home, {b}", total,
                             obs.care_home_deaths(b), "(information)", lambda *_: True, count,
                             f"observed: NYS DOH nursing-home deaths in the facility, report of {CARE_HOME_DEATHS_REPORT}"),
                        "info"))
    # share ever infected by borough against antibody test positivity (information: the tested are not a
    # random sample, so the borough order is what this shows)
    aidx, _, _ = sim.rows(ANTIBODY_DAY, ANTIBODY_DAY)
    if aidx:
        adults = sim.bands_for(18, None)
        for k, b in enumerate(BOROUGHS):
            sus = sim.series["susceptible"][:, aidx[0], k].astype(float)
            n = sim.agents[:, k]
            if adults is not None:
                sus, n = sus[:, adults], n[:, adults]
            share = 100 * (1 - sus.sum(axis=1) / n.sum(axis=1))
            out.append((Line(f"share ever infected by {ANTIBODY_DAY}, {b}{' (18+)' if adults is not None else ''}",
                             share, obs.antibody_positive(b), "(information)", lambda *_: True, pct,
                             f"observed: antibody test positivity to {ANTIBODY_SNAPSHOT} (not a random sample)"),
                        "info"))
    # held out
    for name, lo, hi in HELD_OUT:
        hidx, hdays, hnote, hinc = window(lo, hi, ages=False)
        if not hdays:
            add(Line(f"held out: reported cases, {name} 2020", None, obs.count("NYC", "cases",
                     [lo + dt.timedelta(days=k) for k in range((hi - lo).days + 1)]), "factor 2", None, count,
                     hnote), True)
            continue
        add(Line(f"held out: reported cases, {name} 2020", sim.total("new_reported_cases", hidx) * s,
                 obs.count("NYC", "cases", hdays), "factor 2", lambda m, v: v > 0 and 0.5 <= m / v <= 2, count,
                 hnote), hinc)
    if fit_json:
        out += fit_lines(fit_json, restarts)
    return out, notes


def load_fit(path):
    try:
        with open(path) as fh:
            fit = json.load(fh)
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e.strerror})", 4)
    except ValueError as e:
        raise InputError(f"{path}: not JSON ({e})")
    params = fit.get("parameters") if isinstance(fit, dict) else None
    if not isinstance(params, dict) or not params:
        raise InputError(f"{path}: field 'parameters' is missing or empty")
    return params


def posterior_median(params, name, path):
    p = params.get(name)
    post = p.get("posterior") if isinstance(p, dict) else None
    m = post.get("median") if isinstance(post, dict) else None
    if not isinstance(m, (int, float)):
        raise InputError(f"{path}: field 'parameters.{name}.posterior.median' is missing (is it a calibration of "
                         f"the same study?)")
    return float(m)


def fit_lines(path, restart_paths=()):
    params = load_fit(path)
    others = [(r, load_fit(r)) for r in restart_paths]
    lines = []
    for name, p in params.items():
        post = p.get("posterior") if isinstance(p, dict) else None
        rs = p.get("restarts") if isinstance(p, dict) else None
        if others:
            rs = [posterior_median(params, name, path)] + [posterior_median(o, name, r) for r, o in others]
        width = isinstance(post, dict) and "p05" in post and "p95" in post
        has_restarts = isinstance(rs, list) and len(rs) >= 2 and all(isinstance(x, (int, float)) for x in rs)
        if has_restarts:
            lo, hi = min(rs), max(rs)
            spread = (hi - lo) / abs(lo) if lo != 0 else float("inf")
            agree = spread <= 0.10 + 1e-12
            note = "restarts " + ", ".join(f"{x:.4g}" for x in rs)
            if not agree and width:   # the fallback: the posterior's width is reported
                note += f"; posterior {post['p05']:.4g} .. {post['p95']:.4g}"
            target = "or width reported" if not agree and width else "<= 10%"
            lines.append((Line(f"fit: {name} restarts spread", [100 * spread], None, target, None, pct, note),
                          "PASS" if agree or width else "FAIL"))
        elif width:
            line = Line(f"fit: {name} posterior 5-95%", None, None, "width reported", None, rate,
                        f"posterior {post['p05']:.4g} .. {post['p95']:.4g}")
            lines.append((line, "PASS"))
        else:
            line = Line(f"fit: {name}", None, None, "restarts or posterior", None, rate,
                        "neither >= 2 restarts nor a posterior with p05/p95")
            lines.append((line, "FAIL"))
    return lines


def render(sim, lines, notes):
    runs = f"{sim.n_runs} run{'s' if sim.n_runs != 1 else ''}"
    ds = sim.dates
    print(f"civitas acceptance: study {sim.study}, {runs} ({sim.kind}), days {ds[0]}..{ds[-1]}, "
          f"population scale {sim.scale:g} ({sim.scale_source})")
    print(f"window {WINDOW[0]}..{WINDOW[1]} unless stated; simulated = median [5%, 95%] over runs, real-city units")
    for n in notes:
        print(n)
    w = max(len(l.name) for l, _ in lines)
    print(f"{'criterion':<{w}}  {'simulated':>30}  {'observed':>10}  {'target':<16}  result")
    for l, res in lines:
        if l.median is None:
            simtxt = "-"
        elif l.sim.size == 1:
            simtxt = l.fmt(l.median)
        else:
            simtxt = f"{l.fmt(l.median)} [{l.fmt(l.lo)}, {l.fmt(l.hi)}]"
        obstxt = "-" if l.obs is None else l.fmt(l.obs)
        print(f"{l.name:<{w}}  {simtxt:>30}  {obstxt:>10}  {l.target:<16}  {res}" + (f"  ({l.note})" if l.note else ""))
    judged = [r for _, r in lines if r != "info"]
    bad = [r for r in judged if r != "PASS"]
    print(f"{len(judged) - len(bad)} of {len(judged)} criteria pass" +
          (f"; {len(bad)} fail or are not covered" if bad else ""))
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="nyc_acceptance.py", description=__doc__.split("\n")[0])
    ap.add_argument("result", help="ensemble file (civitas ensemble) or run file (civitas run)")
    ap.add_argument("--study", help="study to check in an ensemble file holding several")
    ap.add_argument("--scale", type=float, help="population scale (overrides the one found in the file)")
    ap.add_argument("--data-dir", default=DEFAULT_DATA, help="folder with the observed CSV files (default: data/)")
    ap.add_argument("--fit-json", help="calibration record (.fit.json) to check the restarts or posterior width")
    ap.add_argument("--restart", action="append", default=[], metavar="FIT.json",
                    help="record of another calibration of the same study (another seed): with --fit-json, each "
                         "parameter's posterior medians are compared (repeatable)")
    ap.add_argument("--allow-partial", action="store_true",
                    help="judge criteria on the days the run covers instead of failing them as incomplete")
    args = ap.parse_args(argv)
    try:
        obs = Observed(args.data_dir)
        sim = Simulated(args.result, args.study, args.scale)
        if args.restart and not args.fit_json:
            raise InputError("--restart compares with the record given by --fit-json; give --fit-json too", 2)
        lines, notes = evaluate(sim, obs, args.allow_partial, args.fit_json, args.restart)
    except InputError as e:
        print(f"nyc_acceptance.py: {e}", file=sys.stderr)
        return e.code
    return render(sim, lines, notes)


if __name__ == "__main__":
    sys.exit(main())
