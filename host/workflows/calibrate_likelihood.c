#include "host/workflows/calibrate_likelihood.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/boroughs.h"
#include "models/covid/covid_step.h"
#include "host/util/error.h"

#define LOG_SQRT_2PI 0.91893853320467274178

const char *const civ_fit_series_name[CIV_FIT_N_SERIES] = {"cases", "hospital_admissions", "deaths"};
static const int series_var[CIV_FIT_N_SERIES] = {CIV_VAR_NEW_REPORTED_CASES, CIV_VAR_NEW_HOSPITALISATIONS, CIV_VAR_NEW_DEATHS};

double civ_nb_log_pmf(double y, double mu, double k)
{
    /* Gamma(y + k) / (Gamma(k) y!) (k / (k + mu))^k (mu / (k + mu))^y */
    double t = lgamma(y + k) - lgamma(k) - lgamma(y + 1) - k * log1p(mu / k);
    return y > 0 ? t + y * (log(mu) - log(k + mu)) : t;
}

static double logit(double u) { return log(u) - log1p(-u); }

double civ_sero_sd_logit(const civ_sero_target *t)
{
    return (logit(t->ci_high) - logit(t->ci_low)) / (2 * 1.959963984540054);
}

double civ_sero_nll(const civ_sero_target *t, double simulated_share)
{
    double p = fmin(fmax(simulated_share, 1e-6), 1 - 1e-6), sd = civ_sero_sd_logit(t);
    double z = (logit(p) - logit(t->share)) / sd;
    return 0.5 * z * z + log(sd) + LOG_SQRT_2PI;
}

static const int32_t *observed_of(const civ_observed *o, civ_fit_series s)
{
    return s == CIV_FIT_CASES ? o->cases : s == CIV_FIT_ADMISSIONS ? o->hospitalized : o->deaths;
}

int civ_fit_target_observations(const civ_fit_data *d, int target)
{
    const civ_count_target *t = &d->targets[target];
    int bins = 0;
    for (int end = d->fit_day; end - t->bin_days + 1 >= t->first_day; end -= t->bin_days) bins++;
    return bins * (t->by_borough ? CIV_NBOROUGH : 1);
}

void civ_fit_run_start(civ_fit_run *r, const civ_fit_data *d)
{
    memset(r, 0, sizeof *r);
    r->d = d;
    r->daily = civ_xcalloc((size_t)CIV_FIT_N_SERIES * d->days * CIV_NBOROUGH, sizeof(double));
    r->daily_age = civ_xcalloc((size_t)d->days * (d->age.n_bands ? d->age.n_bands : 1), sizeof(double));
}

void civ_fit_run_free(civ_fit_run *r)
{
    free(r->daily);
    free(r->daily_age);
    r->daily = r->daily_age = NULL;
}

/* the bin of `t` that ends on `day` (bins end on fit_day, fit_day - bin_days, ...), or 0 */
static int bin_ends(const civ_fit_data *d, const civ_count_target *t, int day)
{
    return day <= d->fit_day && (d->fit_day - day) % t->bin_days == 0 && day - t->bin_days + 1 >= t->first_day;
}

double civ_age_target_observed(const civ_fit_data *d, int w, int j)
{
    const double rate = d->age.rate[w][j];
    return rate == CIV_AGE_RATE_SUPPRESSED ? 2.0 : round(rate * 1e-5 * d->age.people[j] / d->scale);
}

/* deaths by age band: today's simulated deaths per band, and a term per band when a week ends today */
static void age_target_day(civ_fit_run *r, int day, const int32_t *series)
{
    const civ_fit_data *d = r->d;
    const civ_age_target *t = &d->age;
    const int nb = d->n_bands, term = d->n_targets + d->n_sero;
    for (int j = 0; j < t->n_bands; j++) {
        double v = 0;
        for (int b = 0; b < CIV_NBOROUGH; b++) v += series[(CIV_VAR_NEW_DEATHS * CIV_NBOROUGH + b) * nb + t->band[j]];
        r->daily_age[(size_t)day * t->n_bands + j] = v;
    }
    for (int w = 0; w < t->n_weeks; w++) {
        if (t->week_end[w] != day) continue;
        double nll = 0;
        for (int j = 0; j < t->n_bands; j++) {
            double sim = 0;
            for (int dd = day - 6; dd <= day; dd++) sim += r->daily_age[(size_t)dd * t->n_bands + j];
            nll -= civ_nb_log_pmf(civ_age_target_observed(d, w, j), fmax(sim, 0.5) / d->scale, t->dispersion);
        }
        r->terms[term] += nll;
        r->total += nll;
    }
}

void civ_fit_run_day(civ_fit_run *r, int day, const int32_t *series)
{
    const civ_fit_data *d = r->d;
    const int nb = d->n_bands;
    for (int s = 0; s < CIV_FIT_N_SERIES; s++)
        for (int b = 0; b < CIV_NBOROUGH; b++) {
            double v = 0;
            for (int a = 0; a < nb; a++) v += series[(series_var[s] * CIV_NBOROUGH + b) * nb + a];
            r->daily[((size_t)s * d->days + day) * CIV_NBOROUGH + b] = v;
        }
    for (int i = 0; i < d->n_targets; i++) {
        const civ_count_target *t = &d->targets[i];
        if (!bin_ends(d, t, day)) continue;
        const int32_t *obs = observed_of(d->obs, t->series);
        double sim[CIV_NBOROUGH] = {0}, ob[CIV_NBOROUGH] = {0};
        for (int dd = day - t->bin_days + 1; dd <= day; dd++)
            for (int b = 0; b < CIV_NBOROUGH; b++) {
                sim[b] += r->daily[((size_t)t->series * d->days + dd) * CIV_NBOROUGH + b];
                ob[b] += obs[dd * CIV_NBOROUGH + b];
            }
        if (!t->by_borough) {
            for (int b = 1; b < CIV_NBOROUGH; b++) { sim[0] += sim[b]; ob[0] += ob[b]; }
        }
        double nll = 0;
        /* real-city units; a simulated zero counts as half an event, so an observed count it misses costs a
           large but finite amount */
        for (int b = 0; b < (t->by_borough ? CIV_NBOROUGH : 1); b++)
            nll -= civ_nb_log_pmf(ob[b], fmax(sim[b], 0.5) / d->scale, t->dispersion);
        r->terms[i] += nll;
        r->total += nll;
    }
    age_target_day(r, day, series);
    for (int j = 0; j < d->n_sero; j++) {
        const civ_sero_target *t = &d->sero[j];
        if (t->day != day) continue;
        double susceptible = 0;
        for (int b = 0; b < CIV_NBOROUGH; b++) {
            if (t->borough >= 0 && b != t->borough) continue;
            for (int a = 0; a < nb; a++)
                if (d->band_edges[a] >= t->min_age) susceptible += series[(CIV_VAR_SUSCEPTIBLE * CIV_NBOROUGH + b) * nb + a];
        }
        double share = d->sero_people[j] > 0 ? 1 - susceptible / d->sero_people[j] : 0;
        double nll = civ_sero_nll(t, share);
        r->terms[d->n_targets + j] = nll;
        r->total += nll;
    }
}
