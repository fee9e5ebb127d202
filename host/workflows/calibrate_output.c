#include "host/workflows/calibrate_output.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/population/population.h"
#include "host/util/date.h"
#include "host/util/file.h"
#include "host/util/json_path.h"

void civ_cal_summarise(const double *values, const double *w, int n, int dim, int k, civ_cal_summary *out)
{
    double *v = civ_xmalloc(sizeof(double) * (size_t)n), sw = 0, m = 0, m2 = 0;
    for (int i = 0; i < n; i++) {
        v[i] = values[(size_t)i * dim + k];
        sw += w[i];
        m += w[i] * v[i];
    }
    m /= sw;
    for (int i = 0; i < n; i++) m2 += w[i] * (v[i] - m) * (v[i] - m);
    out->mean = m;
    out->sd = sqrt(m2 / sw);
    out->p05 = civ_abc_weighted_quantile(v, w, n, 0.05);
    out->median = civ_abc_weighted_quantile(v, w, n, 0.5);
    out->p95 = civ_abc_weighted_quantile(v, w, n, 0.95);
    free(v);
}

/* `target` relative to the directory of `output`, so the written files can move together with the
 * files they name */
static void relative_to_output(const char *target, const char *output, char *out, size_t n)
{
    char *od = strdup(output);
    char *slash = strrchr(od, '/');
    if (slash) *slash = 0; else strcpy(od, ".");
    civ_path_relative(target, od, out, n);
    free(od);
}

static const char *base_name(const char *p) { return strrchr(p, '/') ? strrchr(p, '/') + 1 : p; }

/* CALIBRATED.json -> CALIBRATED.posterior.csv */
static void posterior_path(const char *output, char *buf, size_t n)
{
    snprintf(buf, n, "%s", output);
    size_t len = strlen(buf);
    if (len > 5 && strcmp(buf + len - 5, ".json") == 0) buf[len - 5] = 0;
    strncat(buf, ".posterior.csv", n - strlen(buf) - 1);
}

static char *print_with_newline(cJSON *j)
{
    char *text = cJSON_Print(j);
    size_t n = strlen(text);
    char *t = civ_xmalloc(n + 2);
    memcpy(t, text, n);
    t[n] = '\n';
    t[n + 1] = 0;
    cJSON_free(text);
    return t;
}

static cJSON *summary_json(const civ_cal_summary *s, int with_moments)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "median", s->median);
    cJSON_AddNumberToObject(o, "p05", s->p05);
    cJSON_AddNumberToObject(o, "p95", s->p95);
    if (with_moments) {
        cJSON_AddNumberToObject(o, "mean", s->mean);
        cJSON_AddNumberToObject(o, "sd", s->sd);
    }
    return o;
}

static cJSON *prior_json(const civ_prior *p)
{
    static const char *const a_name[] = {"median", "min", "min", "a", "mean"};
    static const char *const b_name[] = {"sd_log", "max", "max", "b", "sd"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "distribution", civ_prior_name(p->kind));
    cJSON_AddNumberToObject(o, a_name[p->kind], p->a);
    cJSON_AddNumberToObject(o, b_name[p->kind], p->b);
    return o;
}

static void add_date(cJSON *o, const char *key, int day)
{
    char d[11];
    civ_date_format(day, d);
    cJSON_AddStringToObject(o, key, d);
}

static cJSON *likelihood_json(const civ_cal_result *r)
{
    const civ_fit_data *f = &r->sp->fit;
    const int start = r->study->start_day;
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "counts", "negative binomial per borough (or city) and bin, mean = simulated count / population "
                            "scale (real-city units; a simulated zero counts as half an event), size = the target's dispersion "
                            "(variance mean + mean^2 / dispersion); weekly bins end on fit_until");
    cJSON_AddStringToObject(l, "serosurvey", "normal on the logit scale of the share ever infected in the group by the date "
                            "(1 - susceptible / people), sd = (logit(ci95 high) - logit(ci95 low)) / 3.92");
    cJSON *ts = cJSON_AddArrayToObject(l, "targets");
    for (int i = 0; i < f->n_targets; i++) {
        const civ_count_target *t = &f->targets[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "series", civ_fit_series_name[t->series]);
        cJSON_AddBoolToObject(o, "by_borough", t->by_borough);
        cJSON_AddStringToObject(o, "aggregation", t->bin_days == 7 ? "weekly" : "daily");
        cJSON_AddNumberToObject(o, "dispersion", t->dispersion);
        const int bins = civ_fit_target_observations(f, i) / (t->by_borough ? CIV_NBOROUGH : 1);
        add_date(o, "first_bin_ends", start + f->fit_day - (bins - 1) * t->bin_days);
        cJSON_AddNumberToObject(o, "observations", civ_fit_target_observations(f, i));
        cJSON_AddItemToArray(ts, o);
    }
    cJSON *ss = cJSON_AddArrayToObject(l, "serosurvey_targets");
    for (int j = 0; j < f->n_sero; j++) {
        const civ_sero_target *t = &f->sero[j];
        cJSON *o = cJSON_CreateObject();
        add_date(o, "date", start + t->day);
        cJSON_AddNumberToObject(o, "share", t->share);
        cJSON *ci = cJSON_AddArrayToObject(o, "ci95");
        cJSON_AddItemToArray(ci, cJSON_CreateNumber(t->ci_low));
        cJSON_AddItemToArray(ci, cJSON_CreateNumber(t->ci_high));
        cJSON_AddNumberToObject(o, "sd_logit", civ_sero_sd_logit(t));
        cJSON_AddNumberToObject(o, "min_age", t->min_age);
        cJSON_AddStringToObject(o, "borough", t->borough < 0 ? "city" : civ_borough_code[t->borough]);
        cJSON_AddItemToArray(ss, o);
    }
    const civ_age_target *at = &f->age;
    if (at->n_bands) {
        cJSON_AddStringToObject(l, "deaths_by_age", "negative binomial per age band and week (Sunday to Saturday): observed = "
                                "the week's death rate per 100,000 x the band's simulated people / population scale, rounded; "
                                "mean = simulated deaths / population scale; size = its dispersion");
        cJSON *a = cJSON_AddObjectToObject(l, "deaths_by_age_target");
        cJSON *bs = cJSON_AddArrayToObject(a, "bands");
        for (int j = 0; j < at->n_bands; j++) {
            char label[16];
            civ_age_band_label(f->band_edges, f->n_bands, at->band[j], label, sizeof label);
            cJSON_AddItemToArray(bs, cJSON_CreateString(label));
        }
        cJSON_AddNumberToObject(a, "dispersion", at->dispersion);
        add_date(a, "first_week_ends", start + at->week_end[0]);
        add_date(a, "last_week_ends", start + at->week_end[at->n_weeks - 1]);
        cJSON_AddNumberToObject(a, "observations", at->n_weeks * at->n_bands);
    }
    return l;
}

/* the name of term k (a target or a survey) */
static void term_name(const civ_fit_data *f, int k, char *buf, size_t n)
{
    if (k < f->n_targets) snprintf(buf, n, "%s", civ_fit_series_name[f->targets[k].series]);
    else if (k < f->n_targets + f->n_sero) snprintf(buf, n, "serosurvey[%d]", k - f->n_targets);
    else snprintf(buf, n, "deaths_by_age");
}

static cJSON *fit_json(const civ_cal_result *r, const char *study_rel, const char *posterior_name)
{
    const civ_cal_spec *sp = r->sp;
    const int D = sp->n_params;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "schema", "civitas-calibration/1");
    char method[1024];
    snprintf(method, sizeof method, "ABC-SMC (population Monte Carlo: Toni et al. 2009, Beaumont et al. 2009): distance = "
             "negative log-likelihood of one simulation per particle; tolerance = a quantile of the previous generation's "
             "distances; Gaussian perturbation %s; importance weights prior / kernel mixture",
             sp->kernel == CIV_ABC_KERNEL_LOCAL ?
             "in the priors' unbounded coordinates, each particle's covariance the weighted second moment about it of the "
             "previous generation's particles within the new tolerance (optimal local covariance, Filippi et al. 2013)" :
             "with twice the weighted covariance in the priors' unbounded coordinates");
    cJSON_AddStringToObject(j, "method", method);
    cJSON_AddStringToObject(j, "study", study_rel);
    cJSON_AddStringToObject(j, "calibrated_study", base_name(r->output));
    cJSON_AddStringToObject(j, "posterior", posterior_name);
    add_date(j, "fit_until", sp->fit_until);
    if (sp->held_out_from != INT_MAX) add_date(j, "held_out_from", sp->held_out_from);
    cJSON_AddNumberToObject(j, "scale", r->scale);
    cJSON_AddNumberToObject(j, "agents", r->agents);
    cJSON *s = cJSON_AddObjectToObject(j, "settings");
    cJSON_AddNumberToObject(s, "particles", sp->particles);
    cJSON_AddNumberToObject(s, "max_generations", sp->max_generations);
    cJSON_AddNumberToObject(s, "max_simulations", sp->max_simulations);
    cJSON_AddNumberToObject(s, "quantile", sp->quantile);
    cJSON_AddNumberToObject(s, "min_acceptance", sp->min_acceptance);
    cJSON_AddNumberToObject(s, "min_tolerance_decrease", sp->min_tolerance_decrease);
    cJSON_AddStringToObject(s, "kernel", sp->kernel == CIV_ABC_KERNEL_LOCAL ? "local" : "global");
    cJSON_AddNumberToObject(s, "seed", (double)sp->seed);
    cJSON_AddItemToObject(j, "likelihood", likelihood_json(r));
    cJSON *ps = cJSON_AddObjectToObject(j, "parameters");
    civ_cal_summary post[CIV_CAL_MAX_PARAMS];
    for (int k = 0; k < D; k++) {
        civ_cal_summarise(r->values, r->final->w, r->final->n, D, k, &post[k]);
        cJSON *p = cJSON_AddObjectToObject(ps, sp->params[k].path);
        cJSON_AddItemToObject(p, "prior", prior_json(&sp->params[k].prior));
        cJSON_AddItemToObject(p, "prior_interval", summary_json(&r->prior[k], 0));
        cJSON_AddStringToObject(p, "source", sp->params[k].source);
        cJSON_AddItemToObject(p, "posterior", summary_json(&post[k], 1));
    }
    cJSON *gs = cJSON_AddArrayToObject(j, "generations");
    for (int t = 0; t < r->n_generations; t++) {
        const civ_cal_generation *g = &r->generations[t];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "generation", t);
        if (isinf(g->tolerance)) cJSON_AddNullToObject(o, "tolerance");
        else cJSON_AddNumberToObject(o, "tolerance", g->tolerance);
        cJSON_AddNumberToObject(o, "proposals", g->proposals);
        cJSON_AddNumberToObject(o, "stopped_early", g->stopped_early);
        cJSON_AddNumberToObject(o, "acceptance_rate", g->acceptance);
        cJSON_AddNumberToObject(o, "ess", g->ess);
        cJSON_AddNumberToObject(o, "best_loss", g->best_loss);
        cJSON_AddNumberToObject(o, "seconds", g->seconds);
        cJSON *gp = cJSON_AddObjectToObject(o, "posterior");
        for (int k = 0; k < D; k++) cJSON_AddItemToObject(gp, sp->params[k].path, summary_json(&g->post[k], 0));
        cJSON_AddItemToArray(gs, o);
    }
    cJSON *b = cJSON_AddObjectToObject(j, "best");
    cJSON_AddNumberToObject(b, "loss", r->best_loss);
    cJSON_AddNumberToObject(b, "generation", r->best_generation);
    cJSON_AddNumberToObject(b, "seed", (double)r->best_seed);
    cJSON *bv = cJSON_AddObjectToObject(b, "values");
    for (int k = 0; k < D; k++) cJSON_AddNumberToObject(bv, sp->params[k].path, r->best_values[k]);
    cJSON *bt = cJSON_AddObjectToObject(b, "terms");
    for (int k = 0; k < civ_fit_n_terms(&sp->fit); k++) {
        char name[32];
        term_name(&sp->fit, k, name, sizeof name);
        cJSON_AddNumberToObject(bt, name, r->best_terms[k]);
    }
    cJSON *st = cJSON_AddObjectToObject(j, "stopped");
    cJSON_AddStringToObject(st, "reason", r->stop_reason ? r->stop_reason : "max_generations");
    cJSON_AddBoolToObject(st, "converged", r->converged);
    cJSON_AddStringToObject(st, "message", r->stop_message);
    cJSON *tm = cJSON_AddObjectToObject(j, "timings");
    cJSON_AddStringToObject(tm, "note", "only this section depends on the machine and the number of MPI ranks "
                            "(simulations run in vain after a generation's last acceptance vary with the batches)");
    cJSON_AddNumberToObject(tm, "seconds", r->seconds);
    cJSON_AddNumberToObject(tm, "simulations", (double)r->simulations);
    cJSON_AddNumberToObject(tm, "simulations_in_vain", (double)(r->simulations - r->proposals));
    cJSON_AddNumberToObject(tm, "simulated_days", (double)r->simulated_days);
    cJSON_AddNumberToObject(tm, "seconds_per_simulation", r->seconds * r->ranks / (double)r->simulations);
    cJSON_AddNumberToObject(tm, "mpi_ranks", r->ranks);
    cJSON_AddNumberToObject(tm, "threads_per_rank", r->threads);
    cJSON_AddStringToObject(j, "civitas_version", CIVITAS_VERSION);
    return j;
}

/* The calibrated study: the input as base, its fitted fields at the posterior medians. A path through
 * an array carries the whole array (a merge patch replaces arrays), taken from the merged input. */
static civ_status calibrated_json(const civ_cal_result *r, const char *study_rel, const char *posterior_name, cJSON **out,
                                  civ_error *err)
{
    const civ_cal_spec *sp = r->sp;
    cJSON *cal = cJSON_CreateObject();
    cJSON_AddStringToObject(cal, "base", study_rel);
    char text[1024];
    snprintf(text, sizeof text, "%s_calibrated", r->study->name);
    cJSON_AddStringToObject(cal, "name", text);
    char until[11];
    civ_date_format(sp->fit_until, until);
    snprintf(text, sizeof text, "civitas calibrate (ABC-SMC, %d particles, %d generations, scale %g): the fitted fields are the "
             "posterior medians, fitted to observed data up to %s; single runs use them, ensembles draw one weighted "
             "parameter set per run from 'posterior'. %s. See %s.fit.json", sp->particles, r->n_generations, r->scale, until,
             r->converged ? "Converged" : "NOT converged", base_name(r->output));
    cJSON_AddStringToObject(cal, "note", text);
    cJSON_AddStringToObject(cal, "posterior", posterior_name);
    for (int k = 0; k < sp->n_params; k++) {
        const char *path = sp->params[k].path, *bracket = strchr(path, '[');
        char why[256];
        if (bracket) {
            char outer[CIV_CAL_MAX_PATH];
            snprintf(outer, sizeof outer, "%.*s", (int)(bracket - path), path);
            if (!civ_json_path_get(cal, outer)) {
                const cJSON *arr = civ_json_path_get(r->study->resolved, outer);
                cJSON *copy = cJSON_Duplicate(arr, 1);
                /* place the copied array: create its parents, then swap the placeholder number for it */
                if (!civ_json_path_set(cal, outer, 0, why, sizeof why)) { cJSON_Delete(copy); goto fail; }
                char parent[CIV_CAL_MAX_PATH], *dot = strrchr(outer, '.');
                cJSON *holder = cal;
                if (dot) {
                    snprintf(parent, sizeof parent, "%.*s", (int)(dot - outer), outer);
                    holder = (cJSON *)civ_json_path_get(cal, parent);
                }
                cJSON_ReplaceItemInObjectCaseSensitive(holder, dot ? dot + 1 : outer, copy);
            }
        }
        civ_cal_summary m;
        civ_cal_summarise(r->values, r->final->w, r->final->n, sp->n_params, k, &m);
        if (!civ_json_path_set(cal, path, m.median, why, sizeof why)) goto fail;
        continue;
    fail:
        cJSON_Delete(cal);
        return civ_fail(err, CIV_ERR_RUNTIME, "%s: cannot write the calibrated value of '%s': %s", r->output, path, why);
    }
    *out = cal;
    return CIV_OK;
}

static void write_posterior(const civ_cal_result *r, FILE *f)
{
    const int D = r->sp->n_params;
    fprintf(f, "particle");
    for (int k = 0; k < D; k++) fprintf(f, ",%s", r->sp->params[k].path);
    fprintf(f, ",weight,distance\n");
    for (int i = 0; i < r->final->n; i++) {
        fprintf(f, "%d", i);
        for (int k = 0; k < D; k++) fprintf(f, ",%.17g", r->values[(size_t)i * D + k]);
        fprintf(f, ",%.17g,%.17g\n", r->final->w[i], r->final->dist[i]);
    }
}

/* the three outputs: the fit record, the posterior sample, the calibrated study */
static void output_paths(const char *output, char fit[PATH_MAX + 16], char post[PATH_MAX])
{
    posterior_path(output, post, PATH_MAX);
    snprintf(fit, PATH_MAX + 16, "%s.fit.json", output);
}

civ_status civ_cal_check_outputs(const char *output, civ_error *err)
{
    char post[PATH_MAX], fit[PATH_MAX + 16];
    output_paths(output, fit, post);
    civ_status st;
    if ((st = civ_output_check(output, err)) || (st = civ_output_check(post, err)) || (st = civ_output_check(fit, err)))
        return st;
    return CIV_OK;
}

civ_status civ_cal_write(const civ_cal_result *r, civ_error *err)
{
    char study_rel[PATH_MAX], post[PATH_MAX], fit[PATH_MAX + 16];
    relative_to_output(r->study_path, r->output, study_rel, sizeof study_rel);
    output_paths(r->output, fit, post);
    cJSON *cal = NULL;
    civ_status st = calibrated_json(r, study_rel, base_name(post), &cal, err);
    if (st) return st;
    cJSON *fj = fit_json(r, study_rel, base_name(post));
    char *fit_text = print_with_newline(fj), *cal_text = print_with_newline(cal);
    cJSON_Delete(fj);
    cJSON_Delete(cal);
    /* all three written in full before any is renamed into place: a failure leaves none of them */
    civ_output out[3];
    const char *paths[3] = {fit, post, r->output};
    int claimed = 0;
    for (; claimed < 3 && !st; claimed++)
        if ((st = civ_output_begin(&out[claimed], paths[claimed], err))) break;
    for (int k = 0; k < 3 && !st; k++) {
        FILE *f = civ_output_text(&out[k], err);
        if (!f) { st = err->status; break; }
        if (k == 0) fputs(fit_text, f);
        else if (k == 1) write_posterior(r, f);
        else fputs(cal_text, f);
    }
    for (int k = 0; k < claimed; k++) {
        if (!st) st = civ_output_commit(&out[k], err);
        else civ_output_abandon(&out[k]);
    }
    free(fit_text);
    free(cal_text);
    return st;
}
