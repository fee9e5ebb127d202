#!/usr/bin/env python3
"""Derives the age-specific severity of models/covid/params.json from published New York City figures,
so that anyone can check or redo them:

  /usr/bin/python3 profiling/derive_severity.py [--source .]

1. Infection fatality ratio (IFR) by single year of age: log-linear between nodes (ages 0, 20, 35, 55, 70,
   82, 95), the nodes chosen so that the averages over New York City's population (ACS tract age
   structure, data/nyc_tract_age_sex_acs.csv) of each band reproduce Yang et al. (2021, Lancet Infect
   Dis 21:203) for NYC, March-June 2020: 25-44 0.116 %, 45-64 0.939 %, 65-74 4.87 %, 75+ 14.2 %, and the
   preprint's <25 value 0.011 % (data/reference_values.csv). The slope above 82 continues the 70-82 one.
2. Hospital admissions per infection (IHR): IFR x (admissions / deaths) in the same DOHMH age group over
   2020-03-01 .. 06-30 (data/nyc_covid_weekly_rates_by_age.csv): if attack rates are the same for both
   outcomes within an age group, IHR / IFR = admissions / deaths. Below 25, where deaths are too few,
   IHR = the group's admissions per 100k / the attack rate the 25-44 group implies (its deaths per 100k /
   its IFR).
Prints the nodes as JSON for params.json and the check of every band average."""
import argparse
import json
import os

import numpy as np
import pandas as pd

YANG_BANDS = [((0, 24), 0.011e-2, "IFR_age_0_24"), ((25, 44), 0.116e-2, "IFR_age_25_44"),
              ((45, 64), 0.939e-2, "IFR_age_45_64"), ((65, 74), 4.87e-2, "IFR_age_65_74"),
              ((75, 100), 14.2e-2, "IFR_age_75plus")]
NODES = [0, 20, 35, 55, 70, 82, 95]
DOHMH_GROUPS = [("18_24", 18, 24), ("25_34", 25, 34), ("35_44", 35, 44), ("45_54", 45, 54), ("55_64", 55, 64),
                ("65_74", 65, 74), ("75+", 75, 100)]


def population_by_age(src):
    """People per single year of age 0..100 (5-year ACS bands spread evenly; 85+ over 85-95, as the synthesizer)."""
    t = pd.read_csv(os.path.join(src, "data", "nyc_tract_age_sex_acs.csv"))
    pop = np.zeros(101)
    for lo in range(0, 85, 5):
        n = t[f"m_{lo}_{lo + 4}"].sum() + t[f"f_{lo}_{lo + 4}"].sum()
        pop[lo:lo + 5] += n / 5
    pop[85:96] += (t["m_85up"].sum() + t["f_85up"].sum()) / 11
    return pop


def curve(node_logs, ages=np.arange(101)):
    return 10 ** np.interp(ages, NODES, node_logs)


def band_mean(values, pop, lo, hi):
    return float((values[lo:hi + 1] * pop[lo:hi + 1]).sum() / pop[lo:hi + 1].sum())


def fit_ifr(pop):
    # one node per band (20 -> <25, 35 -> 25-44, 55 -> 45-64, 70 -> 65-74, 82 -> 75+), 0 and 95 follow slopes
    y = np.log10([0.003e-2, 0.01e-2, 0.1e-2, 0.9e-2, 4.5e-2, 13e-2, 30e-2])
    free = [1, 2, 3, 4, 5]
    for _ in range(200):
        y[0] = y[1] - 20 * (y[2] - y[1]) / 15          # below 20: the 20-35 slope
        y[6] = y[5] + 13 * (y[5] - y[4]) / 12          # above 82: the 70-82 slope
        v = curve(y)
        for k, ((lo, hi), target, _) in zip(free, YANG_BANDS):
            y[k] += np.log10(target / band_mean(v, pop, lo, hi))
    y[0] = y[1] - 20 * (y[2] - y[1]) / 15
    y[6] = y[5] + 13 * (y[5] - y[4]) / 12
    return y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default=".")
    src = ap.parse_args().source
    pop = population_by_age(src)
    y = fit_ifr(pop)
    ifr = curve(y)
    print("IFR band averages over the NYC population (target: Yang et al. 2021):")
    for (lo, hi), target, _ in YANG_BANDS:
        print(f"  {lo:3d}-{hi:3d}: {100 * band_mean(ifr, pop, lo, hi):.4f} %   target {100 * target:.4f} %")
    print(f"  all ages: {100 * (ifr * pop).sum() / pop.sum():.3f} % (Yang et al.: 1.39 %)")

    r = pd.read_csv(os.path.join(src, "data", "nyc_covid_weekly_rates_by_age.csv"), parse_dates=["week_ending"])
    r = r[(r.week_ending >= "2020-03-07") & (r.week_ending <= "2020-07-04")]
    hosp = r.groupby("age_group").hosp_rate_per_100k.sum()
    death = r.groupby("age_group").death_rate_per_100k.sum()
    ratio_nodes, ratio_vals = [], []
    for g, lo, hi in DOHMH_GROUPS[1:]:
        ratio_nodes.append((lo + hi) / 2 if hi < 100 else 82)
        ratio_vals.append(hosp[g] / death[g])
    ihr = ifr * np.exp(np.interp(np.arange(101), ratio_nodes, np.log(ratio_vals)))
    attack_25_44 = (death["25_34"] + death["35_44"]) / 2 / 1e5 / YANG_BANDS[1][1]
    young = {"0_4": (0, 4), "5_12": (5, 12), "13_17": (13, 17), "18_24": (18, 24)}
    for g, (lo, hi) in young.items():
        ihr[lo:hi + 1] = hosp[g] / 1e5 / attack_25_44
    print(f"admissions per death by DOHMH group: " +
          ", ".join(f"{g} {hosp[g] / death[g]:.2f}" for g, _, _ in DOHMH_GROUPS[1:]))
    print(f"attack rate implied for 25-44 (deaths / IFR): {100 * attack_25_44:.1f} %")
    ihr_nodes = [0, 5, 15, 21, 30, 40, 50, 60, 70, 82, 95]
    print("IHR at the nodes:", ", ".join(f"{a}: {100 * ihr[a]:.3f} %" for a in ihr_nodes))
    out = {
        "ifr": {"age": NODES, "value": [float(f"{v:.4g}") for v in curve(y, np.array(NODES))]},
        "ihr": {"age": ihr_nodes, "value": [float(f"{ihr[a]:.4g}") for a in ihr_nodes]},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
