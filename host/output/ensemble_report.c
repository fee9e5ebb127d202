/* The counterfactual report of an ensemble file: the base study and its counterfactuals (scenarios) per
 * area with medians and 5-95% bands, the outcomes each scenario averts relative to the base (paired run
 * by run: same seed, same posterior draw) with intervals, over a window the user chooses, and the base
 * alone against the observed data (scenarios are never scored against what happened). Real-city
 * units throughout. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/output/ensemble_stats.h"
#include "host/output/ensemble_validation.h"
#include "host/output/plot.h"
#include "host/output/report.h"
#include "host/output/report_doc.h"
#include "host/output/units.h"
#include "host/population/population.h"
#include "host/util/date.h"

typedef struct {
    const civ_ens *e;
    bool log_y;
    int holdout;
} chart_arg;

static civ_status draw_chart(FILE *out, void *arg, civ_error *err)
{
    const chart_arg *a = arg;
    return civ_ens_chart(a->e, true, a->log_y, a->holdout, out, err);
}

/* "12,300 [9,870, 15,100]" */
static void fmt_interval(civ_interval v, char *buf, size_t n)
{
    char m[40], lo[40], hi[40];
    civ_fmt_count(v.median, 3, m, sizeof m);
    civ_fmt_count(v.p05, 3, lo, sizeof lo);
    civ_fmt_count(v.p95, 3, hi, sizeof hi);
    snprintf(buf, n, "%s [%s, %s]", m, lo, hi);
}

static void fmt_percent(civ_interval v, char *buf, size_t n)
{
    if (isnan(v.median)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.0f%% [%.0f%%, %.0f%%]", v.median, v.p05, v.p95);
}

/* the values of one study's runs for one area from tot[run][area] */
static void study_values(const civ_ens *e, const double *tot, int study, int area, double *out)
{
    for (int k = 0; k < e->seeds; k++) out[k] = tot[((size_t)study * e->seeds + k) * CIV_N_AREAS + area];
}

static void overview(civ_doc *d, const civ_ens *e, int t0, int t1, int holdout, const char *holdout_source)
{
    char a[11], b[11], f0[11], f1[11], scale_text[200], hd[11] = "";
    civ_date_format(e->start_day, a);
    civ_date_format(e->start_day + e->steps - 1, b);
    civ_date_format(e->start_day + t0, f0);
    civ_date_format(e->start_day + t1, f1);
    civ_scale_statement(e->scale[0], scale_text, sizeof scale_text);
    if (holdout >= 0) civ_date_format(e->start_day + holdout, hd);
    const char *slash = strrchr(e->path, '/');
    civ_doc_heading(d, 2, "overview", "Overview");
    civ_doc_para(d, "Ensemble `%s`: %d studies x %d runs, %d days from %s to %s. The first study, **%s**, is the base; "
                 "the others are **scenarios**: what might have happened under other decisions, not what did. Every "
                 "number is for the real city: %s.", slash ? slash + 1 : e->path, e->n_studies, e->seeds, e->steps, a, b,
                 e->study[0], scale_text);
    civ_doc_para(d, "Outcome tables cover %s to %s (both included; `--from`/`--to` choose them). %s", f0, f1,
                 holdout >= 0 ? "" : "No held-out boundary falls inside the simulated dates.");
    if (holdout >= 0)
        civ_doc_para(d, "Days from %s on are **held out** (%s; dashed line in the figures): a calibration that held "
                     "them out never saw them, so the base's agreement with the observed data there is a test.", hd,
                     holdout_source);
    static const char *const head[6] = {"study", "role", "runs", "seeds", "population scale", "paired with the base"};
    civ_doc_table_start(d, 6, head);
    for (int i = 0; i < e->n_studies; i++) {
        char runs[16], seeds[64], scale[32], paired[200];
        snprintf(runs, sizeof runs, "%d", e->seeds);
        snprintf(seeds, sizeof seeds, "%lld to %lld", (long long)e->seed[i * e->seeds],
                 (long long)e->seed[i * e->seeds + e->seeds - 1]);
        snprintf(scale, sizeof scale, "%g", e->scale[i]);
        if (i == 0) snprintf(paired, sizeof paired, "-");
        else {
            int same_seed, same_draw;
            civ_pairing(e, i, &same_seed, &same_draw);
            size_t n = (size_t)snprintf(paired, sizeof paired, "%d of %d runs by seed", same_seed, e->seeds);
            if (same_draw >= 0) snprintf(paired + n, sizeof paired - n, ", %d of %d by posterior draw", same_draw, e->seeds);
            else snprintf(paired + n, sizeof paired - n, " (no posterior draws)");
        }
        const char *cells[6] = {e->study[i], i ? "scenario" : "base", runs, seeds, scale, paired};
        civ_doc_table_row(d, cells);
    }
    civ_doc_table_end(d);
}

static void averted_tables(civ_doc *d, const civ_ens *e, double *const *tot, int t0, int t1)
{
    char f0[11], f1[11];
    civ_date_format(e->start_day + t0, f0);
    civ_date_format(e->start_day + t1, f1);
    civ_doc_heading(d, 2, "averted", "Outcomes averted");
    civ_doc_para(d, "Cumulative outcomes from %s to %s: infections, reported cases, hospital admissions and deaths, "
                 "and unemployment-months (people unemployed, summed over the days, / %.4g days per month). **Averted** "
                 "= base - scenario, computed run by run: run k of the scenario against run k of the base (the same "
                 "seed and, with a calibrated base, the same posterior draw), then the median and the 5%% and 95%% "
                 "quantiles of the %d differences. Negative: the scenario has more. Cells: median [5%%, 95%%].",
                 f0, f1, CIV_DAYS_PER_MONTH, e->seeds);
    const int N = e->seeds;
    double *diff = civ_xmalloc((size_t)N * CIV_N_AREAS * sizeof(double)), *col = civ_xmalloc((size_t)N * sizeof(double));
    double *base = civ_xmalloc((size_t)N * sizeof(double)), *cf = civ_xmalloc((size_t)N * sizeof(double));
    for (int c = 1; c < e->n_studies; c++) {
        char title[300], id[64];
        snprintf(title, sizeof title, "%s (scenario) vs %s (base)", e->study[c], e->study[0]);
        snprintf(id, sizeof id, "averted-%d", c);
        civ_doc_heading(d, 3, id, title);
        static const char *const head[5] = {"New York City", "base", "scenario", "averted", "averted, % of base"};
        civ_doc_table_start(d, 5, head);
        for (int o = 0; o < CIV_N_OUTCOMES; o++) {
            civ_averted(e, tot[o], c, diff);
            study_values(e, tot[o], 0, 0, base);
            int n_share = 0;   /* cf: each pair's averted share of its base run */
            for (int k = 0; k < N; k++) {
                col[k] = diff[(size_t)k * CIV_N_AREAS];
                if (base[k] > 0) cf[n_share] = 100 * col[k] / base[k], n_share++;
            }
            char b[160], s[160], a[160], p[96];
            fmt_interval(civ_interval_of(base, N), b, sizeof b);
            study_values(e, tot[o], c, 0, base);   /* the scenario's own totals */
            fmt_interval(civ_interval_of(base, N), s, sizeof s);
            fmt_interval(civ_interval_of(col, N), a, sizeof a);
            fmt_percent(civ_interval_of(cf, n_share), p, sizeof p);
            const char *cells[5] = {civ_outcomes[o].label, b, s, a, p};
            civ_doc_table_row(d, cells);
        }
        civ_doc_table_end(d);
        const char *bhead[1 + CIV_N_OUTCOMES] = {"averted, by area"};
        for (int o = 0; o < CIV_N_OUTCOMES; o++) bhead[1 + o] = civ_outcomes[o].label;
        civ_doc_table_start(d, 1 + CIV_N_OUTCOMES, bhead);
        char cells_buf[CIV_N_OUTCOMES][160];
        for (int a = 0; a < CIV_N_AREAS; a++) {
            const char *cells[1 + CIV_N_OUTCOMES] = {civ_area_names[a]};
            for (int o = 0; o < CIV_N_OUTCOMES; o++) {
                civ_averted(e, tot[o], c, diff);
                for (int k = 0; k < N; k++) col[k] = diff[(size_t)k * CIV_N_AREAS + a];
                fmt_interval(civ_interval_of(col, N), cells_buf[o], sizeof cells_buf[o]);
                cells[1 + o] = cells_buf[o];
            }
            civ_doc_table_row(d, cells);
        }
        civ_doc_table_end(d);
    }
    if (e->n_studies == 1) civ_doc_para(d, "The ensemble has only the base study: nothing to compare.");
    free(diff); free(col); free(base); free(cf);
}

static void totals_table(civ_doc *d, const civ_ens *e, double *const *tot)
{
    civ_doc_heading(d, 2, "totals", "Totals per study");
    civ_doc_para(d, "Each study's cumulative outcomes in New York City over the same window, over its own runs: "
                 "median [5%%, 95%%].");
    const char *head[1 + CIV_N_OUTCOMES] = {"study"};
    for (int o = 0; o < CIV_N_OUTCOMES; o++) head[1 + o] = civ_outcomes[o].label;
    civ_doc_table_start(d, 1 + CIV_N_OUTCOMES, head);
    double *v = civ_xmalloc((size_t)e->seeds * sizeof(double));
    char buf[CIV_N_OUTCOMES][160], name[300];
    for (int i = 0; i < e->n_studies; i++) {
        snprintf(name, sizeof name, "%s (%s)", e->study[i], i ? "scenario" : "base");
        const char *cells[1 + CIV_N_OUTCOMES] = {name};
        for (int o = 0; o < CIV_N_OUTCOMES; o++) {
            study_values(e, tot[o], i, 0, v);
            fmt_interval(civ_interval_of(v, e->seeds), buf[o], sizeof buf[o]);
            cells[1 + o] = buf[o];
        }
        civ_doc_table_row(d, cells);
    }
    civ_doc_table_end(d);
    free(v);
}

/* The base only, against what was observed, on the fitted and held-out windows. */
static civ_status base_vs_observed(civ_doc *d, const civ_ens *e, int holdout, civ_error *err)
{
    civ_doc_heading(d, 2, "base-vs-observed", "The base against observed data");
    if (!e->observed[0]) {
        civ_doc_para(d, "The base study names no observed data: nothing to compare.");
        return CIV_OK;
    }
    char hd[11] = "", last[11];
    civ_date_format(e->start_day + e->steps - 1, last);
    if (holdout >= 0) civ_date_format(e->start_day + holdout, hd);
    civ_doc_para(d, "Only the base study, **%s**, is compared with what happened (NYC DOHMH counts by date of event). "
                 "Totals per window (%s%s%s); the base's median and 5-95%% band over its %d runs, and the ratio of "
                 "the median to the observed total (the bias). The scenarios are "
                 "not scored against observed data: they describe decisions that were not taken.", e->study[0],
                 holdout >= 0 ? "fitted: before " : "the whole run, to ", holdout >= 0 ? hd : last,
                 holdout >= 0 ? "; held-out: from it on" : "", e->seeds);
    static const char *const head[7] = {"area", "series", "window", "observed", "base median [5%, 95%]", "ratio",
                                        "observed inside the band"};
    civ_doc_table_start(d, 7, head);
    static const int outcome_of_obs[3] = {1, 2, 3};   /* cases, admissions, deaths in civ_outcomes */
    double *v = civ_xmalloc((size_t)e->seeds * sizeof(double)), *tot = civ_xmalloc((size_t)e->n_runs * CIV_N_AREAS * sizeof(double));
    civ_status st = CIV_OK;
    for (int k = 0; k < 3 && !st; k++) {
        double *series = NULL;
        if ((st = civ_ens_series(e, civ_outcomes[outcome_of_obs[k]].var, &series, err))) break;
        for (int w = 0; w < 2; w++) {
            int t0 = w == 0 ? 0 : holdout, t1 = w == 0 ? (holdout >= 0 ? holdout - 1 : e->steps - 1) : e->steps - 1;
            if (w == 1 && holdout < 0) continue;
            civ_outcome_totals(e, series, false, t0, t1, tot);
            char window[64], a[11], b[11];
            civ_date_format(e->start_day + t0, a);
            civ_date_format(e->start_day + t1, b);
            snprintf(window, sizeof window, "%s %s to %s", w ? "held-out" : "fitted", a, b);
            for (int area = 0; area < CIV_N_AREAS; area++) {
                double obs = 0;
                for (int t = t0; t <= t1; t++)
                    for (int bo = 0; bo < CIV_NBOROUGH; bo++)
                        if (area == 0 || area == bo + 1) obs += e->observed[k][t * CIV_NBOROUGH + bo];
                study_values(e, tot, 0, area, v);
                civ_interval iv = civ_interval_of(v, e->seeds);
                char o[40], m[160], ratio[16] = "-";
                civ_fmt_count(obs, 3, o, sizeof o);
                fmt_interval(iv, m, sizeof m);
                if (obs > 0) snprintf(ratio, sizeof ratio, "%.2f", iv.median / obs);
                const char *cells[7] = {civ_area_names[area], civ_outcomes[outcome_of_obs[k]].label, window, o, m, ratio,
                                        obs >= iv.p05 && obs <= iv.p95 ? "yes" : "no"};
                civ_doc_table_row(d, cells);
            }
        }
        free(series);
    }
    civ_doc_table_end(d);
    free(v);
    free(tot);
    return st;
}

civ_status civ_ens_report(const civ_report_options *o, civ_error *err)
{
    civ_ens e;
    civ_status st = civ_ens_open(o->runs[0], &e, err);
    if (st) return st;
    int holdout = -1, t0 = 0, t1 = 0;
    const char *holdout_source = NULL;
    if ((st = civ_holdout_day(o->holdout_from, e.config[0], e.start_day, e.steps, &holdout, &holdout_source, err)) ||
        (st = civ_date_option("from", o->from, e.start_day, e.steps, 0, &t0, err)) ||
        (st = civ_date_option("to", o->to, e.start_day, e.steps, e.steps - 1, &t1, err))) {
        civ_ens_free(&e);
        return st;
    }
    if (t1 < t0) {
        civ_ens_free(&e);
        return civ_fail(err, CIV_ERR_USAGE, "--from %s is after --to %s", o->from ? o->from : "(first day)", o->to ? o->to : "(last day)");
    }
    double *tot[CIV_N_OUTCOMES] = {0};
    for (int k = 0; k < CIV_N_OUTCOMES && !st; k++) {
        double *series = NULL;
        if ((st = civ_ens_series(&e, civ_outcomes[k].var, &series, err))) break;
        tot[k] = civ_xmalloc((size_t)e.n_runs * CIV_N_AREAS * sizeof(double));
        civ_outcome_totals(&e, series, civ_outcomes[k].months, t0, t1, tot[k]);
        free(series);
    }
    bool made_dir = false;
    if (!st) st = civ_doc_make_dir(o->out_dir, &made_dir, err);
    civ_doc d;
    if (!st && !(st = civ_doc_open(&d, o->out_dir, "civitas counterfactual report", err))) {
        overview(&d, &e, t0, t1, holdout, holdout_source);
        averted_tables(&d, &e, tot, t0, t1);
        civ_doc_heading(&d, 2, "figures", "Daily series per borough");
        chart_arg lin = {&e, false, holdout}, lg = {&e, true, holdout};
        st = civ_doc_figure(&d, "ensemble.svg", "Each study's median (line) and 5-95% of its runs (band), observed DOHMH "
                            "series (dotted black), real-city units", draw_chart, &lin, err);
        if (!st) st = civ_doc_figure(&d, "ensemble_log.svg", "The same on logarithmic axes (early growth and small counts)",
                                     draw_chart, &lg, err);
        if (!st) totals_table(&d, &e, tot);
        if (!st) st = base_vs_observed(&d, &e, holdout, err);
        if (!st && e.observed[0]) st = civ_ens_validation(&d, &e, t0, t1, o->data_dir, err);
        if (!st) {
            civ_doc_heading(&d, 2, "method", "Method");
            civ_doc_para(&d, "`civitas ensemble` ran every study for %d seeds (the study's seed, +1, ...); with a calibrated "
                         "base each run also drew one parameter set from the posterior, keyed by the seed and the run's "
                         "index, so run k of every study shares its seed and draw with run k of the base. Bands and "
                         "intervals are the 5%% and 95%% quantiles over the runs (linear interpolation, as numpy.quantile), "
                         "so they carry seed noise and, with a posterior, parameter uncertainty; with %d runs per study "
                         "the outer quantiles are rough. Daily series are 7-day trailing means of each run before the "
                         "quantiles. Simulated counts are divided by the population scale (%g); the raw sample counts "
                         "stay in the ensemble file (`/runs`, with `population_scale` as an attribute).",
                         e.seeds, e.seeds, e.scale[0]);
            civ_doc_para(&d, "Generated by `civitas report`. Observed data: NYC DOHMH, see data/README.md in the civitas "
                         "sources for provenance.");
        }
        st = civ_doc_close(&d, st == CIV_OK, err) ? err->status : st;
    }
    if (st && made_dir) rmdir(o->out_dir);
    for (int k = 0; k < CIV_N_OUTCOMES; k++) free(tot[k]);
    civ_ens_free(&e);
    return st;
}
