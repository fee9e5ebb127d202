#include "host/output/ensemble_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/error.h"

const civ_outcome civ_outcomes[CIV_N_OUTCOMES] = {
    {"infections", "infections", "new_infections", false},
    {"cases", "reported cases", "new_reported_cases", false},
    {"admissions", "hospital admissions", "new_hospitalisations", false},
    {"deaths", "deaths", "new_deaths", false},
    {"unemployment_months", "unemployment-months", "unemployed", true},
};

double civ_quantile_sorted(const double *v, int n, double q)
{
    if (n <= 0) return 0;
    double h = (n - 1) * q;
    int lo = (int)h;
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (h - lo) * (v[lo + 1] - v[lo]);
}

int civ_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

civ_interval civ_interval_of(const double *v, int n)
{
    civ_interval r = {NAN, NAN, NAN};
    if (n <= 0) return r;
    double *s = civ_xmalloc((size_t)n * sizeof(double));
    memcpy(s, v, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), civ_cmp_double);
    r.median = civ_quantile_sorted(s, n, 0.5);
    r.p05 = civ_quantile_sorted(s, n, 0.05);
    r.p95 = civ_quantile_sorted(s, n, 0.95);
    free(s);
    return r;
}

void civ_outcome_totals(const civ_ens *e, const double *series, bool months, int t0, int t1, double *tot)
{
    for (int r = 0; r < e->n_runs; r++)
        for (int a = 0; a < CIV_N_AREAS; a++) {
            double s = 0;
            for (int t = t0; t <= t1; t++) s += series[((size_t)r * e->steps + t) * CIV_N_AREAS + a];
            tot[(size_t)r * CIV_N_AREAS + a] = months ? s / CIV_DAYS_PER_MONTH : s;
        }
}

void civ_averted(const civ_ens *e, const double *tot, int cf, double *diff)
{
    for (int k = 0; k < e->seeds; k++)
        for (int a = 0; a < CIV_N_AREAS; a++)
            diff[(size_t)k * CIV_N_AREAS + a] = tot[(size_t)k * CIV_N_AREAS + a] -
                                                tot[((size_t)cf * e->seeds + k) * CIV_N_AREAS + a];
}

void civ_pairing(const civ_ens *e, int cf, int *same_seed, int *same_draw)
{
    *same_seed = 0;
    *same_draw = -1;
    bool draws = false;
    for (int k = 0; k < e->seeds; k++) {
        const int b = k, c = cf * e->seeds + k;
        *same_seed += e->seed[b] == e->seed[c];
        if (e->posterior_set && (e->posterior_set[b] >= 0 || e->posterior_set[c] >= 0)) draws = true;
    }
    if (!draws) return;
    *same_draw = 0;
    for (int k = 0; k < e->seeds; k++)
        *same_draw += e->posterior_set[k] >= 0 && e->posterior_set[k] == e->posterior_set[cf * e->seeds + k];
}

void civ_study_bands(const civ_ens *e, const double *series, int study, bool smooth, double *lo, double *med, double *hi)
{
    const int N = e->seeds, T = e->steps;
    double *v = civ_xmalloc((size_t)N * sizeof(double));
    for (int a = 0; a < CIV_N_AREAS; a++)
        for (int t = 0; t < T; t++) {
            for (int k = 0; k < N; k++) {
                const int r = study * N + k, from = smooth && t >= 6 ? t - 6 : smooth ? 0 : t;
                double s = 0;
                for (int u = from; u <= t; u++) s += series[((size_t)r * T + u) * CIV_N_AREAS + a];
                v[k] = s / (t - from + 1);
            }
            qsort(v, (size_t)N, sizeof(double), civ_cmp_double);
            lo[(size_t)a * T + t] = civ_quantile_sorted(v, N, 0.05);
            med[(size_t)a * T + t] = civ_quantile_sorted(v, N, 0.5);
            hi[(size_t)a * T + t] = civ_quantile_sorted(v, N, 0.95);
        }
    free(v);
}
