#!/usr/bin/env python3
"""Derives the age-specific severity of models/covid/params.json from published New York City figures,
so that anyone can check or redo them:

  /usr/bin/python3 profiling/derive_severity.py [--source .]

1. Infection fatality ratio (IFR) by single year of age: log-linear between nodes (ages 0, 20, 35, 55, 70,
   82, 95), the nodes chosen so that the averages over New York City's population (ACS tract age
   structure, data/nyc_tract_age_sex_acs.csv) of each band reproduce Yang et al. (2021, Lancet Infect
   Dis 21:203) for NYC, March-June 2020: 25-44 0.116 %, 45-64 0.939 %, 65-74 4.87 %, 75+ 14.2 %, and the
   preprint's <25 value 0.011 % (data/reference_values.csv). The slope above 82 continues the 70-82 one.
   Yang et al.'s figures are deaths per infection over all of a band's residents, care-home residents
   included, and the model gives care-home residents care_home_ifr_multiplier times the curve at their age
   (params.json). So the curve is the household residents' one, fitted so that the band averages over
   infections, not people, reproduce Yang et al.: care-home residents as the synthesizer makes them (homes
   per borough from data/ny_ltc_deaths_in_facility_by_borough_ctp.csv x 250 residents, NCHS age mix, see
   data/README.md), CARE_HOME_ATTACK_RATE of them infected (the model's assumption for contacts_care_home),
   the band's other residents at the attack rate that makes its DOHMH deaths per 100k (2020-03-07 ..
   07-04) with Yang et al.'s IFR. care_home_ifr_multiplier itself is solved for alongside: the multiplier
   that gives as many care-home residents' deaths as New York State reported in the city's nursing homes
   by 2020-07-02 (confirmed + presumed, in the facility) over the share of residents' deaths the model
   puts in the home (care_home_death_outside_hospital). --no-care-homes gives the population average
   the curve had before.
2. Hospital admissions per infection (IHR): IFR x (admissions / deaths) in the same DOHMH age group over
   2020-03-01 .. 06-30 (data/nyc_covid_weekly_rates_by_age.csv): if attack rates are the same for both
   outcomes within an age group, IHR / IFR = admissions / deaths. Below 25, where deaths are too few,
   IHR = the group's admissions per 100k / the attack rate the 25-44 group implies (its deaths per 100k /
   its IFR).
   The IFR here is the population-average curve (--no-care-homes): admissions carry no care-home
   multiplier, so their band averages over infections and over people barely differ.
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
CARE_HOME_RESIDENTS = 250                      # per home, as host/population/synth.c
CARE_AGE_SHARE = [((45, 64), 0.16), ((65, 74), 0.17), ((75, 84), 0.26), ((85, 100), 0.41)]  # NCHS 2015-16
CARE_HOME_ATTACK_RATE = 0.5                    # params.json contacts_care_home: about half infected
CARE_HOME_DEATHS_REPORT = "2020-07-02"         # NYS DOH report date of the in-facility deaths matched
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


def care_home_residents(src, pop):
    """Care-home residents per single year of age: the synthesizer's homes x residents x age mix, each age
    group spread over its years by population."""
    ltc = pd.read_csv(os.path.join(src, "data", "ny_ltc_deaths_in_facility_by_borough_ctp.csv"))
    ltc = ltc[(ltc.facility_category == "nursing_home") & ltc.geo.isin(["BX", "BK", "MN", "QN", "SI"])]
    residents = ltc.groupby("geo").n_facilities_listed.max().sum() * CARE_HOME_RESIDENTS
    care = np.zeros(101)
    for (lo, hi), share in CARE_AGE_SHARE:
        care[lo:hi + 1] = residents * share * pop[lo:hi + 1] / pop[lo:hi + 1].sum()
    return care


def infection_weights(pop, care, attack, multiplier):
    """(deaths weight, infections weight) per year of age: household residents at their band's attack rate,
    care-home residents at CARE_HOME_ATTACK_RATE dying at multiplier x the curve."""
    household = (pop - care) * attack
    infected_care = care * CARE_HOME_ATTACK_RATE
    return household + multiplier * infected_care, household + infected_care


def fit_ifr(deaths_weight, infections_weight):
    """Nodes whose curve averages to Yang et al. in every band: sum(curve x deaths_weight) /
    sum(infections_weight) (the population for both: the plain population average)."""
    # one node per band (20 -> <25, 35 -> 25-44, 55 -> 45-64, 70 -> 65-74, 82 -> 75+), 0 and 95 follow slopes
    y = np.log10([0.003e-2, 0.01e-2, 0.1e-2, 0.9e-2, 4.5e-2, 13e-2, 30e-2])
    free = [1, 2, 3, 4, 5]
    for _ in range(200):
        y[0] = y[1] - 20 * (y[2] - y[1]) / 15          # below 20: the 20-35 slope
        y[6] = y[5] + 13 * (y[5] - y[4]) / 12          # above 82: the 70-82 slope
        v = curve(y)
        for k, ((lo, hi), target, _) in zip(free, YANG_BANDS):
            got = (v[lo:hi + 1] * deaths_weight[lo:hi + 1]).sum() / infections_weight[lo:hi + 1].sum()
            y[k] += np.log10(target / got)
    y[0] = y[1] - 20 * (y[2] - y[1]) / 15
    y[6] = y[5] + 13 * (y[5] - y[4]) / 12
    return y


def band_attack_rates(pop, death):
    """Attack rate per year of age: the Yang band's DOHMH deaths per 100k (population-weighted over its
    DOHMH groups) / its IFR; under 25, where deaths are too few, the 25-44 one."""
    per_year = np.zeros(101)
    for g, lo, hi in DOHMH_GROUPS:
        per_year[lo:hi + 1] = death[g] / 1e5
    attack = np.zeros(101)
    for (lo, hi), target, _ in YANG_BANDS:
        attack[lo:hi + 1] = band_mean(per_year, pop, lo, hi) / target
    attack[:25] = attack[25]
    return attack


def care_home_deaths_to_match(src):
    """All care-home residents' deaths the model should give: NYS DOH's in-facility nursing-home deaths in
    the city (confirmed + presumed) by CARE_HOME_DEATHS_REPORT over the share of them in the home."""
    ltc = pd.read_csv(os.path.join(src, "data", "ny_ltc_deaths_in_facility_by_borough_ctp.csv"))
    row = ltc[(ltc.date == CARE_HOME_DEATHS_REPORT) & (ltc.geo == "NYC") & (ltc.facility_category == "nursing_home")]
    if len(row) != 1:
        raise SystemExit(f"no NYC nursing_home row dated {CARE_HOME_DEATHS_REPORT} in the long-term-care file")
    in_facility = float(row.deaths_confirmed_in_facility_cum.iloc[0] + row.deaths_presumed_in_facility_cum.iloc[0])
    with open(os.path.join(src, "models", "covid", "params.json")) as fh:
        in_home = json.load(fh)["parameters"]["care_home_death_outside_hospital"]["value"]
    return in_facility, in_home


def fit_with_care_homes(pop, care, attack, residents_deaths):
    """Household curve nodes and care_home_ifr_multiplier, solved together (fixed point)."""
    multiplier = 1.5
    for _ in range(50):
        y = fit_ifr(*infection_weights(pop, care, attack, multiplier))
        multiplier = residents_deaths / (care * CARE_HOME_ATTACK_RATE * curve(y)).sum()
    return fit_ifr(*infection_weights(pop, care, attack, multiplier)), multiplier


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default=".")
    ap.add_argument("--no-care-homes", action="store_true",
                    help="fit the plain population average (as before care-home residents were accounted for)")
    opts = ap.parse_args()
    src = opts.source
    pop = population_by_age(src)
    r = pd.read_csv(os.path.join(src, "data", "nyc_covid_weekly_rates_by_age.csv"), parse_dates=["week_ending"])
    r = r[(r.week_ending >= "2020-03-07") & (r.week_ending <= "2020-07-04")]
    hosp = r.groupby("age_group").hosp_rate_per_100k.sum()
    death = r.groupby("age_group").death_rate_per_100k.sum()

    population_y = fit_ifr(pop, pop)
    population_ifr = curve(population_y)
    if opts.no_care_homes:
        y = population_y
        print("IFR band averages over the NYC population (target: Yang et al. 2021):")
        check = [(lo, hi, target, band_mean(population_ifr, pop, lo, hi)) for (lo, hi), target, _ in YANG_BANDS]
    else:
        care = care_home_residents(src, pop)
        attack = band_attack_rates(pop, death)
        in_facility, in_home = care_home_deaths_to_match(src)
        y, multiplier = fit_with_care_homes(pop, care, attack, in_facility / in_home)
        dw, iw = infection_weights(pop, care, attack, multiplier)
        v = curve(y)
        print(f"care-home residents' deaths to match: {in_facility:,.0f} in the homes by {CARE_HOME_DEATHS_REPORT} "
              f"(NYS DOH) / {in_home} in the home = {in_facility / in_home:,.0f}")
        print(f"care-home residents {care.sum():,.0f} (75+: {care[75:].sum():,.0f}), {100 * CARE_HOME_ATTACK_RATE:.0f} % "
              f"infected, care_home_ifr_multiplier {multiplier:.3f}; other residents' attack rates: " +
              ", ".join(f"{lo}-{hi} {100 * attack[lo]:.1f} %" for (lo, hi), _, _ in YANG_BANDS))
        print("IFR band averages over infections, household and care-home residents (target: Yang et al. 2021):")
        check = [(lo, hi, target, (v[lo:hi + 1] * dw[lo:hi + 1]).sum() / iw[lo:hi + 1].sum())
                 for (lo, hi), target, _ in YANG_BANDS]
        print("household residents' curve / the population-average curve at 45, 65, 75, 85, 95: " +
              ", ".join(f"{v[x] / population_ifr[x]:.3f}" for x in (45, 65, 75, 85, 95)))
    for lo, hi, target, got in check:
        print(f"  {lo:3d}-{hi:3d}: {100 * got:.4f} %   target {100 * target:.4f} %")
    ifr = population_ifr
    print(f"  all ages (population-average curve over people): {100 * (ifr * pop).sum() / pop.sum():.3f} % "
          "(Yang et al.: 1.39 %)")

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
        **({} if opts.no_care_homes else {"care_home_ifr_multiplier": {"value": round(multiplier, 2)}}),
        "ihr": {"age": ihr_nodes, "value": [float(f"{ihr[a]:.4g}") for a in ihr_nodes]},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
