#include "host/workflows/calibrate.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "host/util/date.h"
#include "host/engine/engine.h"
#include "host/util/file.h"
#include "host/util/json_util.h"
#include "host/study/observed.h"
#include "host/util/progress.h"
#include "host/workflows/run.h"

enum { P_BETA, P_BETA_PHASE, P_INITIAL, P_TESTING, N_PARAMS };
static const char *const param_name[N_PARAMS] = {"beta", "beta_after_stay_at_home", "initial_per_100k", "testing_seek_scale"};
static const double param_lo[N_PARAMS] = {0.05, 0.02, 0.1, 0.1};
static const double param_hi[N_PARAMS] = {10.0, 10.0, 2000.0, 5.0};

typedef struct {
    const civ_calibrate_options *o;
    civ_study *s;
    civ_population *pop;
    civ_observed obs;
    int threads, fit_days, seed_offset;
    int active[N_PARAMS], n_active;
    double start[N_PARAMS];
    /* originals, restored before each trial */
    civ_policy base_policy;
    double initial, seek_scale, beta_after;
    int evaluations;
} fit_ctx;

/* bounded parameters <-> unconstrained coordinates: logit of the position in log space */
static double to_x(int k, double p)
{
    double u = (log(p) - log(param_lo[k])) / (log(param_hi[k]) - log(param_lo[k]));
    if (u < 1e-6) u = 1e-6;
    if (u > 1 - 1e-6) u = 1 - 1e-6;
    return log(u / (1 - u));
}

static double to_p(int k, double x)
{
    double u = 1.0 / (1.0 + exp(-x));
    return exp(log(param_lo[k]) + u * (log(param_hi[k]) - log(param_lo[k])));
}

static void apply(fit_ctx *c, const double *p)
{
    civ_study *s = c->s;
    s->base_policy = c->base_policy;
    s->initial_per_100k = c->initial;
    s->seek_scale = c->seek_scale;
    s->beta_after_stay_at_home = c->beta_after;
    if (c->active[P_BETA]) s->base_policy.beta = (float)p[P_BETA];
    if (c->active[P_INITIAL]) s->initial_per_100k = p[P_INITIAL];
    if (c->active[P_TESTING]) s->seek_scale = p[P_TESTING];
    if (c->active[P_BETA_PHASE]) s->beta_after_stay_at_home = p[P_BETA_PHASE];
}

/* Loss: mean over boroughs and fitted days (from day 7) of the squared difference of
 * log(1 + 7-day mean reported cases), simulated (ensemble mean, real-city units) vs observed. */
static double loss(fit_ctx *c, const double *p, civ_error *err)
{
    apply(c, p);
    civ_study *s = c->s;
    const int T = c->fit_days, seeds = c->o->seeds;
    double *sim = civ_xcalloc((size_t)T * CIV_NBOROUGH, sizeof(double));
    const uint64_t seed0 = s->seed;
    for (int k = 0; k < seeds; k++) {
        s->seed = seed0 + (uint64_t)(c->seed_offset + k);
        civ_engine e;
        if (civ_engine_init(&e, s, c->pop, c->threads, &civ_backend_cpu, 0, err)) { s->seed = seed0; free(sim); return NAN; }
        const int nb = e.n_out_bands;
        while (e.day < T) {
            civ_engine_step(&e, err);
            for (int b = 0; b < CIV_NBOROUGH; b++)
                for (int a = 0; a < nb; a++)
                    sim[(e.day - 1) * CIV_NBOROUGH + b] += e.series[(CIV_VAR_NEW_REPORTED_CASES * CIV_NBOROUGH + b) * nb + a];
        }
        civ_engine_free(&e);
    }
    s->seed = seed0;
    double total = 0;
    int n = 0;
    for (int b = 0; b < CIV_NBOROUGH; b++)
        for (int t = 7; t < T; t++) {
            double ss = 0, so = 0;
            for (int d = t - 6; d <= t; d++) { ss += sim[d * CIV_NBOROUGH + b]; so += c->obs.cases[d * CIV_NBOROUGH + b]; }
            double a = log1p(ss / 7.0 / seeds / c->pop->scale), o = log1p(so / 7.0);
            total += (a - o) * (a - o);
            n++;
        }
    free(sim);
    c->evaluations++;
    return total / n;
}

/* Nelder-Mead (standard coefficients) in the unconstrained coordinates of the active parameters. */
static double nelder_mead(fit_ctx *c, double *best_p, civ_error *err, civ_bar *bar, int *done)
{
    const int n = c->n_active;
    int idx[N_PARAMS], m = 0;
    for (int k = 0; k < N_PARAMS; k++) if (c->active[k]) idx[m++] = k;
    double x[N_PARAMS + 1][N_PARAMS], f[N_PARAMS + 1], p[N_PARAMS];
    memcpy(p, c->start, sizeof p);
    for (int v = 0; v <= n; v++) {
        for (int j = 0; j < n; j++) x[v][j] = to_x(idx[j], c->start[idx[j]]) + (v == j + 1 ? 0.6 : 0.0);
        for (int j = 0; j < n; j++) p[idx[j]] = to_p(idx[j], x[v][j]);
        f[v] = loss(c, p, err);
        civ_bar_update(bar, ++*done, NULL);
    }
    while (c->evaluations < c->o->max_evaluations) {
        /* order */
        for (int a = 0; a <= n; a++)
            for (int b = a + 1; b <= n; b++)
                if (f[b] < f[a]) {
                    double tf = f[a]; f[a] = f[b]; f[b] = tf;
                    for (int j = 0; j < n; j++) { double t = x[a][j]; x[a][j] = x[b][j]; x[b][j] = t; }
                }
        if (fabs(f[n] - f[0]) < 1e-5 * (fabs(f[0]) + 1e-9)) break;
        double cen[N_PARAMS] = {0}, xr[N_PARAMS], xe[N_PARAMS], xc[N_PARAMS];
        for (int v = 0; v < n; v++) for (int j = 0; j < n; j++) cen[j] += x[v][j] / n;
        #define EVAL(vec, out) do { for (int j_ = 0; j_ < n; j_++) p[idx[j_]] = to_p(idx[j_], (vec)[j_]); \
                                    out = loss(c, p, err); civ_bar_update(bar, ++*done, NULL); } while (0)
        double fr, fe, fc;
        for (int j = 0; j < n; j++) xr[j] = cen[j] + (cen[j] - x[n][j]);
        EVAL(xr, fr);
        if (fr < f[0]) {
            for (int j = 0; j < n; j++) xe[j] = cen[j] + 2 * (cen[j] - x[n][j]);
            EVAL(xe, fe);
            if (fe < fr) { memcpy(x[n], xe, sizeof xe); f[n] = fe; } else { memcpy(x[n], xr, sizeof xr); f[n] = fr; }
        } else if (fr < f[n - 1]) {
            memcpy(x[n], xr, sizeof xr); f[n] = fr;
        } else {
            int outside = fr < f[n];
            for (int j = 0; j < n; j++) xc[j] = outside ? cen[j] + 0.5 * (xr[j] - cen[j]) : cen[j] + 0.5 * (x[n][j] - cen[j]);
            EVAL(xc, fc);
            if (fc < (outside ? fr : f[n])) { memcpy(x[n], xc, sizeof xc); f[n] = fc; }
            else {
                for (int v = 1; v <= n; v++) {
                    for (int j = 0; j < n; j++) x[v][j] = x[0][j] + 0.5 * (x[v][j] - x[0][j]);
                    EVAL(x[v], f[v]);
                }
            }
        }
        #undef EVAL
        if (err->status) break;
    }
    int best = 0;
    for (int v = 1; v <= n; v++) if (f[v] < f[best]) best = v;
    memcpy(best_p, c->start, sizeof c->start);
    for (int j = 0; j < n; j++) best_p[idx[j]] = to_p(idx[j], x[best][j]);
    return f[best];
}

/* Path of `target` (absolute) relative to the directory of `output`, so the calibrated study can be moved
 * together with the study it overrides. */
static void relative_to_output(const char *target, const char *output, char *out, size_t n)
{
    char *od = strdup(output);
    char *slash = strrchr(od, '/');
    if (slash) *slash = 0; else strcpy(od, ".");
    char *dir = realpath(od, NULL);
    free(od);
    if (!dir || target[0] != '/') { snprintf(out, n, "%s", target); free(dir); return; }
    size_t common = 0, k = 0;
    while (dir[k] && target[k] && dir[k] == target[k]) { if (dir[k] == '/') common = k; k++; }
    if (!dir[k] && target[k] == '/') common = k;
    out[0] = 0;
    for (const char *q = dir + common; *q; q++) if (*q == '/') strncat(out, "../", n - strlen(out) - 1);
    strncat(out, target + common + 1, n - strlen(out) - 1);
    free(dir);
}

/* cJSON_Print's text with the final newline a text file ends with */
static char *with_newline(char *text)
{
    size_t n = strlen(text);
    char *t = realloc(text, n + 2);
    if (!t) abort();
    t[n] = '\n';
    t[n + 1] = 0;
    return t;
}

civ_status civ_calibrate(const civ_calibrate_options *o, civ_error *err)
{
    civ_study s;
    civ_study_overrides ov = {o->scale, o->steps, -1, NULL, NULL, "heuristic", NULL, true, NULL};
    civ_status st = civ_study_load(o->study, &ov, &s, err);
    if (st) { civ_study_free(&s); return st; }
    fit_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.s = &s;
    int fit_until;
    if (!civ_date_parse(o->fit_until, &fit_until)) {
        civ_study_free(&s);
        return civ_fail(err, CIV_ERR_USAGE, "--fit-until '%s': expected YYYY-MM-DD", o->fit_until);
    }
    c.fit_days = fit_until - s.start_day + 1;
    if (c.fit_days < 14 || c.fit_days > s.steps) {
        char a[11], b[11];
        civ_date_format(s.start_day + 13, a);
        civ_date_format(s.start_day + s.steps - 1, b);
        civ_study_free(&s);
        return civ_fail(err, CIV_ERR_INPUT, "--fit-until %s must lie between %s and %s (the study's dates)", o->fit_until, a, b);
    }
    if (!s.observed_file) {
        civ_study_free(&s);
        return civ_fail(err, CIV_ERR_INPUT, "%s: calibration needs observed data: the study must name 'observed'", o->study);
    }
    if ((st = civ_observed_load(s.observed_file, s.start_day, s.steps, &c.obs, err))) { civ_study_free(&s); return st; }
    c.active[P_BETA] = c.active[P_INITIAL] = 1;
    c.active[P_TESTING] = o->fit_testing;
    if (o->fit_after_stay_at_home) {
        int has = 0;
        for (int i = 0; i < s.n_iv; i++) has |= s.iv[i].type == IV_WORKPLACE_CLOSURE && s.iv[i].closed == 1 && s.iv[i].day < c.fit_days;
        if (!has) {
            civ_observed_free(&c.obs);
            civ_study_free(&s);
            return civ_fail(err, CIV_ERR_INPUT, "%s: --fit-after-stay-at-home needs a workplace_closure intervention inside the "
                            "fitted window", o->study);
        }
        c.active[P_BETA_PHASE] = 1;
    }
    for (int k = 0; k < N_PARAMS; k++) c.n_active += c.active[k];
    c.base_policy = s.base_policy;
    c.initial = s.initial_per_100k;
    c.seek_scale = s.seek_scale;
    c.beta_after = s.beta_after_stay_at_home;
    c.start[P_BETA] = s.base_policy.beta;
    c.start[P_BETA_PHASE] = s.beta_after_stay_at_home >= 0 ? s.beta_after_stay_at_home : s.base_policy.beta * 0.5;
    c.start[P_INITIAL] = s.initial_per_100k > 0 ? s.initial_per_100k : 10;
    c.start[P_TESTING] = s.seek_scale;
    for (int k = 0; k < N_PARAMS; k++) c.start[k] = fmin(fmax(c.start[k], param_lo[k] * 1.01), param_hi[k] * 0.99);
    c.threads = o->threads;
#ifdef _OPENMP
    if (c.threads <= 0) c.threads = omp_get_max_threads();
#else
    c.threads = 1;
#endif
    civ_population pop;
    char src[2048];
    if ((st = civ_study_population(&s, o->quiet, &pop, src, sizeof src, err))) { civ_observed_free(&c.obs); civ_study_free(&s); return st; }
    c.pop = &pop;

    if (!o->quiet)
        fprintf(stderr, "civitas: calibrating %d parameters of '%s' to reported cases %s %s (%d days; later days held out), "
                "%d seeds per evaluation, %d restart(s), up to %d evaluations each\n", c.n_active, s.name,
                "from the start to", o->fit_until, c.fit_days, o->seeds, o->restarts, o->max_evaluations);
    civ_bar bar;
    civ_bar_start(&bar, "civitas: calibrating", o->restarts * (o->max_evaluations + 8), o->quiet);
    int done = 0;
    double fits[16][N_PARAMS], losses[16];
    double t0 = civ_now();
    for (int r = 0; r < o->restarts && !err->status; r++) {
        c.seed_offset = r * o->seeds;
        c.evaluations = 0;
        losses[r] = nelder_mead(&c, fits[r], err, &bar, &done);
    }
    civ_bar_end(&bar, NULL);
    if (err->status) goto out;

    double mean[N_PARAMS] = {0}, sd[N_PARAMS] = {0};
    for (int k = 0; k < N_PARAMS; k++) {
        for (int r = 0; r < o->restarts; r++) mean[k] += fits[r][k] / o->restarts;
        for (int r = 0; r < o->restarts; r++) sd[k] += (fits[r][k] - mean[k]) * (fits[r][k] - mean[k]);
        sd[k] = o->restarts > 1 ? sqrt(sd[k] / (o->restarts - 1)) : 0;
    }
    /* calibrated study: the original as base, with the fitted values */
    cJSON *cal = cJSON_CreateObject();
    char *abs_study = realpath(o->study, NULL);
    char rel[4096];
    relative_to_output(abs_study ? abs_study : o->study, o->output, rel, sizeof rel);
    cJSON_AddStringToObject(cal, "base", rel);
    char name[256];
    snprintf(name, sizeof name, "%s_calibrated", s.name);
    cJSON_AddStringToObject(cal, "name", name);
    char note[512];
    snprintf(note, sizeof note, "civitas calibrate: fitted to observed reported cases up to %s (later days held out), "
             "%d seeds x %d restarts at scale %g; see %s.fit.json", o->fit_until, o->seeds, o->restarts, pop.scale,
             strrchr(o->output, '/') ? strrchr(o->output, '/') + 1 : o->output);
    cJSON_AddStringToObject(cal, "note", note);
    cJSON *params = cJSON_AddObjectToObject(cal, "parameters");
    cJSON_AddNumberToObject(params, "beta", mean[P_BETA]);
    cJSON *ini = cJSON_AddObjectToObject(cal, "initial_infections");
    cJSON_AddNumberToObject(ini, "per_100k", mean[P_INITIAL]);
    /* merge-friendly fields only (no interventions), so counterfactuals based on this file keep them */
    if (c.active[P_TESTING]) {
        cJSON *te = cJSON_AddObjectToObject(cal, "testing");
        cJSON_AddNumberToObject(te, "seek_scale", mean[P_TESTING]);
    }
    if (c.active[P_BETA_PHASE]) {
        cJSON *tr = cJSON_AddObjectToObject(cal, "transmission");
        cJSON_AddNumberToObject(tr, "after_stay_at_home", mean[P_BETA_PHASE]);
    }
    char *text = cJSON_Print(cal);
    cJSON_Delete(cal);
    free(abs_study);
    /* summary */
    cJSON *sum = cJSON_CreateObject();
    cJSON_AddStringToObject(sum, "study", o->study);
    cJSON_AddStringToObject(sum, "fit_until", o->fit_until);
    cJSON_AddNumberToObject(sum, "scale", pop.scale);
    cJSON_AddNumberToObject(sum, "seeds_per_evaluation", o->seeds);
    cJSON_AddNumberToObject(sum, "restarts", o->restarts);
    cJSON_AddNumberToObject(sum, "seconds", civ_now() - t0);
    cJSON_AddStringToObject(sum, "objective", "mean squared difference of log(1 + 7-day mean reported cases) per borough and day, "
                            "simulated ensemble mean (real-city units) vs observed, fitted window from day 7");
    cJSON *fp = cJSON_AddObjectToObject(sum, "parameters");
    for (int k = 0; k < N_PARAMS; k++) {
        if (!c.active[k]) continue;
        cJSON *e = cJSON_AddObjectToObject(fp, param_name[k]);
        cJSON_AddNumberToObject(e, "mean", mean[k]);
        cJSON_AddNumberToObject(e, "sd", sd[k]);
        cJSON *all = cJSON_AddArrayToObject(e, "restarts");
        for (int r = 0; r < o->restarts; r++) cJSON_AddItemToArray(all, cJSON_CreateNumber(fits[r][k]));
    }
    cJSON *ls = cJSON_AddArrayToObject(sum, "loss");
    for (int r = 0; r < o->restarts; r++) cJSON_AddItemToArray(ls, cJSON_CreateNumber(losses[r]));
    char *sumtext = cJSON_Print(sum);
    cJSON_Delete(sum);
    char sumpath[4096];
    snprintf(sumpath, sizeof sumpath, "%s.fit.json", o->output);
    text = with_newline(text);
    sumtext = with_newline(sumtext);
    /* the summary first: the calibrated study's note points to it */
    if (civ_write_file_atomic(sumpath, sumtext) != 0)
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot write the calibration summary: %m", sumpath);
    else if (civ_write_file_atomic(o->output, text) != 0)
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot write calibrated study: %m", o->output);
    if (!st && !o->quiet) {
        fprintf(stderr, "civitas: fitted (mean +- sd over %d restarts):", o->restarts);
        for (int k = 0; k < N_PARAMS; k++) if (c.active[k]) fprintf(stderr, " %s %.4g +- %.2g;", param_name[k], mean[k], sd[k]);
        fprintf(stderr, "\ncivitas: wrote %s and %s (%.0fs)\n", o->output, sumpath, civ_now() - t0);
    }
    free(text);
    free(sumtext);
out:
    civ_population_free(&pop);
    civ_observed_free(&c.obs);
    civ_study_free(&s);
    return err->status ? err->status : st;
}
