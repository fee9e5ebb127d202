#!/usr/bin/env python3
"""Derives the time from hospital admission to death (hospital_to_death in models/covid/params.json)
from New York City's own counts, so that anyone can check or redo it:

  /usr/bin/python3 profiling/derive_delays.py [--source .] [--from 2020-03-01] [--until 2020-05-31]

DOHMH counts hospital admissions by admission date and deaths by date of death
(data/nyc_covid_daily_by_borough.csv). If a share f of the people admitted on day t die, k days later
with probability g(k), then deaths(t) = f x sum_k admissions(t - k) g(k). The script fits g as a
lognormal (mean and sd in days, each day's probability the mass within half a day of it, as the model
samples durations) and f by least squares over the fitted window only (2020-03-01 to --until; June on is
held out from calibration; --from and --until change it), city-wide and per borough, and prints the sum of squared errors with the
delay params.json had before (10.7 +- 4.8 days, Verity et al. 2020, from Chinese data) for comparison.

What it does not separate: deaths without an admission (at home, in care homes; about a fifth of the
city's deaths) are in the death counts too, so the fitted delay is the one that makes all deaths follow
admissions, which is what the model's death timing is checked against. f then counts those deaths too
(deaths per admission, not in-hospital mortality)."""
import argparse
import csv
import math
import os

import numpy as np

BOROUGHS = ["NYC", "BX", "BK", "MN", "QN", "SI"]
PREVIOUS = (10.7, 4.8)


def lognormal_pmf(mean, sd, days=60):
    """P(day k) = P(k - 0.5 < X <= k + 0.5) for X lognormal with this mean and sd."""
    s2 = math.log(1 + (sd / mean) ** 2)
    mu, s = math.log(mean) - s2 / 2, math.sqrt(s2)

    def cdf(x):
        return 0.5 * (1 + math.erf((math.log(x) - mu) / (s * math.sqrt(2)))) if x > 0 else 0.0
    return np.array([cdf(k + 0.5) - cdf(k - 0.5) for k in range(days)])


def sse(admissions, deaths, mean, sd):
    """Least-squares deaths per admission f and the sum of squared errors of f x (admissions * g)."""
    expected = np.convolve(admissions, lognormal_pmf(mean, sd))[:len(admissions)]
    f = expected @ deaths / (expected @ expected)
    return float(((deaths - f * expected) ** 2).sum()), float(f)


def fit(admissions, deaths):
    best = None
    for mean in np.arange(3.0, 16.01, 0.25):
        for sd in np.arange(0.5, 10.01, 0.25):
            err, f = sse(admissions, deaths, mean, sd)
            if best is None or err < best[0]:
                best = (err, mean, sd, f)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default=".", help="the civitas checkout (holds data/)")
    ap.add_argument("--from", dest="start", default="2020-03-01", help="first day of the window fitted (ISO date)")
    ap.add_argument("--until", default="2020-05-31", help="last day of the window fitted (ISO date)")
    a = ap.parse_args()
    path = os.path.join(a.source, "data", "nyc_covid_daily_by_borough.csv")
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if a.start <= r["date"] <= a.until]
    print(f"admission-to-death delay fitted to {path}, {a.start} to {a.until}")
    print(f"{'area':5s} {'mean':>6s} {'sd':>5s} {'deaths/adm':>10s} {'SSE':>10s} {'SSE at %.1f+-%.1f' % PREVIOUS:>16s}")
    for b in BOROUGHS:
        days = sorted((r for r in rows if r["borough"] == b), key=lambda r: r["date"])
        if not days:
            raise SystemExit(f"{path}: no rows for borough {b} up to {a.until}")
        adm = np.array([float(r["hospitalized"]) for r in days])
        dead = np.array([float(r["deaths"]) for r in days])
        err, mean, sd, f = fit(adm, dead)
        print(f"{b:5s} {mean:6.2f} {sd:5.2f} {f:10.3f} {err:10.4g} {sse(adm, dead, *PREVIOUS)[0]:16.4g}")


if __name__ == "__main__":
    main()
