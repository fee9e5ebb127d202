#include "host/output/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <hdf5.h>
#include <libgen.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/util/csv.h"
#include "host/util/date.h"
#include "host/util/file.h"
#include "host/util/h5_util.h"
#include "host/output/ensemble_file.h"
#include "host/output/info.h"
#include "host/output/plot.h"
#include "host/output/report_doc.h"
#include "host/output/svg_chart.h"
#include "host/output/units.h"
#include "host/population/population.h"
#include "host/output/trajectory.h"

civ_errors civ_error_metrics(const double *sim, const double *obs, int t0, int t1)
{
    civ_errors e = {NAN, NAN, NAN, NAN, 0};   /* no data: no errors (0 would read as a perfect fit) */
    double sa = 0, so = 0, abs_sum = 0, sq = 0, obs_abs = 0;
    int n = 0;
    for (int t = t0; t < t1; t++) {
        if (isnan(sim[t]) || isnan(obs[t])) continue;
        double d = sim[t] - obs[t];
        abs_sum += fabs(d); sq += d * d; obs_abs += fabs(obs[t]);
        sa += sim[t]; so += obs[t];
        n++;
    }
    if (!n) return e;
    e.n = n;
    e.mae = abs_sum / n;
    e.rmse = sqrt(sq / n);
    e.nd = obs_abs > 0 ? abs_sum / obs_abs : NAN;
    double ma = sa / n, mo = so / n, cov = 0, va = 0, vo = 0;
    for (int t = t0; t < t1; t++) {
        if (isnan(sim[t]) || isnan(obs[t])) continue;
        cov += (sim[t] - ma) * (obs[t] - mo); va += (sim[t] - ma) * (sim[t] - ma); vo += (obs[t] - mo) * (obs[t] - mo);
    }
    e.r = va > 0 && vo > 0 ? cov / sqrt(va * vo) : NAN;
    return e;
}

typedef struct {
    char *path, *name, *status, *mode, *start, *config;
    int steps, start_day;
    double scale;
    uint64_t agents, seed;
    char *laus_path;
    bool scenario;      /* the study says "scenario": true: not scored against observed data */
} run_info;

/* LAUS beside the observed data file (recorded relative to the study file, so found from the study
 * file as recorded when that was named relative to this folder), else in the data folder */
static char *find_laus(const char *observed, const char *study_file, const char *data_dir)
{
    static const char *const name = "nyc_laus_monthly_by_borough.csv";
    char buf[8192];
    if (observed && study_file) {
        char *sf = strdup(study_file), *ob = strdup(observed);
        char *sd = strdup(dirname(sf)), *od = strdup(dirname(ob));
        if (od[0] == '/') snprintf(buf, sizeof buf, "%s/%s", od, name);
        else snprintf(buf, sizeof buf, "%s/%s/%s", sd, od, name);
        free(sf); free(ob); free(sd); free(od);
        if (access(buf, R_OK) == 0) return strdup(buf);
    }
    if (data_dir) {
        snprintf(buf, sizeof buf, "%s/%s", data_dir, name);
        if (access(buf, R_OK) == 0) return strdup(buf);
    }
    return NULL;
}

static civ_status run_meta(const char *path, const char *data_dir, run_info *ri, civ_error *err)
{
    memset(ri, 0, sizeof *ri);
    hid_t f = civ_h5_open_input(path, "run file", err);
    if (f < 0) return err->status;
    char *schema = civ_h5_read_attr_string(f, "schema");
    if (!schema || strcmp(schema, CIV_TRAJ_SCHEMA) != 0) {
        free(schema);
        H5Fclose(f);
        return civ_fail(err, CIV_ERR_INPUT, "%s: not a civitas run file (schema attribute)", path);
    }
    free(schema);
    ri->path = strdup(path);
    ri->name = civ_h5_read_attr_string(f, "study");
    ri->status = civ_h5_read_attr_string(f, "status");
    ri->start = civ_h5_read_attr_string(f, "start_date");
    civ_h5_read_attr_f64(f, "population_scale", &ri->scale);
    civ_h5_read_attr_u64(f, "n_agents", &ri->agents);
    civ_h5_read_attr_u64(f, "seed", &ri->seed);
    int64_t done = 0;
    civ_h5_read_attr_i64(f, "steps_completed", &done);
    ri->steps = (int)done;
    if (H5Lexists(f, "llm", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(f, "llm", H5P_DEFAULT);
        ri->mode = civ_h5_read_attr_string(g, "mode");
        H5Gclose(g);
    }
    if (!ri->mode) ri->mode = strdup("heuristic");
    /* a damaged file may lack any of them: named as unknown rather than read as text */
    if (!ri->name) ri->name = strdup("?");
    if (!ri->status) ri->status = strdup("?");
    char *cfg = civ_h5_read_attr_string(f, "config_json");
    H5Fclose(f);
    if (!(ri->scale > 0) || ri->scale > 1) ri->scale = 1;
    if (!ri->start || !civ_date_parse(ri->start, &ri->start_day)) {
        free(cfg);
        return civ_fail(err, CIV_ERR_INPUT, "%s: attribute 'start_date' is missing or not a date YYYY-MM-DD", path);
    }
    ri->config = cfg ? strdup(cfg) : NULL;
    /* LAUS beside the observed data or in the population's data directory */
    cJSON *j = cfg ? cJSON_Parse(cfg) : NULL;
    free(cfg);
    cJSON *study = j ? cJSON_GetObjectItemCaseSensitive(j, "study") : NULL;
    cJSON *obs = study ? cJSON_GetObjectItemCaseSensitive(study, "observed") : NULL;
    cJSON *of = obs ? cJSON_GetObjectItemCaseSensitive(obs, "file") : NULL;
    ri->scenario = cJSON_IsTrue(study ? cJSON_GetObjectItemCaseSensitive(study, "scenario") : NULL);
    hid_t f2 = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *study_file = f2 >= 0 ? civ_h5_read_attr_string(f2, "study_file") : NULL;
    if (f2 >= 0) H5Fclose(f2);
    ri->laus_path = find_laus(cJSON_IsString(of) ? of->valuestring : NULL, study_file, data_dir);
    free(study_file);
    cJSON_Delete(j);
    return CIV_OK;
}

static void free_run(run_info *ri)
{
    free(ri->path); free(ri->name); free(ri->status); free(ri->mode); free(ri->start); free(ri->laus_path); free(ri->config);
}

/* LAUS monthly unemployment rate (%) per borough for each simulated day's month; NAN when absent. */
static civ_status laus_daily(const run_info *ri, double *out /* [6][steps] */, civ_error *err)
{
    for (int k = 0; k < 6 * ri->steps; k++) out[k] = NAN;
    if (!ri->laus_path) return civ_fail(err, CIV_ERR_INPUT, "%s: cannot locate nyc_laus_monthly_by_borough.csv beside "
                                        "the study's observed data file or in the data folder (--data DIR)", ri->path);
    civ_csv csv;
    civ_status st = civ_csv_read(ri->laus_path, &csv, err);
    if (st) return st;
    int cb, cy, cm, cl, cu;
    if ((st = civ_csv_col(&csv, "borough", &cb, err)) || (st = civ_csv_col(&csv, "year", &cy, err)) ||
        (st = civ_csv_col(&csv, "month", &cm, err)) || (st = civ_csv_col(&csv, "labor_force", &cl, err)) ||
        (st = civ_csv_col(&csv, "unemployed", &cu, err))) { civ_csv_free(&csv); return st; }
    for (int t = 0; t < ri->steps; t++) {
        int y, m, d;
        civ_date_ymd(ri->start_day + t, &y, &m, &d);
        double lf_city = 0, un_city = 0;
        for (int r = 0; r < csv.nrows; r++) {
            if (atoi(csv.cells[r][cy]) != y || atoi(csv.cells[r][cm]) != m) continue;
            int b = civ_borough_index(csv.cells[r][cb]);
            if (b < 0) continue;
            double lf = atof(csv.cells[r][cl]), un = atof(csv.cells[r][cu]);
            out[(1 + b) * ri->steps + t] = lf > 0 ? 100.0 * un / lf : NAN;
            lf_city += lf; un_city += un;
        }
        if (lf_city > 0) out[t] = 100.0 * un_city / lf_city;
    }
    civ_csv_free(&csv);
    return CIV_OK;
}

typedef struct {
    const char *key, *title, *sim_var, *obs_name, *unit, *unit_short;
} series_def;

static const series_def series[] = {
    {"cases", "Reported cases", "new_reported_cases", "cases", "per day, 7-day mean", "cases per day"},
    {"hospitalisations", "Hospital admissions", "new_hospitalisations", "hospitalized", "per day, 7-day mean",
     "admissions per day"},
    {"deaths", "Deaths", "new_deaths", "deaths", "per day, 7-day mean", "deaths per day"},
    {"unemployment", "Unemployment rate", NULL, NULL, "% of the labour force (simulated daily, LAUS monthly)",
     "% of the labour force"},
};
#define N_SERIES 4

static void error_row(civ_doc *d, const char *who, const char *window, civ_errors e)
{
    char n[16], mae[32], rmse[32], nd[32], r[32];
    snprintf(n, sizeof n, "%d", e.n);
    snprintf(mae, sizeof mae, "%.3g", e.mae);
    snprintf(rmse, sizeof rmse, "%.3g", e.rmse);
    snprintf(nd, sizeof nd, "%.3g", e.nd);
    snprintf(r, sizeof r, "%.3f", e.r);
    const char *cells[7] = {who, window, n, mae, rmse, nd, r};
    civ_doc_table_row(d, cells);
}

/* one figure: the run's series per area against the observed one */
typedef struct {
    const run_info *r;
    const series_def *sd;
    double *sim, *obs;   /* [area][t] */
    int holdout;
} run_figure;

static civ_status draw_run_figure(FILE *out, void *arg, civ_error *err)
{
    (void)err;
    const run_figure *f = arg;
    const char *ylab[3], *titles[CIV_N_AREAS];
    for (int c = 0; c < 3; c++) ylab[c] = f->sd->unit_short;
    for (int a = 0; a < CIV_N_AREAS; a++) titles[a] = civ_area_names[a];
    char title[400], sub[400], scale_text[200], marker[40], hd[11];
    civ_scale_statement(f->r->scale, scale_text, sizeof scale_text);
    snprintf(title, sizeof title, "%s: %s, simulated%s (%s behaviour)", f->r->name, f->sd->title,
             f->r->scenario ? " scenario, observed for reference" : " vs observed", f->r->mode);
    snprintf(sub, sizeof sub, "%s; %s", f->sd->unit, f->sd->sim_var ? scale_text : "LAUS: monthly rates");
    civ_date_format(f->r->start_day + f->holdout, hd);
    snprintf(marker, sizeof marker, "held out from %s", hd);
    civ_mark marks[2] = {{CIV_MARK_LINE, f->r->scenario ? "simulated scenario" : "simulated", "#1f5fbf", "", f->sim, NULL, NULL},
                         {CIV_MARK_LINE, f->sd->sim_var ? "observed (NYC DOHMH)" : "observed (NYS DOL LAUS)", "#111111",
                          "5 3", f->obs, NULL, NULL}};
    civ_chart c = {title, sub, 2, 3, NULL, NULL, ylab, f->r->steps, f->r->start_day, false,
                   f->holdout < f->r->steps ? f->holdout : -1, marker, 2, marks, NULL, titles};
    civ_chart_svg(out, &c);
    return CIV_OK;
}

static civ_status run_report(const civ_report_options *o, civ_error *err)
{
    bool made_dir = false;
    if (civ_doc_make_dir(o->out_dir, &made_dir, err)) return err->status;
    run_info *ri = civ_xcalloc((size_t)o->n_runs, sizeof *ri);
    civ_status st = CIV_OK;
    civ_doc doc;
    bool doc_open = false;
    for (int k = 0; k < o->n_runs && !st; k++) {
        st = run_meta(o->runs[k], o->data_dir, &ri[k], err);
        if (!st && ri[k].steps < 14)
            st = civ_fail(err, CIV_ERR_INPUT, "%s: %d completed days; a report needs at least 14", o->runs[k], ri[k].steps);
    }
    if (!st && (o->from || o->to))
        st = civ_fail(err, CIV_ERR_USAGE, "--from and --to choose the window of an ensemble's outcome tables; a report "
                      "of run files compares whole runs");
    if (st) goto out;
    int holdout = -1;
    if ((st = civ_holdout_day(o->holdout_from, ri[0].config, ri[0].start_day, ri[0].steps, &holdout, NULL, err))) goto out;
    if (o->holdout_from && holdout <= 7) {
        char a[11], b[11];
        civ_date_format(ri[0].start_day + 8, a);
        civ_date_format(ri[0].start_day + ri[0].steps - 1, b);
        st = civ_fail(err, CIV_ERR_INPUT, "--holdout-from %s is outside %s's dates (%s to %s)", o->holdout_from, o->runs[0], a, b);
        goto out;
    }
    if (holdout < 0) holdout = ri[0].steps - 28;
    if (holdout < 7) holdout = ri[0].steps;   /* short run: everything is the fitted window */

    if ((st = civ_doc_open(&doc, o->out_dir, "civitas validation report", err))) goto out;
    doc_open = true;
    char hd[11];
    civ_date_format(ri[0].start_day + holdout, hd);
    civ_doc_heading(&doc, 2, "overview", "Runs and method");
    civ_doc_para(&doc, "Simulated series against observed data: NYC DOHMH daily cases, hospital admissions and deaths by "
                 "borough (2025 revision, by date of event) and NYS DOL LAUS monthly unemployment. Simulated counts are "
                 "in real-city units (divided by the run's population scale) and compared with the observed counts. "
                 "Daily series are 7-day trailing means. Windows: **fitted** = from the start to the day before %s, "
                 "**held-out** = from %s on.", hd, hd);
    civ_doc_para(&doc, "Metrics: MAE and RMSE in the series' units; ND (normalised deviation) = sum |sim - obs| / sum |obs|; "
                 "r = Pearson correlation; n = days (months for unemployment) compared. A run whose study is marked "
                 "`\"scenario\": true` (a counterfactual) describes what did not happen: it is drawn with the observed "
                 "series for reference but not scored against them.");
    {
        static const char *const head[9] = {"run", "file", "study", "behaviour", "status", "agents", "scale", "seed", "days"};
        civ_doc_table_start(&doc, 9, head);
        for (int k = 0; k < o->n_runs; k++) {
            char num[16], agents[32], scale[32], seed[32], days[64], study[300];
            const char *slash = strrchr(ri[k].path, '/');
            snprintf(num, sizeof num, "%d", k + 1);
            snprintf(agents, sizeof agents, "%llu", (unsigned long long)ri[k].agents);
            snprintf(scale, sizeof scale, "%g", ri[k].scale);
            snprintf(seed, sizeof seed, "%llu", (unsigned long long)ri[k].seed);
            snprintf(days, sizeof days, "%d from %s", ri[k].steps, ri[k].start);
            snprintf(study, sizeof study, "%s%s", ri[k].name, ri[k].scenario ? " (scenario)" : "");
            const char *cells[9] = {num, slash ? slash + 1 : ri[k].path, study, ri[k].mode, ri[k].status, agents, scale, seed, days};
            civ_doc_table_row(&doc, cells);
        }
        civ_doc_table_end(&doc);
    }

    /* summary rows (city) for the comparison table, filled as we go */
    enum { MAX_SUMMARY = 4096 };
    char (*summary)[9][48] = civ_xcalloc(MAX_SUMMARY, sizeof *summary);
    int n_summary = 0;
    for (int q = 0; q < N_SERIES && !st; q++) {
        char title[200];
        snprintf(title, sizeof title, "%s (%s)", series[q].title, series[q].unit);
        civ_doc_heading(&doc, 2, series[q].key, title);
        for (int k = 0; k < o->n_runs && !st; k++) {
            const run_info *r = &ri[k];
            const int T = r->steps;
            double *sim = civ_xcalloc((size_t)6 * T, sizeof(double)), *obs = civ_xcalloc((size_t)6 * T, sizeof(double));
            if (series[q].sim_var) {
                int *s = NULL, *ob = NULL, steps = 0;
                if ((st = civ_read_borough_series(r->path, series[q].sim_var, &s, &steps, err)) ||
                    (st = civ_read_observed(r->path, series[q].obs_name, T, &ob, err))) { free(s); free(sim); free(obs); break; }
                int *city = civ_xcalloc((size_t)T, sizeof(int)), *ocity = civ_xcalloc((size_t)T, sizeof(int));
                for (int t = 0; t < T; t++)
                    for (int b = 0; b < CIV_NBOROUGH; b++) { city[t] += s[t * CIV_NBOROUGH + b]; ocity[t] += ob[t * CIV_NBOROUGH + b]; }
                civ_smooth7(city, T, 1, 0, 1.0 / r->scale, sim);
                civ_smooth7(ocity, T, 1, 0, 1.0, obs);
                for (int b = 0; b < CIV_NBOROUGH; b++) {
                    civ_smooth7(s, T, CIV_NBOROUGH, b, 1.0 / r->scale, sim + (size_t)(b + 1) * T);
                    civ_smooth7(ob, T, CIV_NBOROUGH, b, 1.0, obs + (size_t)(b + 1) * T);
                }
                free(s); free(ob); free(city); free(ocity);
            } else {
                int *emp = NULL, *un = NULL, steps = 0;
                if ((st = civ_read_borough_series(r->path, "employed", &emp, &steps, err)) ||
                    (st = civ_read_borough_series(r->path, "unemployed", &un, &steps, err)) ||
                    (st = laus_daily(r, obs, err))) { free(emp); free(un); free(sim); free(obs); break; }
                for (int t = 0; t < T; t++) {
                    double e0 = 0, u0 = 0;
                    for (int b = 0; b < CIV_NBOROUGH; b++) {
                        double e = emp[t * CIV_NBOROUGH + b], u = un[t * CIV_NBOROUGH + b];
                        sim[(size_t)(b + 1) * T + t] = e + u > 0 ? 100.0 * u / (e + u) : NAN;
                        e0 += e; u0 += u;
                    }
                    sim[t] = e0 + u0 > 0 ? 100.0 * u0 / (e0 + u0) : NAN;
                }
                free(emp); free(un);
            }
            char fname[256], caption[400];
            snprintf(fname, sizeof fname, "run%d_%s.svg", k + 1, series[q].key);
            snprintf(caption, sizeof caption, "%s, run %d (%s%s)", series[q].title, k + 1, r->name, r->scenario ? ", scenario" : "");
            run_figure fig = {r, &series[q], sim, obs, holdout};
            if ((st = civ_doc_figure(&doc, fname, caption, draw_run_figure, &fig, err))) { free(sim); free(obs); break; }
            if (r->scenario) {
                civ_doc_para(&doc, "Run %d is a **scenario** (%s): what might have happened, not what did; it is not "
                             "scored against the observed series.", k + 1, r->name);
                free(sim); free(obs);
                continue;
            }
            /* errors: per borough on daily values, or on monthly means for unemployment */
            char head0[32];
            snprintf(head0, sizeof head0, "run %d: area", k + 1);
            const char *head[7] = {head0, "window", "n", "MAE", "RMSE", "ND", "r"};
            civ_doc_table_start(&doc, 7, head);
            const int windows[2][2] = {{0, holdout < T ? holdout : T}, {holdout, T}};
            static const char *const wname[2] = {"fitted", "held-out"};
            for (int p = 0; p < 6; p++) {
                double *sv = sim + (size_t)p * T, *ov = obs + (size_t)p * T;
                double msim[64], mobs[64];
                int nm = 0, mstart[65];
                if (q == 3) {   /* monthly means of the daily simulated rate against LAUS months */
                    int prev_m = -1;
                    for (int t = 0; t < T; t++) {
                        int y, m, d;
                        civ_date_ymd(r->start_day + t, &y, &m, &d);
                        if (m != prev_m && nm < 64) { mstart[nm++] = t; prev_m = m; }
                    }
                    mstart[nm] = T;
                }
                for (int w = 0; w < 2; w++) {
                    int t0 = windows[w][0], t1 = windows[w][1];
                    if (t1 <= t0) continue;
                    civ_errors e;
                    if (q < 3) e = civ_error_metrics(sv, ov, t0, t1);
                    else {
                        int n = 0;
                        for (int mo = 0; mo < nm; mo++) {
                            int a = mstart[mo] > t0 ? mstart[mo] : t0, b = mstart[mo + 1] < t1 ? mstart[mo + 1] : t1;
                            if (b - a < 15) continue;   /* months with at least 15 days in the window */
                            double s = 0; int c = 0;
                            for (int t = a; t < b; t++) if (!isnan(sv[t])) { s += sv[t]; c++; }
                            msim[n] = c ? s / c : NAN;
                            mobs[n] = ov[a];
                            n++;
                        }
                        e = civ_error_metrics(msim, mobs, 0, n);
                    }
                    error_row(&doc, civ_area_names[p], wname[w], e);
                    if (p == 0 && n_summary < MAX_SUMMARY) {
                        char (*row)[48] = summary[n_summary++];
                        snprintf(row[0], 48, "%d", k + 1);
                        snprintf(row[1], 48, "%s", r->mode);
                        snprintf(row[2], 48, "%s", series[q].title);
                        snprintf(row[3], 48, "%s", wname[w]);
                        snprintf(row[4], 48, "%d", e.n);
                        snprintf(row[5], 48, "%.3g", e.mae);
                        snprintf(row[6], 48, "%.3g", e.rmse);
                        snprintf(row[7], 48, "%.3g", e.nd);
                        snprintf(row[8], 48, "%.3f", e.r);
                    }
                }
            }
            civ_doc_table_end(&doc);
            free(sim); free(obs);
        }
    }
    if (!st) {
        civ_doc_heading(&doc, 2, "comparison", "Comparison of runs (New York City)");
        static const char *const head[9] = {"run", "behaviour", "series", "window", "n", "MAE", "RMSE", "ND", "r"};
        civ_doc_table_start(&doc, 9, head);
        for (int k = 0; k < n_summary; k++) {
            const char *cells[9];
            for (int c = 0; c < 9; c++) cells[c] = summary[k][c];
            civ_doc_table_row(&doc, cells);
        }
        civ_doc_table_end(&doc);
        civ_doc_para(&doc, "Generated by `civitas report`. Observed data: see data/README.md in the civitas sources for "
                     "provenance.");
    }
    free(summary);
out:
    if (doc_open) st = civ_doc_close(&doc, st == CIV_OK, err) ? err->status : st;
    if (st && made_dir) rmdir(o->out_dir);   /* only if it is empty, i.e. holds nothing of the user's */
    for (int k = 0; k < o->n_runs; k++) free_run(&ri[k]);
    free(ri);
    return st;
}

civ_status civ_report(const civ_report_options *o, civ_error *err)
{
    int ensembles = 0;
    for (int k = 0; k < o->n_runs; k++) ensembles += civ_is_ensemble_file(o->runs[k]);
    if (ensembles && o->n_runs > 1)
        return civ_fail(err, CIV_ERR_USAGE, "a report takes one ensemble file (its studies are compared within it) or "
                        "run files, not both or several ensembles");
    return ensembles ? civ_ens_report(o, err) : run_report(o, err);
}
