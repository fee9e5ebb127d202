/* The calibration's likelihood: simulated counts (converted to real-city units by dividing by the
 * population scale) against the observed series of the study's observed file, a negative binomial
 * per borough (or city) and bin with a stated dispersion per series; and serosurveys, the share ever
 * infected in an age group by a date, as a normal on the logit scale with the sd implied by the
 * survey's 95% interval. Every count term is >= 0 (a probability's negative log), so a run whose
 * partial sum already exceeds the tolerance can stop early: its distance can only grow. */
#ifndef CIV_CALIBRATE_LIKELIHOOD_H
#define CIV_CALIBRATE_LIKELIHOOD_H

#include <stdint.h>

#include "host/study/observed.h"

#define CIV_FIT_MAX_TARGETS 8
#define CIV_FIT_MAX_SERO 8
#define CIV_FIT_MAX_BANDS 16
#define CIV_FIT_MAX_WEEKS 64

typedef enum { CIV_FIT_CASES, CIV_FIT_ADMISSIONS, CIV_FIT_DEATHS, CIV_FIT_N_SERIES } civ_fit_series;
/* study names: "cases" (reported, by diagnosis date), "hospital_admissions", "deaths" */
extern const char *const civ_fit_series_name[CIV_FIT_N_SERIES];

typedef struct {
    civ_fit_series series;
    int by_borough;       /* 1: a term per borough and bin; 0: city totals */
    int bin_days;         /* 7: weekly sums (the last week ends on the last fitted day); 1: daily */
    double dispersion;    /* negative binomial size k: variance mu + mu^2 / k */
    int first_day;        /* simulation day from which bins may start */
} civ_count_target;

typedef struct {
    int day;              /* simulation day: infected on or before its end */
    double share, ci_low, ci_high;   /* observed share ever infected and its 95% interval */
    int min_age;          /* e.g. 18: adults */
    int borough;          /* -1: the whole city */
} civ_sero_target;

/* log P(Y = y) for a negative binomial of mean mu and size k */
double civ_nb_log_pmf(double y, double mu, double k);
/* sd on the logit scale: (logit(high) - logit(low)) / (2 * 1.959964) */
double civ_sero_sd_logit(const civ_sero_target *t);
/* -log of the normal density of logit(simulated share) around logit(share) (share clamped to [1e-6, 1 - 1e-6]) */
double civ_sero_nll(const civ_sero_target *t, double simulated_share);

/* Deaths by age band, city-wide: an observed weekly rate per 100,000 people of each band (DOHMH's weeks,
 * Sunday to Saturday), turned into a count with the band's simulated people in real-city units and
 * rounded to whole deaths (a suppressed rate, 1 to 4 deaths, counts as 2); a negative binomial term per
 * band and week against the simulated deaths. */
#define CIV_AGE_RATE_SUPPRESSED (-1.0)
typedef struct {
    int n_bands;                                  /* 0: no age target */
    int band[CIV_FIT_MAX_BANDS];                  /* the study's output band of each */
    int n_weeks;
    int week_end[CIV_FIT_MAX_WEEKS];              /* simulation day of each week's last day */
    double rate[CIV_FIT_MAX_WEEKS][CIV_FIT_MAX_BANDS];   /* observed deaths per 100,000 */
    double people[CIV_FIT_MAX_BANDS];             /* agents in each band (set by the caller) */
    double dispersion;
} civ_age_target;

typedef struct {
    int n_targets, n_sero;
    civ_count_target targets[CIV_FIT_MAX_TARGETS];
    civ_sero_target sero[CIV_FIT_MAX_SERO];
    int fit_day;          /* last fitted simulation day */
    int days;             /* days a run must simulate: through fit_day and every survey */
    double scale;         /* population scale: simulated counts / scale = real-city counts */
    const civ_observed *obs;
    int n_bands, band_edges[CIV_FIT_MAX_BANDS];   /* the study's output age bands */
    double sero_people[CIV_FIT_MAX_SERO];          /* agents in each survey's group */
    double sero_floor;    /* the least the survey terms can add together (<= 0) */
    civ_age_target age;   /* deaths by age band (n_bands 0: none) */
} civ_fit_data;

/* the terms' count: one per target, per survey, and one for deaths by age when there is that target */
static inline int civ_fit_n_terms(const civ_fit_data *d) { return d->n_targets + d->n_sero + (d->age.n_bands > 0); }
/* observations (bins x boroughs) a count target compares */
int civ_fit_target_observations(const civ_fit_data *d, int target);

/* the observed deaths of age target band j in week w, real-city units, rounded to whole deaths */
double civ_age_target_observed(const civ_fit_data *d, int w, int j);

/* One run's accumulation, day by day. */
typedef struct {
    const civ_fit_data *d;
    double *daily;        /* [series][day][borough]: simulated counts */
    double *daily_age;    /* [day][age target band]: simulated deaths */
    double terms[CIV_FIT_MAX_TARGETS + CIV_FIT_MAX_SERO + 1];   /* negative log-likelihood per target */
    double total;
} civ_fit_run;

void civ_fit_run_start(civ_fit_run *r, const civ_fit_data *d);
/* After simulation day `day`: its series[var][borough][band] (n_bands bands) */
void civ_fit_run_day(civ_fit_run *r, int day, const int32_t *series);
/* The least the run's final distance can be */
static inline double civ_fit_run_lower_bound(const civ_fit_run *r) { return r->total + r->d->sero_floor; }
void civ_fit_run_free(civ_fit_run *r);

#endif
