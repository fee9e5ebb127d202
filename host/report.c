#include "report.h"

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

#include "csv.h"
#include "date.h"
#include "file.h"
#include "h5_util.h"
#include "info.h"
#include "population.h"
#include "trajectory.h"

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
    char *path, *name, *status, *mode, *start;
    int steps, start_day;
    double scale;
    uint64_t agents, seed;
    char *laus_path;
} run_info;

static civ_status run_meta(const char *path, run_info *ri, civ_error *err)
{
    memset(ri, 0, sizeof *ri);
    civ_h5_quiet();
    if (H5Fis_hdf5(path) <= 0) return civ_fail(err, CIV_ERR_INPUT, "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
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
    char *cfg = civ_h5_read_attr_string(f, "config_json");
    H5Fclose(f);
    if (!ri->start || !civ_date_parse(ri->start, &ri->start_day)) {
        free(cfg);
        return civ_fail(err, CIV_ERR_INPUT, "%s: attribute 'start_date' is missing or not a date YYYY-MM-DD", path);
    }
    /* LAUS beside the observed data or in the population's data directory */
    cJSON *j = cfg ? cJSON_Parse(cfg) : NULL;
    free(cfg);
    cJSON *study = j ? cJSON_GetObjectItemCaseSensitive(j, "study") : NULL;
    cJSON *obs = study ? cJSON_GetObjectItemCaseSensitive(study, "observed") : NULL;
    cJSON *of = obs ? cJSON_GetObjectItemCaseSensitive(obs, "file") : NULL;
    if (cJSON_IsString(of)) {
        char *copy = strdup(of->valuestring);
        size_t n = strlen(copy) + 64;
        ri->laus_path = civ_xmalloc(n);
        snprintf(ri->laus_path, n, "%s/nyc_laus_monthly_by_borough.csv", dirname(copy));
        free(copy);
    }
    cJSON_Delete(j);
    return CIV_OK;
}

static void free_run(run_info *ri)
{
    free(ri->path); free(ri->name); free(ri->status); free(ri->mode); free(ri->start); free(ri->laus_path);
}

/* LAUS monthly unemployment rate (%) per borough for each simulated day's month; NAN when absent. */
static civ_status laus_daily(const run_info *ri, double *out /* [6][steps] */, civ_error *err)
{
    for (int k = 0; k < 6 * ri->steps; k++) out[k] = NAN;
    if (!ri->laus_path) return civ_fail(err, CIV_ERR_INPUT, "%s: cannot locate nyc_laus_monthly_by_borough.csv "
                                        "(expected beside the study's observed data file)", ri->path);
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
    const char *key, *title, *sim_var, *obs_name, *unit;
} series_def;

static const series_def series[] = {
    {"cases", "Reported cases", "new_reported_cases", "cases", "per day, 7-day mean"},
    {"hospitalisations", "Hospital admissions", "new_hospitalisations", "hospitalized", "per day, 7-day mean"},
    {"deaths", "Deaths", "new_deaths", "deaths", "per day, 7-day mean"},
    {"unemployment", "Unemployment rate", NULL, NULL, "% of the labour force (simulated daily, LAUS monthly)"},
};
#define N_SERIES 4

static void write_row(FILE *md, const char *who, const char *window, civ_errors e)
{
    fprintf(md, "| %s | %s | %d | %.3g | %.3g | %.3g | %.3f |\n", who, window, e.n, e.mae, e.rmse, e.nd, e.r);
}

civ_status civ_report(const civ_report_options *o, civ_error *err)
{
    const bool made_dir = mkdir(o->out_dir, 0777) == 0;
    if (!made_dir && errno != EEXIST)
        return civ_fail(err, CIV_ERR_IO, "%s: cannot create report directory: %m", o->out_dir);
    run_info *ri = civ_xcalloc((size_t)o->n_runs, sizeof *ri);
    /* the plots written so far, removed again if the report fails: no half report is left behind */
    char **written = civ_xcalloc((size_t)o->n_runs * N_SERIES + 1, sizeof(char *));
    int n_written = 0;
    civ_status st = CIV_OK;
    for (int k = 0; k < o->n_runs && !st; k++) {
        st = run_meta(o->runs[k], &ri[k], err);
        if (!st && ri[k].steps < 14)
            st = civ_fail(err, CIV_ERR_INPUT, "%s: %d completed days; a report needs at least 14", o->runs[k], ri[k].steps);
    }
    if (st) goto out;
    int holdout = ri[0].steps - 28;
    if (o->holdout_from) {
        int d;
        if (!civ_date_parse(o->holdout_from, &d))
            { st = civ_fail(err, CIV_ERR_USAGE, "--holdout-from '%s': expected YYYY-MM-DD", o->holdout_from); goto out; }
        holdout = d - ri[0].start_day;
        if (holdout <= 7 || holdout >= ri[0].steps) {
            char a[11], b[11];
            civ_date_format(ri[0].start_day + 8, a);
            civ_date_format(ri[0].start_day + ri[0].steps - 1, b);
            st = civ_fail(err, CIV_ERR_INPUT, "--holdout-from %s is outside %s's dates (%s to %s)", o->holdout_from, o->runs[0], a, b);
            goto out;
        }
    }
    if (holdout < 7) holdout = ri[0].steps;   /* short run: everything is the fitted window */

    char mdpath[4096], mdtmp[4200];
    snprintf(mdpath, sizeof mdpath, "%s/report.md", o->out_dir);
    FILE *md = civ_partial_open(mdpath, mdtmp, sizeof mdtmp);   /* report.md once complete */
    if (!md) { st = civ_fail(err, CIV_ERR_IO, "%s: cannot write: %m", mdpath); goto out; }
    char hd[11];
    civ_date_format(ri[0].start_day + holdout, hd);
    fprintf(md, "# civitas validation report\n\n");
    fprintf(md, "Simulated series against observed data: NYC DOHMH daily cases, hospital admissions and deaths by "
                "borough (2025 revision, by date of event) and NYS DOL LAUS monthly unemployment. Simulated counts "
                "are compared with observed counts multiplied by the run's population scale. Daily series are "
                "7-day trailing means. Windows: **fitted** = from the start to the day before %s, **held-out** = "
                "from %s on.\n\n", hd, hd);
    fprintf(md, "Metrics: MAE and RMSE in the series' units; ND (normalised deviation) = sum |sim - obs| / sum |obs|; "
                "r = Pearson correlation; n = days (months for unemployment) compared.\n\n");
    fprintf(md, "| run | study | behaviour | status | agents | scale | seed | days |\n|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < o->n_runs; k++)
        fprintf(md, "| %s | %s | %s | %s | %llu | %g | %llu | %d from %s |\n", ri[k].path, ri[k].name, ri[k].mode,
                ri[k].status, (unsigned long long)ri[k].agents, ri[k].scale, (unsigned long long)ri[k].seed, ri[k].steps,
                ri[k].start);

    /* summary rows (city) for the comparison table, filled as we go */
    char *summary = civ_xcalloc(1, 1 << 16);
    size_t slen = 0;
    for (int q = 0; q < N_SERIES && !st; q++) {
        fprintf(md, "\n## %s (%s)\n\n", series[q].title, series[q].unit);
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
                civ_smooth7(city, T, 1, 0, 1.0, sim);
                civ_smooth7(ocity, T, 1, 0, r->scale, obs);
                for (int b = 0; b < CIV_NBOROUGH; b++) {
                    civ_smooth7(s, T, CIV_NBOROUGH, b, 1.0, sim + (size_t)(b + 1) * T);
                    civ_smooth7(ob, T, CIV_NBOROUGH, b, r->scale, obs + (size_t)(b + 1) * T);
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
            /* plot */
            char svg[4096], title[512], fname[256];
            snprintf(fname, sizeof fname, "run%d_%s.svg", k + 1, series[q].key);
            snprintf(svg, sizeof svg, "%s/%s", o->out_dir, fname);
            snprintf(title, sizeof title, "%s: %s, simulated vs observed (%s)", r->name, series[q].title, r->mode);
            civ_svg_line lines[2] = {{"simulated", "#1f5fbf", "", sim}, {"observed", "#111111", "4 3", obs}};
            written[n_written++] = strdup(svg);
            if ((st = civ_svg_panels(svg, title, T, r->start_day, 2, lines, q < 3 ? "observed x population scale" : "LAUS monthly", err))) {
                free(sim); free(obs); break;
            }
            fprintf(md, "\n![%s, run %d](%s)\n\n", series[q].title, k + 1, fname);
            /* errors: per borough on daily values, or on monthly means for unemployment */
            fprintf(md, "| run %d: area | window | n | MAE | RMSE | ND | r |\n|---|---|---|---|---|---|---|\n", k + 1);
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
                    write_row(md, p ? civ_borough_name[p - 1] : "New York City", wname[w], e);
                    if (p == 0 && slen < (1 << 16) - 512)
                        slen += (size_t)snprintf(summary + slen, (1 << 16) - slen, "| %d | %s | %s | %s | %d | %.3g | %.3g | %.3g | %.3f |\n",
                                                 k + 1, r->mode, series[q].title, wname[w], e.n, e.mae, e.rmse, e.nd, e.r);
                }
            }
            free(sim); free(obs);
        }
    }
    if (!st) {
        fprintf(md, "\n## Comparison of runs (New York City)\n\n| run | behaviour | series | window | n | MAE | RMSE | ND | r |\n"
                    "|---|---|---|---|---|---|---|---|---|\n%s", summary);
        fprintf(md, "\nGenerated by `civitas report`. Observed data: see data/README.md for provenance.\n");
    }
    free(summary);
    if (st) civ_partial_discard(md, mdtmp);
    else if (civ_partial_commit(md, mdtmp, mdpath) != 0) st = civ_fail(err, CIV_ERR_IO, "%s: cannot write: %m", mdpath);
out:
    for (int k = 0; k < n_written; k++) {
        if (st) remove(written[k]);
        free(written[k]);
    }
    free(written);
    if (st && made_dir) rmdir(o->out_dir);   /* only if it is empty, i.e. holds nothing of the user's */
    for (int k = 0; k < o->n_runs; k++) free_run(&ri[k]);
    free(ri);
    return st;
}
