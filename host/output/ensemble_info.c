/* `civitas info` for an ensemble file: its studies and runs, how they pair, the population scale, and
 * each study's cumulative outcomes per area (median and 5-95% over its runs) with what each
 * counterfactual averts relative to the base, in real-city units. */
#include <stdio.h>
#include <stdlib.h>

#include "host/output/ensemble_stats.h"
#include "host/output/info.h"
#include "host/output/plot.h"
#include "host/output/units.h"
#include "host/util/date.h"

static void print_interval(FILE *out, const double *v, int n)
{
    civ_interval iv = civ_interval_of(v, n);
    char m[40], lo[40], hi[40], cell[140];
    civ_fmt_count(iv.median, 3, m, sizeof m);
    civ_fmt_count(iv.p05, 3, lo, sizeof lo);
    civ_fmt_count(iv.p95, 3, hi, sizeof hi);
    snprintf(cell, sizeof cell, "%s [%s, %s]", m, lo, hi);
    fprintf(out, " %30s", cell);
}

civ_status civ_info_ensemble(const char *path, FILE *out, civ_error *err)
{
    civ_ens e;
    civ_status st = civ_ens_open(path, &e, err);
    if (st) return st;
    double *tot[CIV_N_OUTCOMES] = {0};
    for (int k = 0; k < CIV_N_OUTCOMES && !st; k++) {
        double *series = NULL;
        if ((st = civ_ens_series(&e, civ_outcomes[k].var, &series, err))) break;
        tot[k] = civ_xmalloc((size_t)e.n_runs * CIV_N_AREAS * sizeof(double));
        civ_outcome_totals(&e, series, civ_outcomes[k].months, 0, e.steps - 1, tot[k]);
        free(series);
    }
    if (!st) {
        char a[11], b[11], scale_text[200];
        civ_date_format(e.start_day, a);
        civ_date_format(e.start_day + e.steps - 1, b);
        fprintf(out, "%s: civitas ensemble of %d studies x %d runs, %d days from %s to %s\n", path, e.n_studies, e.seeds,
                e.steps, a, b);
        civ_scale_statement(e.scale[0], scale_text, sizeof scale_text);
        fprintf(out, "  %s\n", scale_text);
        fprintf(out, "  observed data: %s\n", e.observed[0] ? "the base study's (NYC DOHMH), in /observed" : "none");
        double *v = civ_xmalloc(((size_t)e.seeds + 1) * sizeof(double)), *diff = civ_xmalloc(((size_t)e.seeds + 1) * CIV_N_AREAS * sizeof(double));
        for (int i = 0; i < e.n_studies; i++) {
            fprintf(out, "  study %s (%s): %d runs, seeds %lld to %lld", e.study[i], i ? "scenario" : "base", e.seeds,
                    (long long)e.seed[i * e.seeds], (long long)e.seed[i * e.seeds + e.seeds - 1]);
            if (e.scale[i] != e.scale[0]) fprintf(out, ", population scale %g", e.scale[i]);
            if (i) {
                int same_seed, same_draw;
                civ_pairing(&e, i, &same_seed, &same_draw);
                fprintf(out, "; paired with the base: %d by seed", same_seed);
                if (same_draw >= 0) fprintf(out, ", %d by posterior draw", same_draw);
            } else if (e.posterior_set) {
                int drawn = 0;
                for (int k = 0; k < e.seeds; k++) drawn += e.posterior_set[k] >= 0;
                fprintf(out, "; %d runs with a posterior draw", drawn);
            }
            fprintf(out, "\n");
        }
        fprintf(out, "  cumulative outcomes, median [5%%, 95%%] over each study's runs:\n");
        fprintf(out, "  %-30s %-14s", "study", "area");
        for (int k = 0; k < CIV_N_OUTCOMES; k++) fprintf(out, " %30s", civ_outcomes[k].label);
        fprintf(out, "\n");
        for (int i = 0; i < e.n_studies; i++)
            for (int area = 0; area < CIV_N_AREAS; area++) {
                fprintf(out, "  %-30s %-14s", area ? "" : e.study[i], civ_area_names[area]);
                for (int k = 0; k < CIV_N_OUTCOMES; k++) {
                    for (int r = 0; r < e.seeds; r++) v[r] = tot[k][((size_t)i * e.seeds + r) * CIV_N_AREAS + area];
                    print_interval(out, v, e.seeds);
                }
                fprintf(out, "\n");
            }
        for (int i = 1; i < e.n_studies; i++) {
            fprintf(out, "  averted by %s (base - scenario, run by run), New York City:\n  %-45s", e.study[i], "");
            for (int k = 0; k < CIV_N_OUTCOMES; k++) fprintf(out, " %30s", civ_outcomes[k].label);
            fprintf(out, "\n  %-45s", "");
            for (int k = 0; k < CIV_N_OUTCOMES; k++) {
                civ_averted(&e, tot[k], i, diff);
                for (int r = 0; r < e.seeds; r++) v[r] = diff[(size_t)r * CIV_N_AREAS];
                print_interval(out, v, e.seeds);
            }
            fprintf(out, "\n");
        }
        free(v);
        free(diff);
    }
    for (int k = 0; k < CIV_N_OUTCOMES; k++) free(tot[k]);
    civ_ens_free(&e);
    return st;
}
