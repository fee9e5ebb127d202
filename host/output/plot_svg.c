/* `civitas plot` for a run file: one row per area (the city, each borough), one column per series
 * (infections, reported cases, hospital admissions, deaths, people unemployed), simulated counts in
 * real-city units (divided by the population scale) against the observed DOHMH series, each panel on
 * its own axis so that infections do not flatten the reported series. Ensemble files go to
 * ensemble_plot.c. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/output/info.h"
#include "host/output/plot.h"
#include "host/output/svg_chart.h"
#include "host/output/units.h"
#include "host/population/population.h"
#include "host/util/date.h"
#include "host/util/file.h"
#include "host/util/interrupt.h"
#include "host/util/h5_util.h"

const civ_plot_column civ_plot_columns[CIV_PLOT_COLS] = {
    {"new_infections", -1, "infections", "infections per day", true},
    {"new_reported_cases", 0, "reported cases", "cases per day", true},
    {"new_hospitalisations", 1, "hospital admissions", "admissions per day", true},
    {"new_deaths", 2, "deaths", "deaths per day", true},
    {"unemployed", -1, "unemployed", "people unemployed", false},
};

const char *const civ_area_names[CIV_N_AREAS] = {"New York City", "Bronx", "Brooklyn", "Manhattan", "Queens",
                                                 "Staten Island"};

static const char *const observed_names[3] = {"cases", "hospitalized", "deaths"};

void civ_smooth7(const int *in, int steps, int stride, int col, double scale, double *out)
{
    for (int t = 0; t < steps; t++) {
        double s = 0;
        int n = 0;
        for (int k = t - 6; k <= t; k++) if (k >= 0) { s += in[k * stride + col]; n++; }
        out[t] = scale * s / n;
    }
}

/* v[(area * cols + col) * steps + t] from in[t][borough], city first; smoothed for daily counts */
static void fill_column(double *v, int col, int steps, const int *in, bool smooth, double factor)
{
    int *city = civ_xcalloc((size_t)steps + 1, sizeof(int));
    for (int t = 0; t < steps; t++)
        for (int b = 0; b < CIV_NBOROUGH; b++) city[t] += in[t * CIV_NBOROUGH + b];
    for (int a = 0; a < CIV_N_AREAS; a++) {
        double *out = v + ((size_t)a * CIV_PLOT_COLS + col) * steps;
        const int *src = a ? in : city, stride = a ? CIV_NBOROUGH : 1, c = a ? a - 1 : 0;
        if (smooth) civ_smooth7(src, steps, stride, c, factor, out);
        else for (int t = 0; t < steps; t++) out[t] = factor * src[t * stride + c];
    }
    free(city);
}

static civ_status plot_run(const civ_plot_options *o, civ_error *err)
{
    const char *path = o->input;
    int steps = 0;
    int *series[CIV_PLOT_COLS] = {0};
    civ_status st = CIV_OK;
    for (int c = 0; c < CIV_PLOT_COLS && !st; c++) st = civ_read_borough_series(path, civ_plot_columns[c].var, &series[c], &steps, err);
    if (!st && steps < 1) st = civ_fail(err, CIV_ERR_INPUT, "%s: the run has no completed steps to plot", path);
    if (st) {
        for (int c = 0; c < CIV_PLOT_COLS; c++) free(series[c]);
        return st;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *start = civ_h5_read_attr_string(f, "start_date"), *study = civ_h5_read_attr_string(f, "study");
    char *status = civ_h5_read_attr_string(f, "status"), *cfg = civ_h5_read_attr_string(f, "config_json");
    double scale = 1;
    civ_h5_read_attr_f64(f, "population_scale", &scale);
    if (!(scale > 0) || scale > 1) scale = 1;
    const int has_observed = H5Lexists(f, "observed", H5P_DEFAULT) > 0;
    H5Fclose(f);
    int start_day = 0, holdout = -1;
    if (!start || !civ_date_parse(start, &start_day))
        st = civ_fail(err, CIV_ERR_INPUT, "%s: attribute 'start_date' is missing or not a date YYYY-MM-DD", path);
    if (!st) st = civ_holdout_day(o->holdout_from, cfg, start_day, steps, &holdout, NULL, err);
    int *obs[3] = {0};
    int have_obs = 0;
    if (!st && o->show_observed && has_observed) {
        civ_error why = {0};   /* observed data are optional on plots */
        have_obs = 1;
        for (int k = 0; k < 3 && have_obs; k++) have_obs = civ_read_observed(path, observed_names[k], steps, &obs[k], &why) == CIV_OK;
        if (!have_obs) fprintf(stderr, "civitas: warning: observed data left off the plot: %s\n", why.msg);
    }
    const size_t n = (size_t)CIV_N_AREAS * CIV_PLOT_COLS * steps;
    double *sim = civ_xmalloc(n * sizeof(double)), *ob = civ_xmalloc(n * sizeof(double));
    for (size_t k = 0; k < n; k++) ob[k] = NAN;
    for (int c = 0; c < CIV_PLOT_COLS && !st; c++) {
        fill_column(sim, c, steps, series[c], civ_plot_columns[c].flow, 1 / scale);
        if (have_obs && civ_plot_columns[c].observed >= 0) fill_column(ob, c, steps, obs[civ_plot_columns[c].observed], true, 1);
    }
    if (!st) {
        const char *cols[CIV_PLOT_COLS], *ylab[CIV_PLOT_COLS];
        for (int c = 0; c < CIV_PLOT_COLS; c++) { cols[c] = civ_plot_columns[c].name; ylab[c] = civ_plot_columns[c].y_label; }
        civ_mark marks[2] = {{CIV_MARK_LINE, "simulated (real-city units)", "#1f5fbf", "", sim, NULL, NULL},
                             {CIV_MARK_LINE, "observed (NYC DOHMH)", "#111111", "5 3", ob, NULL, NULL}};
        char title[300], sub[400], scale_text[200], hd[11] = "";
        civ_scale_statement(scale, scale_text, sizeof scale_text);
        snprintf(title, sizeof title, "civitas run: %s (%s)", study ? study : "?", status ? status : "?");
        snprintf(sub, sizeof sub, "Daily counts as 7-day trailing means, unemployed on the day; %s", scale_text);
        if (holdout >= 0) civ_date_format(start_day + holdout, hd);
        char marker[40];
        snprintf(marker, sizeof marker, "held out from %s", hd);
        civ_chart chart = {title, sub, CIV_N_AREAS, CIV_PLOT_COLS, civ_area_names, cols, ylab, steps, start_day, o->log_y,
                           holdout, marker, have_obs ? 2 : 1, marks,
                           have_obs ? "observed: NYC DOHMH daily counts by borough (2025 revision, by date of event)" : NULL,
                           NULL};
        st = civ_chart_write(o->svg_path, &chart, err);
    }
    free(sim); free(ob);
    for (int c = 0; c < CIV_PLOT_COLS; c++) free(series[c]);
    for (int k = 0; k < 3; k++) free(obs[k]);
    free(start); free(study); free(status); free(cfg);
    return st;
}

static civ_status plot_ensemble(const civ_plot_options *o, civ_error *err)
{
    civ_ens e;
    civ_status st = civ_ens_open(o->input, &e, err);
    if (st) return st;
    int holdout = -1;
    if (!(st = civ_holdout_day(o->holdout_from, e.config[0], e.start_day, e.steps, &holdout, NULL, err))) {
        civ_output file;
        FILE *out = civ_output_open_text(&file, o->svg_path, err);
        if (!out) st = err->status;
        else if ((st = civ_ens_chart(&e, o->show_observed, o->log_y, holdout, out, err))) civ_output_abandon(&file);
        else if (civ_interrupted) {
            civ_output_abandon(&file);
            st = civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", o->svg_path);
        } else st = civ_output_commit(&file, err);
    }
    civ_ens_free(&e);
    return st;
}

civ_status civ_plot(const civ_plot_options *o, civ_error *err)
{
    return civ_is_ensemble_file(o->input) ? plot_ensemble(o, err) : plot_run(o, err);
}
