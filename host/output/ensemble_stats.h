/* What an ensemble says, computed from its runs: each study's median and 5-95% band per day and area,
 * and outcomes over a date range (cumulative infections, reported cases, hospital admissions, deaths,
 * unemployment-months) per run, with the paired differences between the base and a counterfactual
 * (outcomes averted). All in real-city units. */
#ifndef CIV_ENSEMBLE_STATS_H
#define CIV_ENSEMBLE_STATS_H

#include <stdbool.h>

#include "host/output/ensemble_file.h"

/* Linear-interpolation quantile of sorted values (numpy's default), q in [0, 1]. */
double civ_quantile_sorted(const double *v, int n, double q);
int civ_cmp_double(const void *a, const void *b);

typedef struct { double median, p05, p95; } civ_interval;
/* Median and 5% and 95% quantiles of n values (NaN for n = 0). */
civ_interval civ_interval_of(const double *v, int n);

#define CIV_N_OUTCOMES 5
typedef struct {
    const char *key;      /* "infections" */
    const char *label;    /* "infections" as a table heading */
    const char *var;      /* the run variable: new_infections, ..., unemployed */
    bool months;          /* a stock summed over days into person-months (unemployed) */
} civ_outcome;
extern const civ_outcome civ_outcomes[CIV_N_OUTCOMES];
#define CIV_DAYS_PER_MONTH (365.25 / 12)

/* series as civ_ens_series returns it; tot[run * CIV_N_AREAS + area] = the outcome over days [t0, t1]. */
void civ_outcome_totals(const civ_ens *e, const double *series, bool months, int t0, int t1, double *tot);
/* Paired differences of study cf from the base (study 0), run k of each: diff[k * CIV_N_AREAS + area] =
 * base - counterfactual (positive: averted). */
void civ_averted(const civ_ens *e, const double *tot, int cf, double *diff);
/* How study cf's runs pair with the base's: pairs with the same seed, and with the same posterior draw
 * (-1 when neither study draws from a posterior). */
void civ_pairing(const civ_ens *e, int cf, int *same_seed, int *same_draw);

/* Study i's median and 5% and 95% band over its runs per area and day, of 7-day trailing means of each
 * run when smooth: lo/med/hi[area * steps + t]. */
void civ_study_bands(const civ_ens *e, const double *series, int study, bool smooth, double *lo, double *med, double *hi);

#endif
